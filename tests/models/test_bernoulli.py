"""The Bernoulli output (binary sequences) and the data-kind table: float64 oracles in numpy."""
import numpy as np
import pytest
from model_helpers import rnn_output_logits, tiny_config

from nips2015_vrnn.models import build_model
from nips2015_vrnn.models.config import DATA_KINDS, ConfigError, ModelConfig
from nips2015_vrnn.models.presets import MODELS, get_preset, models_of, preset_name, with_model

D = 4


def _binary_batch(steps=5, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((steps, batch, D)) < 0.4).astype(np.float64)
    mask = np.ones((steps, batch))
    mask[3:, 1] = 0.0
    return x, mask


@pytest.mark.parametrize("family", ["rnn", "vrnn"])
def test_bernoulli_models_exist_for_sequences_only(family):
    model = f"{family}-bernoulli"
    assert model in MODELS
    assert model in models_of("sequences") and model not in models_of("blizzard")
    assert get_preset(preset_name("sequences", model)).output == "bernoulli"
    with pytest.raises(ConfigError, match="not available for blizzard"):
        preset_name("blizzard", model)
    with pytest.raises(ConfigError, match="speech models need output 'gauss' or 'gmm'"):
        with_model(get_preset("blizzard/demo"), model)
    with pytest.raises(ConfigError, match="handwriting models need output 'bigauss' or 'bigmm'"):
        with_model(get_preset("iamondb/demo"), model)


def test_every_data_kind_checks_its_outputs_from_the_table():
    for data, kind in DATA_KINDS.items():
        x_dim = kind.x_dim or 5
        for output in ("gauss", "gmm", "bigauss", "bigmm", "bernoulli"):
            make = lambda: ModelConfig(data=data, output=output, x_dim=x_dim)  # noqa: E731
            if output in kind.outputs:
                assert make().has_mask == kind.mask
            else:
                with pytest.raises(ConfigError, match=f"{data} models need output"):
                    make()


def test_rnn_bernoulli_log_likelihood_is_the_numpy_cross_entropy():
    config = tiny_config("sequences/rnn_bernoulli", x_dim=D, depth=1)
    model = build_model(config, dtype="float64")
    x, mask = _binary_batch()
    got = model.lower_bound(x, mask)
    # Oracle: the model's own head probabilities, then Bernoulli log-likelihood in numpy.
    p = _rnn_probabilities(model, x)
    expected = ((x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=2) * mask).sum(axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(model.importance_sampled_loglik(x, mask, n_samples=3), expected, rtol=1e-10)


def _rnn_probabilities(model, x):
    """p(x_t = 1 | x_<t) of the RNN-Bernoulli in numpy: the sigmoid of the head's logits."""
    return np.clip(1 / (1 + np.exp(-rnn_output_logits(model, x))), 1e-6, 1 - 1e-6)


def test_vrnn_bernoulli_generates_binary_frames_and_trains():
    config = tiny_config("sequences/vrnn_bernoulli", x_dim=D, z_dim=2, depth=1)
    model = build_model(config, dtype="float64")
    samples = np.asarray(model.generate(n_steps=6, n_sequences=4, seed=1))
    assert samples.shape == (6, 4, D)
    assert set(np.unique(samples)) <= {0.0, 1.0}
    x, mask = _binary_batch()
    bound = model.lower_bound(x, mask)
    assert bound.shape == (3,) and np.all(bound < 0) and np.all(np.isfinite(bound))
