"""Shared test fixtures (golden arrays: see ``golden_data.py``)."""
import pytest

import cle  # noqa: F401  (applies the project's compile defaults)
from cle.backend import precision


@pytest.fixture
def float64():
    """Build and compile the test's graphs in float64 (the golden files are float64)."""
    with precision("float64"):
        yield
