"""cle.fused.gmm: the fused GMM cost and its gradient against a NumPy/SciPy reference written here,
in C (float64 to round-off, float32 to single precision, special values as the formula gives
them), in the Python fallback, and in JAX mode; bad shapes are a clear error."""
import numpy as np
import pytensor.tensor as pt
import pytest
from scipy.special import logsumexp as sp_logsumexp

import cle.backend as B
from cle.fused.gmm import GMMNllGrad, gmm_nll

RNG = np.random.default_rng(3)
N, D, K = 9, 7, 5


def data(dtype, sig_low=0.2, sig_high=3.0, N=N, D=D, K=K):
    y = RNG.normal(size=(N, D))
    mu = RNG.normal(size=(N, D * K))
    sig = RNG.uniform(sig_low, sig_high, size=(N, D * K))
    coeff = RNG.dirichlet(np.ones(K), size=N)
    g = RNG.normal(size=N)
    return [v.astype(dtype) for v in (y, mu, sig, coeff, g)]


def reference(y, mu, sig, coeff, g):
    """nll (N,) and (dy, dmu, dsig, dcoeff) of sum(g * nll), in float64, from the formula."""
    y, mu, sig, coeff, g = (np.asarray(v, dtype=np.float64) for v in (y, mu, sig, coeff, g))
    (N, D), K = y.shape, coeff.shape[1]
    mu3, sig3 = mu.reshape(N, D, K), sig.reshape(N, D, K)
    with np.errstate(all="ignore"):
        u = (y[:, :, None] - mu3) / sig3
        a = np.log(coeff) - 0.5 * np.sum(u ** 2 + 2 * np.log(sig3) + np.log(2 * np.pi), axis=1)
        nll = -sp_logsumexp(a, axis=1)
        w = np.exp(a + nll[:, None])                       # softmax over k
        gw = g[:, None] * w
        dmu = gw[:, None, :] * -(y[:, :, None] - mu3) / sig3 ** 2
        dsig = gw[:, None, :] * (1 / sig3 - (y[:, :, None] - mu3) ** 2 / sig3 ** 3)
        dy = np.sum(gw[:, None, :] * (y[:, :, None] - mu3) / sig3 ** 2, axis=2)
        dcoeff = -gw / coeff
    return nll, [dy, dmu.reshape(N, D * K), dsig.reshape(N, D * K), dcoeff]


def compiled(dtype, mode):
    y, mu, sig, coeff = (pt.matrix(name, dtype=dtype) for name in ("y", "mu", "sig", "coeff"))
    g = pt.vector("g", dtype=dtype)
    if mode == "jax":
        y, mu, sig, coeff = (pt.tensor(v.name, dtype=dtype, shape=shape)
                             for v, shape in zip((y, mu, sig, coeff), [(N, D), (N, D * K), (N, D * K), (N, K)]))
        g = pt.tensor("g", dtype=dtype, shape=(N,))
    nll = gmm_nll(y, mu, sig, coeff)
    grads = list(GMMNllGrad()(y, mu, sig, coeff, g))
    with B.precision(dtype):
        return B.function([y, mu, sig, coeff, g], [nll] + grads, mode=mode)


def check(got, values, rtol, atol):
    nll, grads = reference(*values)
    np.testing.assert_allclose(got[0], nll, rtol=rtol, atol=atol)
    for g, e in zip(got[1:], grads):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def c64():
    return compiled("float64", "c")


@pytest.fixture(scope="module")
def c32():
    return compiled("float32", "c")


def test_float64_c_matches_the_formula_to_round_off(c64):
    values = data("float64")
    check(c64(*values), values, rtol=1e-12, atol=1e-12)


def test_float32_c_matches_the_formula_to_single_precision(c32):
    values = data("float32")
    got = c32(*values)
    assert all(v.dtype == np.float32 for v in got)
    check(got, values, rtol=2e-5, atol=2e-5)


#: (D, K) with the C code's blocks of M rows of d (M * K a multiple of 8), the last one shorter when
#: M does not divide D: one short block (D < M), whole blocks only, both, M = 1, 2, 4 and 8.
BLOCK_LAYOUTS = [(7, 5), (16, 5), (19, 3), (10, 20), (11, 20), (3, 8), (5, 8), (6, 12), (9, 6), (200, 20)]


@pytest.mark.parametrize("d, k", BLOCK_LAYOUTS)
def test_c_matches_the_formula_in_every_block_layout(c64, c32, d, k):
    values = data("float64", N=4, D=d, K=k)
    check(c64(*values), values, rtol=1e-12, atol=1e-12)
    values = data("float32", N=4, D=d, K=k)
    check(c32(*values), values, rtol=2e-5, atol=2e-5)


def test_float32_log_is_accurate_over_the_whole_float_range(c32):
    """sig from 1e-37 to 1e37 (the vectorised log's range); the nll grows to ~1e4, so single precision."""
    values = data("float32")
    values[2] = np.exp(RNG.uniform(np.log(1e-37), np.log(1e37), size=(N, D * K))).astype(np.float32)
    values[1] = values[0].repeat(K, axis=1)                    # mu = y: only the log sig terms remain
    nll, _ = reference(*values)
    np.testing.assert_allclose(c32(*values)[0], nll, rtol=1e-6)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf, 1e-40])
def test_a_row_with_a_special_sigma_gives_what_the_formula_gives(c32, bad):
    values = data("float32")
    values[2][2, 3] = bad
    got = c32(*values)
    nll, _ = reference(*values)
    np.testing.assert_array_equal(np.isnan(got[0]), np.isnan(nll))
    np.testing.assert_allclose(got[0][np.isfinite(nll)], nll[np.isfinite(nll)], rtol=2e-5)
    assert np.isfinite(got[0][[0, 1, 3]]).all()                # other rows untouched


@pytest.mark.parametrize("where", [0, 39, 40 * 5 + 17])
def test_a_special_sigma_inside_a_block_gives_what_the_formula_gives(c32, where):
    """K = 20: blocks of 40 values (two rows of d); the bad value in the first, at a block's end,
    in a later block."""
    values = data("float32", N=3, D=11, K=20)
    values[2][1, where] = np.nan
    got = c32(*values)
    assert np.isnan(got[0][1]) and np.isfinite(got[0][[0, 2]]).all()
    values[2][1, where] = 0.0                                  # log 0 = -inf: the row's nll is +inf or nan
    nll, _ = reference(*values)
    np.testing.assert_array_equal(c32(*values)[0][1], nll[1])


def test_the_python_fallback_matches_the_formula():
    values = data("float64")
    y, mu, sig, coeff = (pt.matrix(name, dtype="float64") for name in ("y", "mu", "sig", "coeff"))
    g = pt.vector("g", dtype="float64")
    import pytensor
    fn = pytensor.function([y, mu, sig, coeff, g], [gmm_nll(y, mu, sig, coeff)]
                           + list(GMMNllGrad()(y, mu, sig, coeff, g)), mode="FAST_COMPILE")
    check(fn(*values), values, rtol=1e-12, atol=1e-12)


def test_the_gradient_is_what_pytensor_differentiates():
    """pytensor.grad of sum(g * nll) is the gradient op's output."""
    y, mu, sig, coeff = (pt.matrix(name, dtype="float64") for name in ("y", "mu", "sig", "coeff"))
    g = pt.vector("g", dtype="float64")
    grads = pt.grad(pt.sum(g * gmm_nll(y, mu, sig, coeff)), [y, mu, sig, coeff])
    values = data("float64")
    got = B.function([y, mu, sig, coeff, g], grads, mode="c")(*values)
    check([reference(*values)[0]] + got, values, rtol=1e-12, atol=1e-12)


def test_jax_mode_matches_the_formula(jax_float64):
    values = data("float64")
    check(compiled("float64", "jax")(*values), values, rtol=1e-12, atol=1e-12)


def test_shapes_that_do_not_fit_are_a_clear_error(c32):
    y, mu, sig, coeff, g = data("float32")
    with pytest.raises(ValueError, match=r"do not match \(N, D\), \(N, D\*K\)"):
        c32(y, mu[:, :-1], sig[:, :-1], coeff, g)
    with pytest.raises(TypeError, match="must have 2 dimensions"):
        gmm_nll(pt.vector(), pt.matrix(), pt.matrix(), pt.matrix())


def test_one_variable_may_be_two_inputs():
    y, s, coeff = pt.matrix("y", dtype="float64"), pt.matrix("s", dtype="float64"), pt.matrix("c", dtype="float64")
    g = pt.vector("g", dtype="float64")
    with B.precision("float64"):
        fn = B.function([y, s, coeff, g], [gmm_nll(y, s, s, coeff)] + list(GMMNllGrad()(y, s, s, coeff, g)),
                        mode="c")
    values = data("float64")
    check(fn(values[0], values[2], values[3], values[4]), [values[0], values[2], values[2], values[3], values[4]],
          rtol=1e-12, atol=1e-12)
