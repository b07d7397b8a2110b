"""Each family trains with cle.train (GradientClipping -> Adam -> WeightNorm) and its cost goes down.

float32 graphs (the training default); the VRNN-GMM training function is also checked to hold no
float64 variable.
"""
import numpy as np
import pytest
from pytensor.tensor.type import TensorType

from nips2015_vrnn.models import build_model

from model_helpers import handwriting_batches, speech_batches, tiny_config, train_costs

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


def test_vrnn_i_gauss_cost_goes_down():
    model = build_model(tiny_config("blizzard/vrnn_i_gauss", x_dim=4, z_dim=2, depth=1, batch_size=B))
    costs, _ = train_costs(model, speech_batches(2, T, B, 4, seed=1), N_UPDATES)
    assert_cost_went_down(costs)


@pytest.fixture(scope="module")
def rnn_run():
    model = build_model(tiny_config("blizzard/rnn_gmm", x_dim=4, num_k=2, depth=1, batch_size=B))
    costs, _ = train_costs(model, speech_batches(2, T, B, 4, seed=2), N_UPDATES)
    return model, costs


def test_rnn_gmm_cost_goes_down(rnn_run):
    assert_cost_went_down(rnn_run[1])


def test_rnn_bound_and_importance_estimate_are_the_exact_loglik(rnn_run):
    model = rnn_run[0]
    x = speech_batches(1, T, B, 4, seed=9)[0]
    bound = model.lower_bound(x, seed=0)
    np.testing.assert_array_equal(bound, model.lower_bound(x, seed=1))
    np.testing.assert_array_equal(bound, model.importance_sampled_loglik(x, n_samples=40))
    recon_term = model.monitor_fn()(x.astype(model.dtype))[1]
    np.testing.assert_allclose(-bound.mean() / T, recon_term, rtol=1e-5)


def test_handwriting_vrnn_bigmm_cost_goes_down():
    model = build_model(tiny_config("iamondb/vrnn_gmm", z_dim=2, num_k=2, batch_size=B))
    costs, _ = train_costs(model, handwriting_batches(2, T, B), N_UPDATES)
    assert_cost_went_down(costs)
