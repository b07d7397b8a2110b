"""What SequenceModel adds around the families' graphs: KL annealing and free bits in the training
cost only (config keys off by default: the legacy graph), the counter they keep as state."""
import numpy as np
import pytest
from model_helpers import tiny_config

from cle.backend import Backend, function
from nips2015_vrnn.models import build_model
from nips2015_vrnn.models.config import ConfigError

T, B, X, Z = 5, 3, 2, 3
#: Free bits far above any KL of the tiny model: every dimension counts exactly this much.
FLOOR = 1000.0
ANNEAL = 4


@pytest.fixture(scope="module")
def regularised():
    config = tiny_config("sequences/vrnn_gauss", x_dim=X, z_dim=Z, kl_anneal_updates=ANNEAL, free_bits=FLOOR)
    model = build_model(config, dtype="float64")
    graph = model.training_graph(eps_input=True)
    fn = function(graph.inputs, [graph.outputs[k] for k in ("training_cost", "recon_term", "kl_term")],
                  updates=graph.updates, backend=Backend(floatX="float64"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(T, B, X))
    mask = (np.arange(T)[:, None] < np.array([5, 3, 1])).astype(np.float64)
    eps = rng.normal(size=(T, B, Z))
    return model, [fn(x, mask, eps) for _ in range(ANNEAL + 2)], mask


def test_the_kl_weight_warms_up_linearly_and_free_bits_floor_each_dimension(regularised):
    model, calls, mask = regularised
    floored_kl = Z * FLOOR * mask.sum() / B  # per-dimension floor, scaled as the masked sum per sequence
    for step, (cost, recon, _) in enumerate(calls):
        beta = min(1.0, step / ANNEAL)
        np.testing.assert_allclose(cost, recon + beta * floored_kl, rtol=1e-12)
    assert int(model.kl_step.get_value()) == ANNEAL + 2


def test_the_reported_kl_term_is_the_true_one(regularised):
    _, calls, _ = regularised
    assert all(0 < kl < FLOOR for _, _, kl in calls)


def test_the_default_config_builds_the_legacy_training_graph():
    model = build_model(tiny_config("sequences/vrnn_gauss", x_dim=X, z_dim=Z), dtype="float64")
    assert "training_cost" not in model.training_graph(eps_input=True).outputs
    assert model.kl_step is None


@pytest.mark.parametrize("overrides", [dict(kl_anneal_updates=-1), dict(free_bits=-0.1), dict(patience=-2)])
def test_negative_settings_are_refused(overrides):
    with pytest.raises(ConfigError, match="0: off"):
        tiny_config("sequences/vrnn_gauss", **overrides)


def test_the_rnn_family_refuses_kl_settings():
    with pytest.raises(ConfigError, match="no latent z"):
        tiny_config("sequences/rnn_gauss", free_bits=0.1)
