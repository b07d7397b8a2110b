"""The handwriting VRNN (BiGMM output, mask, depth 1) against a numpy implementation written here.

float64 on both sides: tolerance ``numerics.FLOAT64_RTOL`` (1e-10 relative, ``numerics.rel_err``);
measured worst relative error 2.3e-13 (the per-sequence log-weights; the costs 1e-15).
"""
import numpy as np
import pytest
from model_helpers import handwriting_batches, tiny_config
from numerics import FLOAT64_RTOL, rel_err
from scipy.special import logsumexp

from cle.backend import precision
from nips2015_vrnn.models import build_model

T, B, K, Z, N_RNN = 6, 3, 3, 2, 4


def relu(a):
    return a * (a > 0)


def softplus(a):
    return np.log1p(np.exp(a))


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def softmax(a):
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def numpy_vrnn_bigmm(p, x, mask, eps):
    """Per-frame recon (T, B), kl (T, B) and log-weights (T, B) of the depth-1 handwriting VRNN."""
    n = N_RNN
    s = np.zeros((x.shape[1], 2 * n))
    recon, kl, logw = [], [], []
    x1_all = relu(x @ p["W_x_t__x_1"] + p["b_x_1"])
    for t in range(x.shape[0]):
        h, c, x1 = s[:, :n], s[:, n:], x1_all[t]
        phi1 = relu(x1 @ p["W_x_1__phi_1"] + h @ p["W_s_tm1__phi_1"] + p["b_phi_1"])
        q_mu = phi1 @ p["W_phi_1__phi_mu"] + p["b_phi_mu"]
        q_sig = softplus(phi1 @ p["W_phi_1__phi_sig"] + p["b_phi_sig"]) + 1e-4
        pr1 = relu(h @ p["W_s_tm1__prior_1"] + p["b_prior_1"])
        p_mu = pr1 @ p["W_prior_1__prior_mu"] + p["b_prior_mu"]
        p_sig = softplus(pr1 @ p["W_prior_1__prior_sig"] + p["b_prior_sig"]) + 1e-4
        z = q_mu + q_sig * eps[t]
        z1 = relu(z @ p["W_z_t__z_1"] + p["b_z_1"])
        th = relu(z1 @ p["W_z_1__theta_1"] + h @ p["W_s_tm1__theta_1"] + p["b_theta_1"])
        mu = th @ p["W_theta_1__theta_mu"] + p["b_theta_mu"]
        sig = softplus(th @ p["W_theta_1__theta_sig"] + p["b_theta_sig"]) + 1e-4
        coeff = softmax(th @ p["W_theta_1__coeff"] + p["b_coeff"])
        rho = np.tanh(th @ p["W_theta_1__corr"] + p["b_corr"])
        binary = sigmoid(th @ p["W_theta_1__binary"] + p["b_binary"])[:, 0]
        u1 = (x[t, :, 1:2] - mu[:, :K]) / sig[:, :K]
        u2 = (x[t, :, 2:3] - mu[:, K:]) / sig[:, K:]
        zz = u1 ** 2 + u2 ** 2 - 2 * rho * u1 * u2
        comp = -(np.log(2 * np.pi) + np.log(sig[:, :K]) + np.log(sig[:, K:]) + 0.5 * np.log(1 - rho ** 2)) \
            - zz / (2 * (1 - rho ** 2))
        mixture = logsumexp(np.log(coeff) + comp, axis=1)
        pen = x[t, :, 0]
        pen_ll = np.where(pen > 0, np.log(binary), 0) + np.where(pen < 1, np.log(1 - binary), 0)
        recon.append(-mixture - pen_ll)
        kl.append(np.sum(np.log(p_sig / q_sig) + (q_sig ** 2 + (q_mu - p_mu) ** 2) / (2 * p_sig ** 2) - 0.5, axis=1))

        def log_normal(v, m, sd):
            return np.sum(-0.5 * ((v - m) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi), axis=1)

        logw.append(-recon[-1] + log_normal(z, p_mu, p_sig) - log_normal(z, q_mu, q_sig))
        a = x1 @ p["W_x_1__rnn"] + z1 @ p["W_z_1__rnn"] + h @ p["U_rnn__rnn"] + p["b_rnn"]
        c = sigmoid(a[:, 2 * n:3 * n]) * c + sigmoid(a[:, n:2 * n]) * np.tanh(a[:, :n])
        s = np.concatenate([sigmoid(a[:, 3 * n:]) * np.tanh(c), c], axis=1)
    return np.array(recon), np.array(kl), np.array(logw)


@pytest.fixture(scope="module")
def case():
    with precision("float64"):
        model = build_model(tiny_config("iamondb/vrnn_gmm", rnn_dim=N_RNN, z_dim=Z, num_k=K, batch_size=B),
                            dtype="float64")
    rng = np.random.default_rng(7)
    values = {}
    for name, value in model.get_param_values().items():
        fan_in = value.shape[0] if value.ndim == 2 else 1
        scale = 1.6 / np.sqrt(fan_in) if name.startswith(("W_", "U_")) else 0.3
        values[name] = rng.standard_normal(value.shape) * scale
    model.set_param_values(values)
    (x, mask), = handwriting_batches(1, T, B, seed=3)
    eps = rng.standard_normal((T, B, Z))
    recon, kl, logw = numpy_vrnn_bigmm(values, x, mask, eps)
    return model, x, mask, eps, recon, kl, logw


def test_cost_is_masked_sum_over_time_mean_over_batch(case):
    model, x, mask, eps, recon, kl, _ = case
    out = model.cost_fn(eps_input=True).named(x, mask, eps)
    assert rel_err(out["recon_term"], (recon * mask).sum(0).mean()) < FLOAT64_RTOL
    assert rel_err(out["kl_term"], (kl * mask).sum(0).mean()) < FLOAT64_RTOL
    assert rel_err(out["nll_upper_bound"], ((recon + kl) * mask).sum(0).mean()) < FLOAT64_RTOL


def test_mask_really_drops_padded_steps(case):
    _, _, mask, _, _, _, _ = case
    assert mask.min() == 0 and mask.max() == 1


def test_per_sequence_bound_and_log_weight(case):
    model, x, mask, eps, recon, kl, logw = case
    log_w, bound = model.sequence_fn()(x, mask, eps)
    assert rel_err(bound, -((recon + kl) * mask).sum(0)) < FLOAT64_RTOL
    assert rel_err(log_w, (logw * mask).sum(0)) < FLOAT64_RTOL
