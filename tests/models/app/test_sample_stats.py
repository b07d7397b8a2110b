"""Sample statistics against the training data's: speech envelope, handwriting pen and strokes."""
import numpy as np

from nips2015_vrnn.models.app.sample_stats import compare, handwriting_statistics, speech_statistics

RNG = np.random.default_rng(0)


def test_stationary_noise_has_a_flat_envelope_and_no_silence():
    stats = speech_statistics(RNG.normal(size=(4, 8000)) * 1000, frame_size=200)
    assert stats["envelope_cv"] < 0.2
    assert stats["silent_fraction"] == 0.0


def test_bursts_between_silences_have_a_varying_envelope_and_silent_frames():
    waves = np.zeros((2, 8000))
    waves[:, 2000:3000] = RNG.normal(size=(2, 1000)) * 1000
    stats = speech_statistics(waves, frame_size=200)
    assert stats["silent_fraction"] == 0.875  # 35 of 40 frames
    assert stats["envelope_cv"] > 1.5


def test_handwriting_pen_up_rate_and_stroke_lengths():
    line = np.zeros((10, 3))
    line[[2, 9], 0] = 1.0  # strokes of 3 and 7 steps
    stats = handwriting_statistics([line])
    assert stats["pen_up_rate"] == 0.2
    assert stats["stroke_length_mean"] == 5.0 and stats["stroke_length_median"] == 5.0


def test_compare_is_within_a_factor_only_when_every_ratio_is():
    training = {"a": 1.0, "b": 0.5, "sequences": 10}
    assert compare({"a": 1.9, "b": 0.3, "sequences": 3}, training)["resembles"]
    result = compare({"a": 2.1, "b": 0.5, "sequences": 3}, training)
    assert not result["resembles"] and abs(result["ratio"]["a"] - 2.1) < 1e-12
