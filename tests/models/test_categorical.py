"""The categorical output (characters): its likelihood against numpy, and its Gumbel-max draw
(frequencies, temperature, forced symbols) checked statistically."""
import numpy as np
import pytensor.tensor as pt
import pytest
from model_helpers import rnn_output_logits, tiny_config

import cle.backend as B
from nips2015_vrnn.models import build_model
from nips2015_vrnn.models.app.characters import text_noise
from nips2015_vrnn.models.outputs import output_sample
from nips2015_vrnn.models.presets import MODELS, models_of

V = 5


def one_hot_batch(steps=6, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    x = np.eye(V)[rng.integers(0, V, size=(steps, batch))]
    mask = np.ones((steps, batch))
    mask[4:, 2] = 0.0
    x[4:, 2] = 0.0  # padding, as the text reader serves it
    return x, mask


def test_the_categorical_pair_is_for_text_only():
    assert MODELS["vrnn-categorical"] == ("vrnn", "categorical", "learned")
    assert models_of("text") == ["vrnn-categorical", "rnn-categorical"]
    assert "vrnn-categorical" not in models_of("sequences")


def test_rnn_categorical_log_likelihood_is_the_numpy_cross_entropy():
    model = build_model(tiny_config("text/rnn_categorical", x_dim=V, depth=1), dtype="float64")
    x, mask = one_hot_batch()
    got = model.lower_bound(x, mask)
    logits = rnn_output_logits(model, x)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    expected = ((x * np.log(p)).sum(axis=2) * mask).sum(axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-8)


def test_vrnn_categorical_generates_one_hot_frames_and_bounds_the_likelihood():
    model = build_model(tiny_config("text/vrnn_categorical", x_dim=V, z_dim=2, depth=1), dtype="float64")
    samples = np.asarray(model.generate(n_steps=7, n_sequences=4, seed=1))
    assert samples.shape == (7, 4, V) and np.all(samples.sum(-1) == 1) and set(np.unique(samples)) <= {0, 1}
    x, mask = one_hot_batch()
    bound = model.lower_bound(x, mask)
    assert np.all(bound < 0) and np.all(bound > -mask.sum(0) * 20)


@pytest.fixture(scope="module")
def draw():
    p = pt.matrix("p", dtype="float64")
    u = pt.matrix("u", dtype="float64")
    fn = B.function([p, u], output_sample("categorical", {"theta_mu": p}, {"u_x": u}))
    return fn


class NoiseOnly:
    """A stand-in model for text_noise: uniform u_x (steps, n, V)."""

    def generation_noise(self, rng, n_steps, n):
        return {"u_x": rng.uniform(size=(n_steps, n, V))}


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_the_draw_follows_p_to_the_power_one_over_the_temperature(draw, temperature):
    p = np.array([0.5, 0.25, 0.15, 0.07, 0.03])
    n = 40000
    u = text_noise(NoiseOnly(), np.random.default_rng(0), 1, n, temperature=temperature)["u_x"][0]
    frames = draw(np.tile(p, (n, 1)), u)
    assert np.all(frames.sum(axis=1) == 1)
    want = p ** (1 / temperature) / np.sum(p ** (1 / temperature))
    got = frames.mean(axis=0)
    # Four standard errors of a binomial frequency.
    assert np.all(np.abs(got - want) < 4 * np.sqrt(want * (1 - want) / n) + 1e-9), (got, want)


def test_a_prime_forces_its_symbols_whatever_the_probabilities(draw):
    noise = text_noise(NoiseOnly(), np.random.default_rng(0), 4, 3, prime_ids=[4, 0, 2], temperature=0.7)["u_x"]
    p = np.tile([0.999996, 1e-6, 1e-6, 1e-6, 1e-6], (3, 1))
    assert [int(draw(p, noise[t]).argmax(-1)[0]) for t in range(3)] == [4, 0, 2]
    assert np.all(draw(p, noise[3]).argmax(-1) == 0)  # then the model's own draw


def test_noise_of_a_bad_temperature_or_a_prime_as_long_as_the_steps_is_refused():
    with pytest.raises(ValueError, match="temperature"):
        text_noise(NoiseOnly(), np.random.default_rng(0), 2, 1, temperature=0.0)
    with pytest.raises(ValueError, match="leave none"):
        text_noise(NoiseOnly(), np.random.default_rng(0), 2, 1, prime_ids=[1, 2])
