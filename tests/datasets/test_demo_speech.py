import numpy as np
import pytest

from nips2015_vrnn.datasets.audio import TARGET_RATE
from nips2015_vrnn.datasets.demo import DEMO_VOICES
from nips2015_vrnn.datasets.demo_speech import FRAME, RATE, VOICES, VOWEL_RMS, pitch_period, synthesise
from nips2015_vrnn.models.app.sample_stats import SILENCE_LEVEL, speech_statistics


def test_demo_rate_is_the_one_16k_constant():
    assert RATE is TARGET_RATE == 16000


def test_synthesised_speech_is_bounded_and_about_the_asked_length_in_whole_frames():
    y = synthesise(2.0, VOICES[0], np.random.default_rng(0))
    assert np.all(np.isfinite(y)) and np.abs(y).max() <= 1.0
    assert 2.0 * RATE <= len(y) < 2.6 * RATE
    assert len(y) % FRAME == 0


def test_every_voice_has_a_pitch_period_that_divides_the_frame():
    for voice in VOICES:
        assert FRAME % round(RATE / voice["f0"]) == 0
        assert pitch_period(voice["f0"]) == RATE / voice["f0"]
    with pytest.raises(ValueError, match="divide"):
        pitch_period(110.0)  # 145.45 samples


def test_a_steady_vowel_repeats_its_frame():
    # Pitch locked to the frames: the loud frames of a vowel's steady part equal the previous
    # frame (correlation ~1); a wandering pitch would shift the pulses from frame to frame.
    for voice in VOICES[:DEMO_VOICES]:
        frames = synthesise(10.0, voice, np.random.default_rng(2)).reshape(-1, FRAME)
        rms = np.sqrt((frames ** 2).mean(axis=1))
        pairs = (rms[1:] > 0.5 * VOWEL_RMS) & (rms[:-1] > 0.5 * VOWEL_RMS)
        a, b = frames[1:][pairs], frames[:-1][pairs]
        corr = (a * b).sum(axis=1) / np.sqrt((a ** 2).sum(axis=1) * (b ** 2).sum(axis=1))
        assert pairs.sum() > 100
        assert np.mean(corr > 0.99) > 0.5


def test_demo_speech_pauses_are_silent_and_its_loud_frames_harmonic():
    # The samples' targets: near-silent 20 ms frames (40 dB under the loud ones) in the pauses,
    # and a low spectral flatness of the loud frames (white noise: 0.56).
    stats = speech_statistics(_rows(), FRAME)
    assert 0.3 < stats["near_silent_fraction"] < 0.5
    assert stats["loud_flatness"] < 0.03


def _median_pitch(y, frame=640):
    """Median autocorrelation pitch (Hz) of the clearly periodic 40 ms frames."""
    lo, hi = RATE // 400, RATE // 60  # periods of 400 Hz down to 60 Hz
    found = []
    for start in range(0, len(y) - frame, frame):
        f = y[start:start + frame] - y[start:start + frame].mean()
        ac = np.correlate(f, f, "full")[frame - 1:]
        if ac[0] <= 0:
            continue
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.6 * ac[0]:
            found.append(RATE / lag)
    return float(np.median(found))


def test_each_voice_speaks_near_its_base_pitch():
    for voice in (VOICES[2], VOICES[3]):
        pitch = _median_pitch(synthesise(3.0, voice, np.random.default_rng(1)))
        assert 0.7 * voice["f0"] < pitch < 1.3 * voice["f0"]


def _rows(seconds=10.0, seed=0):
    """Both demo voices, ``seconds`` each, cut into 0.5 s rows as the Blizzard preparation does."""
    rng = np.random.default_rng(seed)
    wave = np.concatenate([synthesise(seconds, VOICES[v], rng) for v in range(DEMO_VOICES)])
    return wave[:len(wave) // 8000 * 8000].reshape(-1, 8000)


def test_demo_speech_is_words_between_pauses_at_the_frame_scale():
    # The design: ~40 % of the 200-sample frames near-silent, envelope CV ~1 (words and pauses).
    stats = speech_statistics(_rows(), 200)
    assert 0.3 < stats["silent_fraction"] < 0.5
    assert 0.8 < stats["envelope_cv"] < 1.4


def test_every_vowel_is_at_about_the_same_level():
    # Each syllable is scaled to VOWEL_RMS times its stress: no frame class dominates the energy.
    frames = _rows().reshape(-1, 200)
    rms = np.sqrt((frames ** 2).mean(axis=1))
    loud = rms[rms > SILENCE_LEVEL * rms.mean()]
    assert np.percentile(loud, 95) < 2.5 * np.median(loud)
    assert 0.5 * VOWEL_RMS < np.median(loud) < 2.0 * VOWEL_RMS
