"""The bounds of :mod:`nips2015_vrnn.models.bounds` on a model whose log-likelihood is known: a
1-D linear-Gaussian state-space model, exact log p(x) from a Kalman filter (numpy oracle).

    z_1 ~ N(0, q), z_t = a z_{t-1} + N(0, q), x_t = c z_t + N(0, r)
    proposal q(z_t | z_{t-1}, x_t) = N(a z_{t-1} + g (x_t - c a z_{t-1}), sig^2)   (g, sig not optimal)

Checked: the scan against a numpy particle filter on the same noise (1e-10); ELBO <= IWAE
sample by sample; IWAE and FIVO <= exact in expectation and approaching it as K grows; the
gradient of each bound against central finite differences (float64, C mode).
"""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from numerics import FLOAT64_RTOL, rel_err

from nips2015_vrnn.models.bounds import particle_filter

#: a, c, q, r (the model), g, sig (the proposal).
THETA = np.array([0.9, 1.0, 0.5, 0.3, 0.4, 0.6])
T, B = 10, 3


def log_normal(x, mu, var):
    return -0.5 * (np.log(2 * np.pi * var) + (x - mu) ** 2 / var)


def kalman_loglik(x, theta):
    """Exact log p(x) (B,) of x (T, B) by the Kalman filter."""
    a, c, q, r = theta[:4]
    m, p = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    total = np.zeros(x.shape[1])
    for x_t in x:
        m_pred, p_pred = a * m, a * a * p + q
        s = c * c * p_pred + r
        total += log_normal(x_t, c * m_pred, s)
        gain = p_pred * c / s
        m, p = m_pred + gain * (x_t - c * m_pred), (1 - gain * c) * p_pred
    return total


def simulate(theta, n_seq, seed):
    a, c, q, r = theta[:4]
    rng = np.random.default_rng(seed)
    z, xs = np.zeros(n_seq), []
    for _ in range(T):
        z = a * z + np.sqrt(q) * rng.standard_normal(n_seq)
        xs.append(c * z + np.sqrt(r) * rng.standard_normal(n_seq))
    return np.array(xs)


def numpy_filter(x, eps, u, theta, K, resample):
    """The particle filter in plain numpy (the oracle of the scan): log p_hat (B,)."""
    a, c, q, r, g, sig = theta
    n_seq = x.shape[1]
    z = np.zeros((K, n_seq))
    log_w, log_z = np.zeros((K, n_seq)), np.zeros(n_seq)
    for t in range(x.shape[0]):
        e = eps[t].reshape(K, n_seq)
        mu = a * z + g * (x[t] - c * a * z)
        z_new = mu + sig * e
        log_w = log_w + (log_normal(z_new, a * z, q) + log_normal(x[t], c * z_new, r)
                         - log_normal(z_new, mu, sig * sig))
        z = z_new
        if resample == "never":
            continue
        for b in range(n_seq):
            w = np.exp(log_w[:, b] - log_w[:, b].max())
            if resample == "always" or w.sum() ** 2 / (w ** 2).sum() < K / 2:
                log_z[b] += np.log(w.mean()) + log_w[:, b].max()
                cdf = np.cumsum(w / w.sum())
                anc = np.minimum((cdf[None, :] <= u[t, :, b][:, None]).sum(axis=1), K - 1)
                z[:, b] = z[anc, b]
                log_w[:, b] = 0.0
    top = log_w.max(axis=0)
    return log_z + np.log(np.exp(log_w - top).mean(axis=0)) + top


def build(K, resample, gradient=False):
    """Compiled ``f(theta, x, eps, u)`` -> [log_p_hat (B,), log_w (K, B)(, d sum log_p_hat / d theta)]."""
    theta, x = pt.dvector("theta"), pt.dmatrix("x")
    eps, u = pt.dmatrix("eps"), pt.dtensor3("u")
    a, c, q, r, g, sig = (theta[i] for i in range(6))

    def lnorm(v, mu, var):
        return -0.5 * (pt.log(2 * np.pi * var) + (v - mu) ** 2 / var)

    def step(x_t, eps_t, z_tm1):
        mu = a * z_tm1 + g * (x_t - c * a * z_tm1)
        z_t = mu + sig * eps_t
        return z_t, lnorm(z_t, a * z_tm1, q) + lnorm(x_t, c * z_t, r) - lnorm(z_t, mu, sig * sig)

    out = particle_filter(step, [pt.tile(x, (1, K)), eps], pt.zeros((K * x.shape[1],), dtype="float64"),
                          K, u, resample=resample)
    outputs = [out["log_p_hat"], out["log_w"]]
    if gradient:
        outputs.append(pytensor.grad(out["log_p_hat"].sum(), theta))
    return pytensor.function([theta, x, eps, u], outputs, mode="FAST_RUN")


def noise(K, n_seq, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((T, K * n_seq)), rng.uniform(size=(T, K, n_seq))


@pytest.fixture(scope="module")
def data():
    return simulate(THETA, B, seed=0)


@pytest.mark.parametrize("resample", ["never", "ess", "always"])
def test_scan_matches_numpy_particle_filter(data, resample):
    K = 5
    eps, u = noise(K, B, seed=1)
    got = build(K, resample)(THETA, data, eps, u)[0]
    assert rel_err(got, numpy_filter(data, eps, u, THETA, K, resample)) < FLOAT64_RTOL


@pytest.fixture(scope="module")
def estimates(data):
    """Means over 400 noise draws of ELBO, IWAE and FIVO for K in (1, 8, 64), and the exact value."""
    reps = 400
    x = np.tile(data, (1, reps))  # column j = sequence j % B
    out = {"exact": kalman_loglik(data, THETA)}
    for K in (1, 8, 64):
        eps, u = noise(K, B * reps, seed=K)
        iwae, log_w = build(K, "never")(THETA, x, eps, u)
        fivo = build(K, "ess")(THETA, x, eps, u)[0]
        for name, value in (("elbo", log_w.mean(axis=0)), ("iwae", iwae), ("fivo", fivo)):
            per_rep = value.reshape(reps, B)
            out[name, K] = (per_rep.mean(axis=0), per_rep.std(axis=0) / np.sqrt(reps))
        out["elbo_le_iwae", K] = bool(np.all(log_w.mean(axis=0) <= iwae + 1e-12))
    return out


def test_elbo_below_iwae_sample_by_sample(estimates):
    assert all(estimates["elbo_le_iwae", K] for K in (1, 8, 64))


@pytest.mark.parametrize("name", ["elbo", "iwae", "fivo"])
@pytest.mark.parametrize("K", [1, 8, 64])
def test_bound_below_exact_in_expectation(estimates, name, K):
    mean, sem = estimates[name, K]
    assert np.all(mean <= estimates["exact"] + 3 * sem)


@pytest.mark.parametrize("name", ["iwae", "fivo"])
def test_bound_approaches_exact_as_k_grows(estimates, name):
    gaps = [estimates["exact"] - estimates[name, K][0] for K in (1, 8, 64)]
    assert np.all(gaps[0] > gaps[1]) and np.all(gaps[1] > gaps[2])
    assert np.all(gaps[2] < 0.1 * gaps[0])
    assert np.all(gaps[2] < 0.25)  # nats per 10-step sequence (K=1: 3.8 .. 5.4)


def test_elbo_strictly_below_iwae_on_average(estimates):
    assert np.all(estimates["elbo", 8][0] < estimates["iwae", 8][0] - 3 * estimates["iwae", 8][1])


@pytest.mark.parametrize("resample", ["never", "ess", "always"])
def test_gradient_matches_finite_differences(data, resample):
    """With the noise fixed the ancestors are piecewise constant in theta, so the gradient that
    ignores them is the derivative of the estimate (away from the jumps): central differences agree."""
    K = 4
    eps, u = noise(K, B, seed=2)
    f = build(K, resample, gradient=True)
    grad = f(THETA, data, eps, u)[2]
    h = 1e-6
    fd = np.empty(6)
    for i in range(6):
        step = np.zeros(6)
        step[i] = h
        fd[i] = (f(THETA + step, data, eps, u)[0].sum() - f(THETA - step, data, eps, u)[0].sum()) / (2 * h)
    assert rel_err(grad, fd) < 1e-7
