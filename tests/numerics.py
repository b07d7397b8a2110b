"""The one relative-error measure of the test suite and the tolerance of float64 comparisons.

Import it from any test as ``from numerics import rel_err, FLOAT64_RTOL`` (``tests/`` is on
``sys.path`` because pytest inserts the rootdir of ``tests/conftest.py``).
"""
import numpy as np

#: Relative tolerance of float64 comparisons with golden numbers (computed by the legacy code) or
#: with numpy oracles. The port reproduces them to 1e-16 .. 1e-12 (each test module states its
#: measured worst error), so 1e-10 leaves two orders of magnitude for another BLAS or summation
#: order, while any change of formula, of an epsilon or a float32 round trip (~1e-7) fails.
FLOAT64_RTOL = 1e-10


def rel_err(actual, expected):
    """The largest absolute difference relative to the largest magnitude of ``expected``.

    ``max|actual - expected| / max|expected|`` (the relative error in the max norm), in float64;
    the shapes must agree. Equal arrays (zeros included) give 0; a NaN in either gives NaN, so
    ``rel_err(a, b) < tol`` fails.

    >>> rel_err([1.0, 2.0, 4.5], [1.0, 2.0, 4.0])
    0.125
    """
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    if np.isnan(actual).any() or np.isnan(expected).any():
        return float("nan")
    diff = np.max(np.abs(actual - expected), initial=0.0)
    if diff == 0:
        return 0.0
    scale = np.max(np.abs(expected))
    return float(diff / scale) if scale > 0 else float("inf")
