"""A source-filter speech-like synthesiser for the demo corpus (16 kHz).

Source: a Rosenberg glottal pulse train at a constant pitch locked to the model's frames (the
pitch period divides the :data:`FRAME` of 200 samples, and the pulses sit at the same place in
every frame of a file), differentiated (lip radiation), plus a little aspiration noise: so every
voiced frame of a vowel is the same waveform up to its level and formant transition, a shape a
small model can learn from raw 200-sample frames (a wandering pitch moves the pulses from frame
to frame: a harder target, on which the earlier demo model's samples were broadband noise).
Filter: a cascade of second-order formant resonators whose frequencies move between vowel
targets syllable by syllable. Fricative onsets are noise through a high resonator; stops
are short silences. Syllables form words of 1-3 syllables, each word followed by a pause, and
every vowel (fricative) is scaled to its own RMS level, so the energy envelope is clear bursts
at about the same level between silences (the structure the demo model learns in a minute).
Every segment is a whole number of frames, and a pause is silent but for a faint noise floor
(:data:`NOISE_FLOOR`, 57 dB below the vowels).
Resonator for centre F and bandwidth W (Hz), sample rate fs:

    r = exp(-pi W / fs),  y[n] = (1 - r) x[n] + 2 r cos(2 pi F / fs) y[n-1] - r^2 y[n-2]
"""
import numpy as np

from nips2015_vrnn.datasets.audio import TARGET_RATE
from nips2015_vrnn.datasets.blizzard import FRAME_SIZE

#: Sample rate (Hz) of the synthesised speech: the one 16 kHz of the Blizzard pipeline.
RATE = TARGET_RATE
#: Samples per model frame (the Blizzard frame): segment lengths and pitch periods fit it.
FRAME = FRAME_SIZE

#: Vowel formant targets F1, F2, F3 (Hz) of an adult male voice (Peterson & Barney style).
VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240],
                   [530, 1840, 2480], [570, 840, 2410], [660, 1720, 2410]], dtype=np.float64)
#: Formant bandwidths (Hz) for F1, F2, F3.
BANDWIDTHS = np.array([80.0, 100.0, 150.0])
#: Samples per filter update: formants move every 5 ms.
HOP = 80
#: Rosenberg pulse: opening phase and closing phase, as fractions of the pitch period.
OPEN_PHASE, CLOSE_PHASE = 0.4, 0.16

#: RMS of a vowel (before its stress factor); tanh bounds the peaks to +-1.
VOWEL_RMS = 0.15
#: RMS of a fricative relative to a vowel's (about -10 dB: the vowels carry the energy).
FRICATIVE_LEVEL = 0.3
#: Range of a syllable's stress: the factor on its level.
STRESS = (0.7, 1.3)
#: Syllables per word (inclusive range); each word is followed by a pause.
SYLLABLES_PER_WORD = (1, 3)
#: Durations (s): a consonant onset (fricative noise or stop silence), a vowel, a pause.
ONSET_S, VOWEL_S, PAUSE_S = (0.03, 0.09), (0.1, 0.28), (0.12, 0.4)
#: Attack and decay (s) of every vowel and fricative, which are otherwise at a steady level (so a
#: vowel's frames repeat, and its end is a fade, not a click).
RAMP_S = 0.02
#: Std of the background noise added everywhere (a recording's noise floor; no exact zeros).
NOISE_FLOOR = 2e-4

#: Demo voices: pitch (Hz; its period, RATE / f0 samples, divides :data:`FRAME`) and formant
#: scale (vocal-tract length).
VOICES = (
    {"f0": 80.0, "formant_scale": 1.0},
    {"f0": 160.0, "formant_scale": 1.17},
    {"f0": 80.0, "formant_scale": 0.94},
    {"f0": 320.0, "formant_scale": 1.28},
)


def pitch_period(f0):
    """The pitch period in samples of ``f0`` Hz; a ValueError unless it divides :data:`FRAME`."""
    period = RATE / f0
    if period != round(period) or FRAME % round(period):
        raise ValueError(f"f0 {f0!r} Hz: its period of {period:g} samples must divide the {FRAME}-sample frame")
    return int(round(period))


def _glottal_source(n, f0):
    """Differentiated Rosenberg pulses at a constant ``f0`` Hz, (n,): a pulse opens at every
    multiple of the period from sample 0."""
    period = pitch_period(f0)
    phase = (np.arange(n) % period) / period
    g = np.where(phase < OPEN_PHASE, 0.5 * (1 - np.cos(np.pi * phase / OPEN_PHASE)), 0.0)
    closing = (phase >= OPEN_PHASE) & (phase < OPEN_PHASE + CLOSE_PHASE)
    g[closing] = np.cos(0.5 * np.pi * (phase[closing] - OPEN_PHASE) / CLOSE_PHASE)
    return np.diff(g, prepend=0.0)


def envelope(length):
    """The level of a sound of ``length`` samples, (length,): 1, with raised-cosine ramps of
    :data:`RAMP_S` (at most half the sound) from and back to 0 at its ends."""
    ramp = min(int(RAMP_S * RATE), length // 2)
    env = np.ones(length)
    if ramp:
        rise = 0.5 * (1 - np.cos(np.pi * np.arange(ramp) / ramp))
        env[:ramp], env[length - ramp:] = rise, rise[::-1]
    return env


def _resonate(x, freqs, bandwidth):
    """Filter x (n,) through one resonator whose centre follows freqs (n // HOP + 1,) Hz."""
    import scipy.signal  # here, not at import: it costs every command a second to load

    out = np.empty_like(x)
    zi = np.zeros(2)
    r = np.exp(-np.pi * bandwidth / RATE)
    for k, start in enumerate(range(0, len(x), HOP)):
        a = [1.0, -2.0 * r * np.cos(2 * np.pi * freqs[k] / RATE), r * r]
        out[start:start + HOP], zi = scipy.signal.lfilter([1.0 - r], a, x[start:start + HOP], zi=zi)
    return out


def _plan(seconds, rng):
    """Utterance plan: list of (kind, n_samples, vowel index), kind in vowel/fric/stop/pause,
    every n_samples a multiple of :data:`FRAME`.

    Words of :data:`SYLLABLES_PER_WORD` syllables (an optional fricative or stop onset, then a
    vowel), each word followed by a pause of :data:`PAUSE_S` seconds: clear silences and bursts
    at the scale of the 12.5 ms frames the model sees.
    """
    plan, total = [], 0
    n_target = int(seconds * RATE)

    def frames(span):
        return FRAME * max(1, int(round(RATE * rng.uniform(*span) / FRAME)))

    while total < n_target:
        for _ in range(int(rng.integers(SYLLABLES_PER_WORD[0], SYLLABLES_PER_WORD[1] + 1))):
            onset = rng.choice(["fric", "stop", "none"], p=[0.35, 0.25, 0.4])
            if onset != "none":
                plan.append((onset, frames(ONSET_S), 0))
            plan.append(("vowel", frames(VOWEL_S), int(rng.integers(len(VOWELS)))))
        plan.append(("pause", frames(PAUSE_S), 0))
        total = sum(p[1] for p in plan)
    return plan


def synthesise(seconds, voice, rng):
    """About ``seconds`` of speech-like audio in ``voice``: float64 (n,) in [-1, 1], n a multiple
    of :data:`FRAME` (so files joined end to end keep the pulses in place within the frames)."""
    plan = _plan(seconds, rng)
    n = sum(p[1] for p in plan)
    voiced = np.zeros(n)
    noise = np.zeros(n)
    targets = np.zeros((n // HOP + 1, 3))
    pos = 0
    for kind, length, vowel in plan:
        if kind == "vowel":
            voiced[pos:pos + length] = 1.0
        elif kind == "fric":
            noise[pos:pos + length] = 1.0
        targets[pos // HOP:(pos + length) // HOP + 1] = VOWELS[vowel] * voice["formant_scale"]
        pos += length
    kernel = np.ones(8) / 8  # 40 ms moving average: formant transitions, not jumps
    targets = np.column_stack([np.convolve(targets[:, i], kernel, mode="same") for i in range(3)])
    targets = np.maximum(targets, 200.0)
    source = _glottal_source(n, voice["f0"]) * voiced + rng.normal(0, 5e-4, n) * voiced
    y = source
    for i in range(3):
        y = _resonate(y, targets[:, i], BANDWIDTHS[i])
    fric = _resonate(rng.normal(0, 1, n) * noise, np.full(n // HOP + 1, 4200.0), 900.0)
    out = rng.normal(0, NOISE_FLOOR, n)
    pos = 0
    for kind, length, _ in plan:  # each vowel and fricative at its own level (a stressed syllable is louder)
        if kind in ("vowel", "fric"):
            part = (y if kind == "vowel" else fric)[pos:pos + length] * envelope(length)
            level = VOWEL_RMS * (1.0 if kind == "vowel" else FRICATIVE_LEVEL) * rng.uniform(*STRESS)
            out[pos:pos + length] += level * part / (np.sqrt(np.mean(part ** 2)) + 1e-12)
        pos += length
    return np.tanh(out)
