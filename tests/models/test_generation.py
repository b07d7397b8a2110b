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
