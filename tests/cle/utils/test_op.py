"""cle.utils.op: samplers with injected noise against numpy, seeded drawing, sample statistics,
and logsumexp."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import cle.backend as B
from cle.utils.op import BiGMM_sample, Gaussian_sample, GMM_sample, add_noise, dropout, logsumexp

RNG = np.random.default_rng(5)
N, D, K = 6, 2, 3
MU = RNG.normal(size=(N, D * K))
SIG = RNG.uniform(0.5, 1.5, size=(N, D * K))
COEFF = RNG.dirichlet(np.ones(K), size=N)
EPS = RNG.normal(size=(N, D))
U = RNG.uniform(size=N)
U_PEN = RNG.uniform(size=N)
CORR = np.tanh(RNG.normal(size=(N, K)))
BINARY = RNG.uniform(size=(N, 1))
X_DROP = RNG.normal(size=(N, 4))
U_DROP = RNG.uniform(size=(N, 4))
P_DROP = 0.3


def np_component(coeff, u):
    return np.array([int(np.searchsorted(np.cumsum(c), v, side="right")) for c, v in zip(coeff, u)]).clip(0, K - 1)


@pytest.fixture(scope="module")
def injected():
    """Every sampler with its noise injected, one compiled float64 function."""
    with B.precision("float64"):
        mu, sig, coeff, eps = (pt.matrix(n, dtype="float64") for n in ("mu", "sig", "coeff", "eps"))
        corr, binary, x, u_drop = (pt.matrix(n, dtype="float64") for n in ("corr", "binary", "x", "u_drop"))
        u, u_pen = pt.vector("u", dtype="float64"), pt.vector("u_pen", dtype="float64")
        gauss, r1 = Gaussian_sample(mu[:, :D], sig[:, :D], eps=eps)
        gmm, r2 = GMM_sample(mu, sig, coeff, eps=eps, u=u)
        bigmm, r3 = BiGMM_sample(mu, sig, coeff, corr, binary, eps=eps, u=u, u_pen=u_pen)
        drop, r4 = dropout(x, P_DROP, u=u_drop)
        drop_test, r5 = dropout(x, P_DROP, train=False)
        noisy, r6 = add_noise(x[:, :D], 0.5, eps=eps)
        assert all(r is None for r in (r1, r2, r3, r4, r5, r6))
        fn = B.function([mu, sig, coeff, eps, corr, binary, x, u_drop, u, u_pen],
                        [gauss, gmm, bigmm, drop, drop_test, noisy])
    names = ["gauss", "gmm", "bigmm", "drop", "drop_test", "noisy"]
    return dict(zip(names, fn(MU, SIG, COEFF, EPS, CORR, BINARY, X_DROP, U_DROP, U, U_PEN)))


def test_gaussian_sample_with_eps_is_mu_plus_sig_eps(injected):
    np.testing.assert_allclose(injected["gauss"], MU[:, :D] + SIG[:, :D] * EPS, rtol=1e-12)


def test_gmm_sample_with_noise_matches_numpy(injected):
    k = np_component(COEFF, U)
    mu3, sig3 = MU.reshape(N, D, K), SIG.reshape(N, D, K)  # column d*K + k
    want = mu3[np.arange(N), :, k] + sig3[np.arange(N), :, k] * EPS
    np.testing.assert_allclose(injected["gmm"], want, rtol=1e-12)


def test_bigmm_sample_with_noise_matches_numpy(injected):
    k = np_component(COEFF, U)
    rows = np.arange(N)
    mu1, mu2 = MU[rows, k], MU[rows, K + k]
    s1, s2 = SIG[rows, k], SIG[rows, K + k]
    rho = CORR[rows, k]
    dx = mu1 + s1 * EPS[:, 0]
    dy = mu2 + s2 * (rho * EPS[:, 0] + np.sqrt(1 - rho ** 2) * EPS[:, 1])
    pen = (U_PEN < BINARY[:, 0]).astype(float)
    np.testing.assert_allclose(injected["bigmm"], np.stack([pen, dx, dy], axis=1), rtol=1e-12)


def test_dropout_with_noise_keeps_units_where_u_at_least_p(injected):
    np.testing.assert_allclose(injected["drop"], X_DROP * (U_DROP >= P_DROP), rtol=1e-12)


def test_dropout_at_test_time_scales_by_keep_probability(injected):
    np.testing.assert_allclose(injected["drop_test"], X_DROP * (1 - P_DROP), rtol=1e-12)


def test_add_noise_with_eps(injected):
    np.testing.assert_allclose(injected["noisy"], X_DROP[:, :D] + 0.5 * EPS, rtol=1e-12)


def test_missing_noise_without_rng_raises():
    mu = pt.matrix("mu")
    with pytest.raises(ValueError, match="rng is None"):
        Gaussian_sample(mu, mu)


# --------------------------------------------------------------------------------------------
# Drawn noise from a seeded shared generator
# --------------------------------------------------------------------------------------------

N_DRAWS = 4000
SEED = 2015
DRAW_COEFF = np.array([0.2, 0.8])
DRAW_MU = np.array([-10.0, 10.0])  # one dimension, two far-apart components (columns d*K + k)
DRAW_SIG = np.array([1.0, 2.0])
DRAW_RHO = 0.7
DRAW_BINARY = 0.3


@pytest.fixture(scope="module")
def drawn():
    """Gaussian, GMM and BiGMM samples drawn through one chained shared generator."""
    with B.precision("float64"):
        rng = pytensor.shared(np.random.default_rng(SEED), name="rng")
        ones = pt.ones((N_DRAWS, 1), dtype="float64")
        gauss, rng1 = Gaussian_sample(3.0 * ones, 2.0 * ones, rng=rng)
        gmm, rng2 = GMM_sample(ones * DRAW_MU, ones * DRAW_SIG, ones * DRAW_COEFF, rng=rng1)
        bigmm, rng3 = BiGMM_sample(pt.zeros((N_DRAWS, 2)), pt.ones((N_DRAWS, 2)), pt.ones((N_DRAWS, 1)),
                                   DRAW_RHO * pt.ones((N_DRAWS, 1)), DRAW_BINARY * ones, rng=rng2)
        fn = B.function([], [gauss, gmm, bigmm], updates={rng: rng3})
    first = fn()
    second = fn()
    rng.set_value(np.random.default_rng(SEED))
    replay = fn()
    return first, second, replay


def test_seeded_generator_is_reproducible(drawn):
    first, _, replay = drawn
    for a, b in zip(first, replay):
        np.testing.assert_array_equal(a, b)


def test_generator_advances_between_calls(drawn):
    first, second, _ = drawn
    for a, b in zip(first, second):
        assert not np.array_equal(a, b)


def test_gaussian_sample_statistics(drawn):
    gauss = drawn[0][0]
    assert abs(gauss.mean() - 3.0) < 0.15
    assert abs(gauss.std() - 2.0) < 0.1


def test_gmm_sample_picks_components_by_weight(drawn):
    gmm = drawn[0][1][:, 0]
    high = gmm > 0
    assert abs(high.mean() - 0.8) < 0.03
    assert abs(gmm[high].mean() - 10.0) < 0.2
    assert abs(gmm[high].std() - 2.0) < 0.15
    assert abs(gmm[~high].std() - 1.0) < 0.1


def test_bigmm_sample_correlation_and_pen_rate(drawn):
    bigmm = drawn[0][2]
    assert set(np.unique(bigmm[:, 0])) <= {0.0, 1.0}
    assert abs(bigmm[:, 0].mean() - DRAW_BINARY) < 0.03
    assert abs(np.corrcoef(bigmm[:, 1], bigmm[:, 2])[0, 1] - DRAW_RHO) < 0.04
    assert abs(bigmm[:, 2].std() - 1.0) < 0.05


# --------------------------------------------------------------------------------------------
# logsumexp
# --------------------------------------------------------------------------------------------

def test_logsumexp_value_and_gradient_at_plus_minus_1000():
    x_val = np.array([[1000.0, 1000.0, 999.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0, 0.5, 0.0]])
    with B.precision("float64"):
        x = pt.matrix("x", dtype="float64")
        out = logsumexp(x, axis=1)
        fn = B.function([x], [out, pytensor.grad(out.sum(), x)])
    value, grad = fn(x_val)
    m = x_val.max(axis=1, keepdims=True)
    want = np.log(np.exp(x_val - m).sum(axis=1)) + m[:, 0]
    np.testing.assert_allclose(value, want, rtol=1e-12)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, np.exp(x_val - want[:, None]), rtol=1e-12, atol=1e-300)
