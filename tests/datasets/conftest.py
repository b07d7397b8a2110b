"""Fixtures of the dataset tests (the corpus writers are in ``corpus_fixtures.py``)."""
import pytest
from corpus_fixtures import write_tiny_iamondb


@pytest.fixture
def tiny_iamondb(tmp_path):
    """A 4-form IAM-OnDB corpus (TINY_FORMS) with train (2 forms), valid and test split files."""
    return write_tiny_iamondb(tmp_path / "iam")
