"""Golden arrays: numbers computed by the legacy Theano code, committed in ``tests/golden/``
(``tests/golden/README.md`` says what each file holds)."""
from pathlib import Path

import numpy as np
import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"


def load_golden(name):
    """The golden .npz ``name`` (without suffix) from tests/golden.

    The files are part of the repository, so a missing one FAILS the test (a skip would hide
    that the comparison with the legacy numbers no longer runs).
    """
    path = GOLDEN_DIR / f"{name}.npz"
    if not path.exists():
        pytest.fail(f"golden file {path} is missing (it is committed in tests/golden/)", pytrace=False)
    return np.load(path, allow_pickle=False)


def golden_file(name):
    """The path of the golden file ``name`` (with its suffix) in tests/golden; a missing one FAILS
    the test, as in :func:`load_golden`."""
    path = GOLDEN_DIR / name
    if not path.exists():
        pytest.fail(f"golden file {path} is missing (it is committed in tests/golden/)", pytrace=False)
    return path
