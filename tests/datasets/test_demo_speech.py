import numpy as np

from nips2015_vrnn.datasets.audio import TARGET_RATE
from nips2015_vrnn.datasets.demo_speech import RATE, VOICES, synthesise


def test_demo_rate_is_the_one_16k_constant():
    assert RATE is TARGET_RATE == 16000


def test_synthesised_speech_is_bounded_and_about_the_asked_length():
    y = synthesise(2.0, VOICES[0], np.random.default_rng(0))
    assert np.all(np.isfinite(y)) and np.abs(y).max() <= 1.0
    assert 2.0 * RATE <= len(y) < 2.6 * RATE


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
