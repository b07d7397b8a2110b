"""A source-filter speech-like synthesiser for the demo corpus (16 kHz).

Source: a Rosenberg glottal pulse train whose pitch f0(t) follows a declining, smoothly
wandering contour, differentiated (lip radiation), plus a little aspiration noise.
Filter: a cascade of second-order formant resonators whose frequencies move between vowel
targets syllable by syllable. Fricative onsets are noise through a high resonator; stops
are short silences. Syllables form words of 1-3 syllables, each word followed by a pause, and
every vowel (fricative) is scaled to its own RMS level, so the energy envelope is clear bursts
at about the same level between silences (the structure the demo model learns in a minute).
Resonator for centre F and bandwidth W (Hz), sample rate fs:

    r = exp(-pi W / fs),  y[n] = (1 - r) x[n] + 2 r cos(2 pi F / fs) y[n-1] - r^2 y[n-2]
"""
import numpy as np

from nips2015_vrnn.datasets.audio import TARGET_RATE

#: Sample rate (Hz) of the synthesised speech: the one 16 kHz of the Blizzard pipeline.
RATE = TARGET_RATE

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
#: Std of the background noise added everywhere (a recording's noise floor; no exact zeros).
NOISE_FLOOR = 1e-3

#: Demo voices: base pitch (Hz) and formant scale (vocal-tract length).
VOICES = (
    {"f0": 110.0, "formant_scale": 1.0},
    {"f0": 205.0, "formant_scale": 1.17},
    {"f0": 85.0, "formant_scale": 0.94},
    {"f0": 270.0, "formant_scale": 1.28},
)


def _glottal_source(f0):
    """Differentiated Rosenberg pulses for a per-sample pitch track f0 (n,) Hz -> (n,)."""
    phase = np.cumsum(f0 / RATE) % 1.0
    g = np.where(phase < OPEN_PHASE, 0.5 * (1 - np.cos(np.pi * phase / OPEN_PHASE)), 0.0)
    closing = (phase >= OPEN_PHASE) & (phase < OPEN_PHASE + CLOSE_PHASE)
    g[closing] = np.cos(0.5 * np.pi * (phase[closing] - OPEN_PHASE) / CLOSE_PHASE)
    return np.diff(g, prepend=0.0)


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
    """Utterance plan: list of (kind, n_samples, vowel index), kind in vowel/fric/stop/pause.

    Words of :data:`SYLLABLES_PER_WORD` syllables (an optional fricative or stop onset, then a
    vowel), each word followed by a pause of :data:`PAUSE_S` seconds: clear silences and bursts
    at the scale of the 12.5 ms frames the model sees.
    """
    plan, total = [], 0
    n_target = int(seconds * RATE)
    while total < n_target:
        for _ in range(int(rng.integers(SYLLABLES_PER_WORD[0], SYLLABLES_PER_WORD[1] + 1))):
            onset = rng.choice(["fric", "stop", "none"], p=[0.35, 0.25, 0.4])
            if onset != "none":
                plan.append((onset, int(RATE * rng.uniform(*ONSET_S)), 0))
            plan.append(("vowel", int(RATE * rng.uniform(*VOWEL_S)), int(rng.integers(len(VOWELS)))))
        plan.append(("pause", int(RATE * rng.uniform(*PAUSE_S)), 0))
        total = sum(p[1] for p in plan)
    return plan


def synthesise(seconds, voice, rng):
    """About ``seconds`` of speech-like audio in ``voice``: float64 (n,) in [-1, 1]."""
    plan = _plan(seconds, rng)
    n = sum(p[1] for p in plan)
    t = np.arange(n) / RATE
    wander = np.interp(t, np.linspace(0, t[-1], max(2, int(t[-1] * 3))),
                       rng.normal(0, 0.08, max(2, int(t[-1] * 3))))
    f0 = voice["f0"] * (1.0 + wander) * (1.0 - 0.1 * (t % 2.5) / 2.5)
    voiced = np.zeros(n)
    noise = np.zeros(n)
    targets = np.zeros((n // HOP + 1, 3))
    pos = 0
    for kind, length, vowel in plan:
        env = np.sin(np.linspace(0, np.pi, length)) ** 0.5
        if kind == "vowel":
            voiced[pos:pos + length] = env
        elif kind == "fric":
            noise[pos:pos + length] = env
        targets[pos // HOP:(pos + length) // HOP + 1] = VOWELS[vowel] * voice["formant_scale"]
        pos += length
    kernel = np.ones(8) / 8  # 40 ms moving average: formant transitions, not jumps
    targets = np.column_stack([np.convolve(targets[:, i], kernel, mode="same") for i in range(3)])
    targets = np.maximum(targets, 200.0)
    source = _glottal_source(f0) * voiced + rng.normal(0, 5e-4, n) * voiced
    y = source
    for i in range(3):
        y = _resonate(y, targets[:, i], BANDWIDTHS[i])
    fric = _resonate(rng.normal(0, 1, n) * noise, np.full(n // HOP + 1, 4200.0), 900.0)
    out = rng.normal(0, NOISE_FLOOR, n)
    pos = 0
    for kind, length, _ in plan:  # each vowel and fricative at its own level (a stressed syllable is louder)
        if kind in ("vowel", "fric"):
            part = (y if kind == "vowel" else fric)[pos:pos + length]
            level = VOWEL_RMS * (1.0 if kind == "vowel" else FRICATIVE_LEVEL) * rng.uniform(*STRESS)
            out[pos:pos + length] += level * part / (np.sqrt(np.mean(part ** 2)) + 1e-12)
        pos += length
    return np.tanh(out)
