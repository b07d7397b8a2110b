"""Sample statistics against the training data's: speech envelope, handwriting pen and strokes."""
import json

import numpy as np
import pytest

from nips2015_vrnn.models.app.sample_stats import (
    compare,
    handwriting_statistics,
    loud_flatness,
    near_silent_fraction,
    speech_statistics,
    turning_angle,
    write_statistics,
)

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


# ---------------------------------------------------------------- 20 ms near-silence and flatness
def _tone(seconds, hz=440.0, rate=16000):
    return 3000 * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)


def test_a_tone_then_silence_is_near_silent_for_exactly_the_silent_frames():
    wave = np.concatenate([_tone(0.3), np.zeros(int(0.2 * 16000))])   # 15 loud frames, 10 silent
    assert near_silent_fraction([wave], 16000) == 0.4


def test_a_quieter_but_not_silent_stretch_is_not_near_silent():
    wave = np.concatenate([_tone(0.3), 0.05 * _tone(0.2)])             # 26 dB down, not 40
    assert near_silent_fraction([wave], 16000) == 0.0


def test_a_pure_tone_is_harmonic_and_white_noise_is_flat():
    assert loud_flatness([_tone(0.5)], 16000) < 0.01
    noise = RNG.normal(size=(4, 16000)) * 1000
    assert abs(loud_flatness(noise, 16000) - np.exp(-np.euler_gamma)) < 0.05
    assert near_silent_fraction(noise, 16000) == 0.0


def test_silence_after_a_tone_does_not_count_in_the_flatness():
    wave = np.concatenate([_tone(0.3), np.zeros(3200)])
    assert loud_flatness([wave], 16000) == loud_flatness([_tone(0.3)], 16000)


def test_speech_statistics_hold_the_20ms_measures():
    stats = speech_statistics(np.concatenate([_tone(0.3), np.zeros(3200)])[None], frame_size=200)
    assert stats["near_silent_fraction"] == 0.4 and stats["loud_flatness"] < 0.01


# ---------------------------------------------------------------- statistics.json and comparison.png
class _Split:
    def __init__(self, batch):
        self.batch, self.batch_size = batch, batch[0].shape[1]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def num_examples(self):
        return self.batch_size

    def slices(self, start, stop):
        return [b[:, start:stop] for b in self.batch]


class _Run:
    """A run's face to write_statistics: its kind of data, normalisation and training split."""

    def __init__(self, data, batch, x_dim, log_path="missing.jsonl", sample_output="sample"):
        from types import SimpleNamespace
        self.config = SimpleNamespace(data=data, x_dim=x_dim, cost_norm="frame_mean", family="vrnn",
                                      sample_output=sample_output)
        self.normalisation = (0.0, 1.0)
        self.batch, self.log_path = batch, log_path

    def open_split(self, split):
        return _Split(self.batch)


def test_speech_statistics_json_records_the_bias_and_the_picture_is_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    tone = _tone(0.5).reshape(40, 1, 200)                                # (T, B, F) training frames
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in [
        {"event": "monitor", "batch_seen": 10, "kl_term": 0.5, "valid_kl_term": 0.25},
        {"event": "monitor", "batch_seen": 20, "kl_term": 0.125, "valid_kl_term": 0.0625}, {"event": "end"}]))
    run = _Run("speech", [np.concatenate([tone, tone * 0], axis=1)], 200, log_path=log, sample_output="mean")
    out = tmp_path / "out"
    out.mkdir()
    result = write_statistics(run, RNG.normal(size=(40, 2, 200)) * 1000, out, bias=1.5)
    saved = json.loads((out / "statistics.json").read_text())
    assert saved["bias"] == 1.5 and saved["samples"]["near_silent_fraction"] == 0.0
    assert saved["sample_output"] == "mean"
    assert saved["kl_term"] == {"train": 0.125, "valid": 0.0625, "per": "frame", "batch_seen": 20}
    assert saved["training"]["near_silent_fraction"] == 0.5 and saved["training"]["loud_flatness"] < 0.01
    assert (out / "comparison.png").stat().st_size > 0 and len(result["files"]) == 2


def test_handwriting_comparison_is_drawn_at_one_scale(tmp_path):
    pytest.importorskip("matplotlib")
    line = np.zeros((30, 2, 3))
    line[:, :, 1] = 1.0
    line[:, :, 2] = np.sin(np.arange(30))[:, None]
    line[[9, 19, 29], :, 0] = 1.0
    run = _Run("handwriting", [line, np.ones((30, 2))], 3)
    result = write_statistics(run, line[:20] * 3, tmp_path)
    assert result["bias"] == 0.0 and "kl_term" not in result and (tmp_path / "comparison.png").is_file()


# ---------------------------------------------------------------- handwriting smoothness
def _line(offsets, lifts=()):
    line = np.zeros((len(offsets), 3))
    line[:, 1:] = offsets
    line[list(lifts), 0] = 1.0
    return line


def test_a_straight_or_circular_stroke_barely_turns_and_a_random_walk_turns_a_right_angle_on_average():
    assert turning_angle([_line(np.tile([[1.0, 0.5]], (20, 1)))]) == 0.0
    angles = np.linspace(0, 2 * np.pi, 101)
    circle = np.diff(np.stack([np.cos(angles), np.sin(angles)], axis=1), axis=0)
    assert abs(turning_angle([_line(circle)]) - 2 * np.pi / 100) < 1e-9
    walk = RNG.normal(size=(20000, 2))
    assert abs(turning_angle([_line(walk)]) - np.pi / 2) < 0.03


def test_the_turn_across_a_pen_lift_does_not_count():
    line = _line([[1, 0], [1, 0], [0, 1], [0, 1]], lifts=[1])   # stroke 1 goes right, stroke 2 up
    assert turning_angle([line]) == 0.0
    assert "turning_angle" in handwriting_statistics([line])
