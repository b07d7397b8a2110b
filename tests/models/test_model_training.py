"""Each family trains with cle.train (GradientClipping -> Adam -> WeightNorm) and its cost goes down.

float32 graphs (the training default); the VRNN-GMM training function is also checked to hold no
float64 variable, and the VRNN-GMM and RNN-GMM ones to accumulate no weight-matrix gradient inside
their backward scan (those are one product over all frames after it).
"""
import numpy as np
import pytest
from model_helpers import handwriting_batches, speech_batches, tiny_config, train_costs
from numerics import rel_err
from pytensor.scan.op import Scan
from pytensor.tensor.type import TensorType
from scipy.special import expit, log_softmax, logsumexp
from scipy.stats import norm

from nips2015_vrnn.models import build_model

N_UPDATES = 40
T, B = 6, 4


def assert_cost_went_down(costs):
    first, last = costs[:8].mean(), costs[-8:].mean()
    assert np.all(np.isfinite(costs))
    assert last < first - 0.05 * abs(first), (first, last)


@pytest.fixture(scope="module")
def vrnn_gmm_run():
    model = build_model(tiny_config("blizzard/vrnn_gmm", x_dim=4, z_dim=2, num_k=2, depth=1, batch_size=B))
    costs, training = train_costs(model, speech_batches(2, T, B, 4), N_UPDATES)
    return model, costs, training


def test_vrnn_gmm_cost_goes_down(vrnn_gmm_run):
    assert_cost_went_down(vrnn_gmm_run[1])


def test_training_counts_steps_for_tbptt(vrnn_gmm_run):
    model = vrnn_gmm_run[0]
    assert int(model.step_count.get_value()) == N_UPDATES
    assert np.any(model.rnn_tm1.get_value() != 0)


def test_float32_training_graph_has_no_float64(vrnn_gmm_run):
    fgraph = vrnn_gmm_run[2]._train_fn.maker.fgraph
    wide = [v for v in fgraph.variables if isinstance(v.type, TensorType) and v.type.dtype == "float64"]
    assert not wide, wide[:5]


def backward_scan_accumulators(training):
    """Static shapes of the per-step accumulators (sit-sot outputs) of each backward scan."""
    return [[out.type.shape for out in node.op.inner_sitsot_outs(node.op.inner_outputs)]
            for node in training._train_fn.maker.fgraph.apply_nodes
            if isinstance(node.op, Scan) and node.op.name.startswith("grad_of_")]


def test_vrnn_weight_gradients_leave_the_backward_scan(vrnn_gmm_run):
    """Only bias gradients (vectors) are summed step by step; before the static-width slices in
    cle.layers the recurrent weights' gradients (U_rnn__rnn, W_s_tm1__phi_1, W_s_tm1__prior_1)
    were three (n, m) accumulators here."""
    (shapes,) = backward_scan_accumulators(vrnn_gmm_run[2])
    assert shapes, "the bias gradients are expected here"
    assert all(len(shape) == 1 for shape in shapes), shapes


def test_vrnn_i_gauss_cost_goes_down():
    model = build_model(tiny_config("blizzard/vrnn_i_gauss", x_dim=4, z_dim=2, depth=1, batch_size=B))
    costs, _ = train_costs(model, speech_batches(2, T, B, 4, seed=1), N_UPDATES)
    assert_cost_went_down(costs)


@pytest.fixture(scope="module")
def rnn_run():
    model = build_model(tiny_config("blizzard/rnn_gmm", x_dim=4, num_k=2, depth=1, batch_size=B))
    costs, training = train_costs(model, speech_batches(2, T, B, 4, seed=2), N_UPDATES)
    return model, costs, training


def test_rnn_recurrent_weight_gradient_leaves_the_backward_scan(rnn_run):
    """The RNN's bias is hoisted with the input projection, so nothing is left to accumulate."""
    (shapes,) = backward_scan_accumulators(rnn_run[2])
    assert all(len(shape) == 1 for shape in shapes), shapes


def test_rnn_gmm_cost_goes_down(rnn_run):
    assert_cost_went_down(rnn_run[1])


def numpy_rnn_gmm_log_px(p, x, num_k):
    """Exact log p(x) per sequence (N,) of the depth-1 RNN-GMM, in float64, written independently.

    x_1 = relu(x W + b); LSTM (gates [candidate, input, forget, output]) on x_1; the decoder
    theta_1 = relu(h_{t-1} W + b) gives a K-component diagonal GMM (columns d*K + k) for x_t.
    """
    p = {k: v.astype(np.float64) for k, v in p.items()}
    n = p["U_rnn__rnn"].shape[0]
    h, c = np.zeros((x.shape[1], n)), np.zeros((x.shape[1], n))
    log_px = np.zeros(x.shape[1])
    for x_t in x:
        th = np.maximum(h @ p["W_s_tm1__theta_1"] + p["b_theta_1"], 0)
        mu = (th @ p["W_theta_1__theta_mu"] + p["b_theta_mu"]).reshape(len(x_t), -1, num_k)
        sig = (np.logaddexp(0, th @ p["W_theta_1__theta_sig"] + p["b_theta_sig"]) + 1e-4).reshape(mu.shape)
        log_coeff = log_softmax(th @ p["W_theta_1__coeff"] + p["b_coeff"], axis=1)
        log_comp = norm.logpdf(x_t[:, :, None], mu, sig).sum(axis=1)
        log_px += logsumexp(log_coeff + log_comp, axis=1)
        x1 = np.maximum(x_t @ p["W_x_t__x_1"] + p["b_x_1"], 0)
        a = x1 @ p["W_x_1__rnn"] + h @ p["U_rnn__rnn"] + p["b_rnn"]
        c = expit(a[:, 2 * n:3 * n]) * c + expit(a[:, n:2 * n]) * np.tanh(a[:, :n])
        h = expit(a[:, 3 * n:]) * np.tanh(c)
    return log_px


def test_rnn_lower_bound_is_the_exact_loglik(rnn_run):
    """The RNN's bound is log p(x), so it needs no noise: against a numpy computation of log p(x)
    from the trained parameters. float32 graph against float64 numpy: measured worst relative
    error 3.3e-8; tolerance 1e-5 leaves room for float32 rounding on another BLAS (float32
    epsilon 1.2e-7), and a wrong formula (gate order, state shift, mixture layout) misses by far more."""
    model = rnn_run[0]
    x = speech_batches(1, T, B, 4, seed=9)[0].astype(model.dtype)
    exact = numpy_rnn_gmm_log_px(model.get_param_values(), x.astype(np.float64), num_k=2)
    bound = model.lower_bound(x, seed=0)
    assert rel_err(bound, exact) < 1e-5
    np.testing.assert_array_equal(model.lower_bound(x, seed=1), bound)
    recon_term = model.monitor_fn()(x)[1]
    assert rel_err(recon_term, -exact.mean() / T) < 1e-5


def test_handwriting_vrnn_bigmm_cost_goes_down():
    model = build_model(tiny_config("iamondb/vrnn_gmm", z_dim=2, num_k=2, batch_size=B))
    costs, _ = train_costs(model, handwriting_batches(2, T, B), N_UPDATES)
    assert_cost_went_down(costs)
