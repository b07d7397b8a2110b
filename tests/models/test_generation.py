"""Generation from the model: shapes, seeds, pen bits."""
import numpy as np
import pytest
from model_helpers import tiny_config

from nips2015_vrnn.models import build_model


@pytest.fixture(scope="module")
def speech():
    return build_model(tiny_config("blizzard/vrnn_gmm", x_dim=4, z_dim=2, num_k=2, depth=1))


@pytest.fixture(scope="module")
def handwriting():
    return build_model(tiny_config("iamondb/vrnn_gmm", z_dim=2, num_k=2))


def test_speech_frames_have_the_requested_shape_and_are_finite(speech):
    x = speech.generate(n_steps=5, n_sequences=3, seed=1)
    assert x.shape == (5, 3, 4) and x.dtype == np.dtype(speech.dtype)
    assert np.all(np.isfinite(x))


def test_same_seed_same_sequences(speech):
    assert np.array_equal(speech.generate(5, 3, seed=1), speech.generate(5, 3, seed=1))
    assert not np.array_equal(speech.generate(5, 3, seed=1), speech.generate(5, 3, seed=2))


def test_mean_output_differs_from_a_draw(speech):
    mean = speech.generate(5, 3, seed=1, sample_output="mean")
    assert np.array_equal(mean, speech.generate(5, 3, seed=1, sample_output="mean"))
    assert not np.allclose(mean, speech.generate(5, 3, seed=1))


def test_handwriting_pen_bits_are_binary(handwriting):
    x = handwriting.generate(n_steps=30, n_sequences=4, seed=0)
    assert x.shape == (30, 4, 3)
    assert set(np.unique(x[:, :, 0])) <= {0.0, 1.0}
    assert np.all(np.isfinite(x))


def test_invalid_sample_output_is_rejected(speech):
    with pytest.raises(ValueError, match="'sample' or 'mean'"):
        speech.generate(2, 1, sample_output="mode")


# ---------------------------------------------------------------------- the sampling bias
@pytest.fixture(scope="module")
def speech64():
    from cle.backend import Backend
    return build_model(tiny_config("blizzard/vrnn_gmm", x_dim=2, z_dim=2, num_k=3, depth=1),
                       backend=Backend(floatX="float64"))


def test_zero_bias_gives_the_unbiased_samples(speech):
    assert np.array_equal(speech.generate(5, 3, seed=1, bias=0.0), speech.generate(5, 3, seed=1))


def test_one_compiled_generator_serves_every_bias(speech):
    fn = speech.shaped(5, 3).generate_fn()
    sharp = speech.generate(5, 3, seed=1, bias=2.0)
    assert speech.shaped(5, 3).generate_fn() is fn
    assert not np.allclose(sharp, speech.generate(5, 3, seed=1))


@pytest.mark.parametrize("bias", [0.0, 1.5])
def test_first_biased_frame_of_a_tiny_vrnn_matches_a_numpy_oracle(speech64, bias):
    """Frame 1 from s_0 = 0: z from the prior, the decoder's heads (compiled here), then the
    biased mixture draw in numpy (weights softmax(log coeff (1 + b)), deviations sigma e^-b)."""
    import pytensor.tensor as pt

    from cle import backend

    model, n, k = speech64, 50, 3
    got = model.generate(1, n, seed=4, bias=bias)[0]
    noise = model.generation_noise(np.random.default_rng(4), 1, n)
    eps_z = pt.dmatrix("eps_z")
    s_0 = pt.zeros((n, model.config.state_dim), dtype="float64")
    prior_mu, prior_sig = model._prior(s_0)
    heads = model._decoder(model._stack(model.z_names, [prior_mu + prior_sig * eps_z]), s_0)
    names = ["theta_mu", "theta_sig", "coeff"]
    mu, sig, coeff = backend.function([eps_z], [heads[k_] for k_ in names])(noise["eps_z"][0])
    logits = np.log(coeff) * (1 + bias)
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    comp = np.minimum((noise["u"][0][:, None] > np.cumsum(weights, axis=1)).sum(axis=1), k - 1)
    cols = np.arange(2)[None, :] * k + comp[:, None]
    want = (np.take_along_axis(mu, cols, axis=1)
            + np.take_along_axis(sig, cols, axis=1) * np.exp(-bias) * noise["eps_x"][0])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_biased_samples_are_the_same_in_jax_and_c(speech64):
    import jax

    from cle.backend import Backend, start_jax

    x64 = jax.config.jax_enable_x64
    try:
        start_jax("float64")
        jax_model = build_model(speech64.config, backend=Backend(mode="jax", floatX="float64"))
        for bias in (0.0, 1.5):
            np.testing.assert_allclose(jax_model.generate(4, 2, seed=7, bias=bias),
                                       speech64.generate(4, 2, seed=7, bias=bias), rtol=1e-10, atol=1e-12)
    finally:
        jax.config.update("jax_enable_x64", x64)


def test_an_invalid_bias_is_refused(speech):
    with pytest.raises(ValueError, match="> -1"):
        speech.generate(2, 1, bias=-1.0)
