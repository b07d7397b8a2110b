"""Evaluation drivers: the importance-sampled log-likelihood on a model whose p(x) is known.

One-step VRNN-I-Gauss (prior N(0, 1)) with a linear-Gaussian decoder: z features
[relu(z), relu(-z)], theta_1 the identity on them, theta_mu = a relu(z) - a relu(-z) + c = a z + c,
theta_sig = sx constant, so p(x) = N(x; c, a^2 + sx^2). The encoder ignores x:
q(z) = N(m_q, s_q^2), so the bound is E_q log p(x | z) - KL(q || N(0, 1)) in closed form.
"""
import numpy as np
import pytest

from cle.backend import precision
from nips2015_vrnn.models import build_model, get_preset
from nips2015_vrnn.models.estimators import logmeanexp

A, C, SX, M_Q, S_Q = 1.5, 0.2, 0.5, 0.5, 0.6
XS = np.array([0.5, 1.0, 1.6])


def softplus_inv(y):
    return np.log(np.expm1(y))


def exact_log_px(x):
    var = A ** 2 + SX ** 2
    return -0.5 * np.log(2 * np.pi * var) - (x - C) ** 2 / (2 * var)


def exact_bound(x):
    expected_recon = -0.5 * np.log(2 * np.pi * SX ** 2) - ((x - C - A * M_Q) ** 2 + A ** 2 * S_Q ** 2) / (2 * SX ** 2)
    kl = 0.5 * (-2 * np.log(S_Q) + M_Q ** 2 + S_Q ** 2 - 1)
    return expected_recon - kl


@pytest.fixture(scope="module")
def model():
    with precision("float64"):
        config = get_preset("blizzard/vrnn_i_gauss", x_dim=1, z_dim=1, rnn_dim=2, x2s_dim=2, z2s_dim=2, q_z_dim=2,
                            p_z_dim=2, p_x_dim=2, depth=1, reset_freq=0)
        model = build_model(config, dtype="float64")
    values = {name: np.zeros_like(v) for name, v in model.get_param_values().items()}
    values["W_z_t__z_1"] = np.array([[1.0, -1.0]])
    values["W_z_1__theta_1"] = np.eye(2)
    values["W_theta_1__theta_mu"] = np.array([[A], [-A]])
    values["b_theta_mu"] = np.array([C])
    values["b_theta_sig"] = np.array([softplus_inv(SX - 1e-4)])
    values["b_phi_mu"] = np.array([M_Q])
    values["b_phi_sig"] = np.array([softplus_inv(S_Q - 1e-4)])
    model.set_param_values(values)
    return model


def frames(xs, copies=1):
    """(T=1, N, 1) sequences: each value of xs repeated ``copies`` times."""
    return np.repeat(np.asarray(xs, dtype=float), copies)[None, :, None]


def test_estimate_approaches_exact_with_many_samples(model):
    estimate = model.importance_sampled_loglik(frames(XS), n_samples=20000, seed=1, max_columns=5000)
    np.testing.assert_allclose(estimate, exact_log_px(XS), atol=0.01)


def test_gap_to_exact_shrinks_as_samples_grow(model):
    x = frames(XS, copies=100)
    exact = exact_log_px(x[0, :, 0])
    gaps = [np.mean(exact - model.importance_sampled_loglik(x, n_samples=s, seed=2)) for s in (1, 10, 100)]
    assert gaps[0] > gaps[1] > gaps[2] > -0.01


def test_estimate_is_above_the_bound_on_average(model):
    x = frames(XS, copies=200)
    is_40 = model.importance_sampled_loglik(x, n_samples=40, seed=3)
    bound = model.lower_bound(x, seed=4, batch_size=600)
    assert is_40.mean() > bound.mean()
    assert is_40.mean() > exact_bound(x[0, :, 0]).mean()


def test_one_sample_equals_the_bound_in_expectation(model):
    x = frames([XS[2]], copies=20000)
    one = model.importance_sampled_loglik(x, n_samples=1, seed=5, max_columns=5000)
    stderr = one.std() / np.sqrt(one.size)
    assert abs(one.mean() - exact_bound(XS[2])) < 4 * stderr
    bound = model.lower_bound(x, seed=6, batch_size=5000)
    assert abs(bound.mean() - exact_bound(XS[2])) < 4 * bound.std() / np.sqrt(bound.size)


def test_same_seed_same_estimate(model):
    a = model.importance_sampled_loglik(frames(XS), n_samples=7, seed=9)
    b = model.importance_sampled_loglik(frames(XS), n_samples=7, seed=9)
    assert np.array_equal(a, b)


def test_logmeanexp_is_stable_for_large_log_weights():
    np.testing.assert_allclose(logmeanexp(np.array([[1000.0, 1000.0 + np.log(3)]])), [1000.0 + np.log(2)])
