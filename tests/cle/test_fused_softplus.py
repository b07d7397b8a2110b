"""cle.fused.softplus: softplus and its gradient against NumPy in float64 over the whole float32
range (a few ulp in float32, PyTensor's own formula to round-off in float64), special values, the
Python fallback, JAX mode, and the layers' 'softplus' unit using it."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import cle.backend as B
from cle.fused.softplus import SoftplusGrad, softplus
from cle.layers import get_unit

X = np.concatenate([np.linspace(-120, 120, 24001), np.exp(np.linspace(-40, 4.5, 2000)),
                    -np.exp(np.linspace(-40, 4.5, 2000))])[None, :]
SPECIAL = np.array([[0.0, np.inf, -np.inf, np.nan, -87.2, -87.4, 88.9, 1e-45, -1e-45]])


def reference(x):
    """softplus(x) and sigmoid(x) in float64."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.logaddexp(x, 0), np.exp(-np.logaddexp(-x, 0))


def compiled(dtype, mode="c"):
    x = pt.matrix("x", dtype=dtype)
    g = pt.matrix("g", dtype=dtype)
    with B.precision(dtype):
        return B.function([x, g], [softplus(x), SoftplusGrad()(x, g)], mode=mode)


@pytest.fixture(scope="module")
def c32():
    return compiled("float32")


def test_float32_is_within_a_few_ulp_over_the_float32_range(c32):
    x = X.astype(np.float32)
    out, sig = c32(x, np.ones_like(x))
    assert out.dtype == sig.dtype == np.float32
    expected_out, expected_sig = reference(x)
    for got, expected in ((out, expected_out), (sig, expected_sig)):
        normal = expected > np.finfo(np.float32).tiny
        np.testing.assert_allclose(got[normal], expected[normal], rtol=4e-7)
        assert np.all(np.abs(got[~normal] - expected[~normal]) <= np.finfo(np.float32).tiny)


def test_float32_special_values(c32):
    x = SPECIAL.astype(np.float32)
    out, sig = c32(x, np.ones_like(x))
    expected_out, expected_sig = reference(x)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected_out))
    np.testing.assert_allclose(out[~np.isnan(out)], expected_out[~np.isnan(out)], rtol=4e-7, atol=1.2e-38)
    np.testing.assert_allclose(sig[~np.isnan(sig)], expected_sig[~np.isnan(sig)], rtol=4e-7, atol=1.2e-38)
    assert out[0, 1] == np.inf and out[0, 2] == 0 and sig[0, 2] == 0


def test_float64_is_pytensors_softplus_and_its_gradient_to_round_off():
    x = pt.matrix("x", dtype="float64")
    ours = [softplus(x), pt.grad(pt.sum(softplus(x) * x), x)]
    theirs = [pt.softplus(x), pt.grad(pt.sum(pt.softplus(x) * x), x)]
    with B.precision("float64"):
        fn = B.function([x], ours + theirs, mode="c")
    got = fn(X)
    np.testing.assert_allclose(got[0], got[2], rtol=1e-15, atol=0)
    np.testing.assert_allclose(got[1], got[3], rtol=1e-14, atol=1e-15)   # sums that cancel near 0


def test_the_gradient_times_the_upstream_gradient(c32):
    x = np.linspace(-5, 5, 11, dtype=np.float32)[None, :]
    g = np.linspace(2, -3, 11, dtype=np.float32)[None, :]
    np.testing.assert_allclose(c32(x, g)[1], g * reference(x)[1], rtol=4e-7)


def test_the_python_fallback_and_jax_mode_match(jax_float64):
    x = pt.matrix("x", dtype="float64")
    g = pt.matrix("g", dtype="float64")
    fallback = pytensor.function([x, g], [softplus(x), SoftplusGrad()(x, g)], mode="FAST_COMPILE")
    expected = reference(X)
    for got, e in zip(fallback(X, np.ones_like(X)), expected):
        np.testing.assert_allclose(got, e, rtol=1e-13)
    xs = pt.tensor("x", dtype="float64", shape=X.shape)
    gs = pt.tensor("g", dtype="float64", shape=X.shape)
    with B.precision("float64"):
        jax_fn = B.function([xs, gs], [softplus(xs), SoftplusGrad()(xs, gs)], mode="jax")
    for got, e in zip(jax_fn(X, np.ones_like(X)), expected):
        np.testing.assert_allclose(got, e, rtol=1e-13)


def test_the_softplus_unit_of_the_layers_is_the_fused_op():
    out = get_unit("softplus")(pt.matrix("z"))
    assert out.owner.op is softplus
