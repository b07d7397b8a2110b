"""Golden arrays (numbers computed by the legacy code), copied into ``tests/golden/`` so the tests
run without ``../shared``."""
from pathlib import Path

import numpy as np
import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"


def load_golden(name):
    """The golden .npz ``name`` (without suffix) from tests/golden, or skip with the reason."""
    path = GOLDEN_DIR / f"{name}.npz"
    if not path.exists():
        pytest.skip(f"golden file {path} is missing")
    return np.load(path, allow_pickle=False)
