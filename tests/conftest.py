"""Shared test fixtures.

Golden arrays (numbers computed by the legacy code) live in ``tests/golden/`` so the tests run
without ``../shared``.
"""
import os
from pathlib import Path

import numpy as np
import pytest

import cle  # noqa: F401  (applies the project's compile defaults)
from cle.backend import precision

GOLDEN_DIR = Path(__file__).parent / "golden"


def load_golden(name):
    """The golden .npz ``name`` (without suffix) from tests/golden, or skip with the reason."""
    path = GOLDEN_DIR / f"{name}.npz"
    if not path.exists():
        pytest.skip(f"golden file {path} is missing")
    return np.load(path, allow_pickle=False)


@pytest.fixture
def float64():
    """Build and compile the test's graphs in float64 (the golden files are float64)."""
    with precision("float64"):
        yield
