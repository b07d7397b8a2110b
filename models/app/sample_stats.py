"""Do generated sequences resemble the training data? Statistics of both, side by side.

Speech (of the de-normalised waveform, in frames of ``x_dim`` samples):

- ``envelope_cv``: coefficient of variation (std / mean) of the frames' RMS energy within a
  sequence, averaged over sequences: about 0.1 for stationary noise, above 1 for speech with
  silences and bursts;
- ``silent_fraction``: fraction of frames whose RMS is below :data:`SILENCE_LEVEL` times the mean
  frame RMS of their set;
- ``near_silent_fraction``: fraction of 20 ms analysis frames (:data:`ANALYSIS_FRAME_S`) more than
  :data:`NEAR_SILENCE_DB` (40 dB) below the loud frames (the :data:`LOUD_PERCENTILE`-th percentile
  of the set's frame RMS): silence that is silent, not merely quieter noise;
- ``loud_flatness``: the mean spectral flatness (geometric over arithmetic mean of the Hann-windowed
  power spectrum, DC excluded) of the loud analysis frames (within :data:`LOUD_DB` of that
  percentile): near 0 for a voiced, harmonic sound, about 0.56 (``exp(-Euler's gamma)``, the
  periodogram of white noise) for broadband noise.

Handwriting (of the [pen, dx, dy] steps):

- ``pen_up_rate``: fraction of steps that end a stroke (pen bit > 0.5);
- ``stroke_length_mean`` / ``stroke_length_median``: steps per stroke;
- ``turning_angle``: the mean absolute angle (radians) between consecutive pen-down offsets of a
  stroke: small for smooth cursive lines, about pi/2 for a random walk (isotropic steps).

:func:`compare` puts the samples' and the training data's statistics side by side with their
ratios and says whether every ratio is within :data:`FACTOR` (the demo's target).

Example
-------
>>> steps = np.array([[0, 1, 0], [1, 1, 0], [0, 0, 1], [0, 0, 1], [1, 0, 1]], dtype=float)
>>> handwriting_statistics([steps])['pen_up_rate']
0.4
"""
import json
import os
from pathlib import Path

import numpy as np

from nips2015_vrnn.datasets.audio import TARGET_RATE as RATE

__all__ = ["speech_statistics", "handwriting_statistics", "compare", "training_examples",
           "write_statistics", "near_silent_fraction", "loud_flatness", "turning_angle", "SILENCE_LEVEL", "FACTOR",
           "STATS_FILE"]

#: A frame is near-silent below this fraction of its set's mean frame RMS.
SILENCE_LEVEL = 0.1
#: The samples resemble the data when each statistic is within this factor of the data's.
FACTOR = 2.0
#: File name of the statistics in a sample folder.
STATS_FILE = "statistics.json"
#: Sequence kinds whose samples these statistics describe.
STATS_KINDS = ("speech", "handwriting")
#: Training sequences the data's statistics are computed on (at most).
TRAIN_PROBE = 64
#: Length of the analysis frames of near-silence and flatness, in seconds (20 ms, a speech frame).
ANALYSIS_FRAME_S = 0.020
#: The loud frames' level: this percentile of the set's analysis-frame RMS.
LOUD_PERCENTILE = 99
#: A frame is near-silent more than this many dB below the loud frames' level.
NEAR_SILENCE_DB = 40.0
#: A frame is loud (its flatness counts) within this many dB of the loud frames' level.
LOUD_DB = 20.0
#: Added to the power spectrum before its logarithm (an exactly zero bin stays finite).
POWER_FLOOR = 1e-20


def _analysis_frames(waves, rate):
    """Waveforms (n, samples) -> frames (m, L) of L = 20 ms at ``rate`` and their RMS (m,)."""
    waves = np.asarray(waves, dtype=np.float64)
    length = int(round(ANALYSIS_FRAME_S * rate))
    count = waves.shape[1] // length
    frames = waves[:, :count * length].reshape(-1, length)
    return frames, np.sqrt((frames ** 2).mean(axis=1))


def _loud_level(rms):
    return float(np.percentile(rms, LOUD_PERCENTILE)) if len(rms) else 0.0


def near_silent_fraction(waves, rate):
    """Fraction of 20 ms frames of ``waves`` (n, samples) more than 40 dB below the set's loud
    frames (the 99th percentile of frame RMS); 0 for a set that is all silence.

    >>> tone = np.sin(np.arange(16000) * 0.1)
    >>> near_silent_fraction([np.concatenate([tone, np.zeros(16000)])], 16000)
    0.5
    """
    frames, rms = _analysis_frames(waves, rate)
    level = _loud_level(rms)
    if level <= 0:
        return 0.0
    return float(np.mean(rms < level * 10 ** (-NEAR_SILENCE_DB / 20)))


def loud_flatness(waves, rate):
    """Mean spectral flatness of the loud 20 ms frames of ``waves`` (n, samples) (within 20 dB of
    the 99th percentile of frame RMS): Hann-windowed power spectrum P (DC excluded),
    ``exp(mean log P) / mean P``; 0 for a pure tone's bins, about 0.56 for white noise; 1 for a
    set without sound."""
    frames, rms = _analysis_frames(waves, rate)
    level = _loud_level(rms)
    if level <= 0:
        return 1.0
    loud = frames[rms >= level * 10 ** (-LOUD_DB / 20)]
    power = np.abs(np.fft.rfft(loud * np.hanning(loud.shape[1]), axis=1))[:, 1:] ** 2 + POWER_FLOOR
    return float(np.mean(np.exp(np.log(power).mean(axis=1)) / power.mean(axis=1)))


def speech_statistics(waves, frame_size, rate=RATE):
    """Statistics of waveforms (n, samples) cut into frames of ``frame_size`` samples (the 20 ms
    measures at ``rate`` Hz)."""
    waves = np.asarray(waves, dtype=np.float64)
    n_frames = waves.shape[1] // frame_size
    frames = waves[:, :n_frames * frame_size].reshape(len(waves), n_frames, frame_size)
    rms = np.sqrt((frames ** 2).mean(axis=2))                       # (n, frames)
    cv = rms.std(axis=1) / np.maximum(rms.mean(axis=1), 1e-12)
    silent = rms < SILENCE_LEVEL * max(rms.mean(), 1e-12)
    return {"envelope_cv": float(cv.mean()), "silent_fraction": float(silent.mean()),
            "near_silent_fraction": near_silent_fraction(waves, rate), "loud_flatness": loud_flatness(waves, rate),
            "sequences": int(len(waves))}


def handwriting_statistics(lines):
    """Statistics of lines, each (T, 3) [pen, dx, dy] steps (padding removed)."""
    pen = np.concatenate([np.asarray(line)[:, 0] > 0.5 for line in lines])
    lengths = []
    for line in lines:
        ends = np.flatnonzero(np.asarray(line)[:, 0] > 0.5)
        bounds = np.concatenate([[-1], ends, [len(line) - 1]])
        lengths.extend(int(n) for n in np.diff(bounds) if n > 0)
    lengths = np.asarray(lengths or [0], dtype=np.float64)
    return {"pen_up_rate": float(pen.mean()), "stroke_length_mean": float(lengths.mean()),
            "stroke_length_median": float(np.median(lengths)), "turning_angle": turning_angle(lines),
            "sequences": int(len(lines))}


def turning_angle(lines):
    """Mean absolute turning angle (radians, in [0, pi]) between consecutive pen-down offsets.

    Step t of a line [pen, dx, dy] is drawn when step t - 1 did not lift the pen; each pair of
    consecutive drawn steps with nonzero offsets turns by the difference of their directions,
    wrapped to (-pi, pi]. 0 for straight strokes (and for lines without such a pair).

    >>> zigzag = np.array([[0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]], dtype=float)
    >>> round(turning_angle([zigzag]), 4)      # turns of +-90 degrees
    1.5708
    """
    turns = []
    for line in lines:
        line = np.asarray(line, dtype=np.float64)
        drawn = np.zeros(len(line), dtype=bool)
        drawn[1:] = line[:-1, 0] < 0.5
        moving = np.hypot(line[:, 1], line[:, 2]) > 0
        pair = drawn[:-1] & drawn[1:] & moving[:-1] & moving[1:]
        heading = np.arctan2(line[:, 2], line[:, 1])
        turn = np.angle(np.exp(1j * (heading[1:] - heading[:-1])))
        turns.append(np.abs(turn[pair]))
    turns = np.concatenate(turns) if turns else np.zeros(0)
    return float(turns.mean()) if len(turns) else 0.0


def compare(samples, training, factor=FACTOR):
    """Samples' and training statistics with ratios; ``resembles``: every ratio within ``factor``."""
    ratios = {}
    for key, value in training.items():
        if key == "sequences":
            continue
        ratios[key] = float(samples[key] / value) if value else (1.0 if samples[key] == 0 else float("inf"))
    within = all(1 / factor <= r <= factor for r in ratios.values())
    return {"samples": samples, "training": training, "ratio": ratios, "factor": factor,
            "resembles": bool(within)}


def training_examples(run, n=TRAIN_PROBE):
    """Up to ``n`` training sequences: speech waveforms (n, samples) or handwriting lines."""
    with run.open_split("train") as data:
        count = min(getattr(data, "batch_size", None) or n, n, data.num_examples())
        batch = data.slices(0, count)
    x_mean, x_std = run.normalisation
    if run.config.data == "speech":
        from nips2015_vrnn.datasets.audio import frames_to_waveforms
        return frames_to_waveforms(np.asarray(batch[0]), x_mean, x_std)
    x, mask = np.asarray(batch[0], dtype=np.float64), np.asarray(batch[1])
    return [x[:int(mask[:, b].sum()), b] * x_std + x_mean for b in range(x.shape[1])]


def statistics_of(run, kind_items):
    if run.config.data == "speech":
        return speech_statistics(kind_items, run.config.x_dim)
    return handwriting_statistics(kind_items)


def write_statistics(run, frames, out_dir, bias=0.0):
    """Compare generated ``frames`` (T, n, x_dim, normalised) with the run's training data;
    write ``statistics.json`` (and ``comparison.png`` with matplotlib) into ``out_dir``.

    Returns the comparison dict (see :func:`compare`, with ``bias``: the sampling bias the
    frames were drawn with, ``sample_output``: the run's 'sample' (full draws) or 'mean' (each
    frame the mean of its drawn component, see :class:`~nips2015_vrnn.models.config.ModelConfig`),
    and ``kl_term`` when the run's log has one: the last monitoring step's KL term, see
    :func:`~nips2015_vrnn.models.app.runlog.last_kl_terms`) and ``files``.
    """
    x_mean, x_std = run.normalisation
    frames = np.asarray(frames, dtype=np.float64)
    if run.config.data == "speech":
        from nips2015_vrnn.datasets.audio import frames_to_waveforms
        generated = frames_to_waveforms(frames, x_mean, x_std)
    else:
        generated = [frames[:, b] * x_std + x_mean for b in range(frames.shape[1])]
    training = training_examples(run)
    result = compare(statistics_of(run, generated), statistics_of(run, training))
    result["bias"] = float(bias)
    result["sample_output"] = run.config.sample_output
    kl = _logged_kl(run)
    if kl is not None:
        result["kl_term"] = kl
    path = out_dir / STATS_FILE
    tmp = out_dir / f".{STATS_FILE}.tmp"
    tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    files = [path]
    from nips2015_vrnn.models.app import plotting
    if plotting.have_matplotlib():
        files.append(_comparison_png(run, generated, training, out_dir / "comparison.png", result))
    result["files"] = files
    return result


def _logged_kl(run):
    """The last KL term of the run's log (None for an RNN, without a log or a KL term)."""
    from nips2015_vrnn.models.app import runlog

    path = Path(run.log_path)
    if run.config.family != "vrnn" or not path.is_file():
        return None
    return runlog.last_kl_terms(runlog.read_log(path), run.config.cost_norm)


def _stats_text(result):
    """The statistics as lines for the picture: ``name: samples vs training (ratio)``."""
    lines = [f"{key}: samples {result['samples'][key]:.3g} vs training {value:.3g} "
             f"(ratio {result['ratio'][key]:.2f})"
             for key, value in result["training"].items() if key != "sequences"]
    verdict = "within" if result["resembles"] else "not within"
    bias = f", sampled at bias {result['bias']:g}" if result.get("bias") else ""
    if result.get("sample_output") == "mean":
        bias += ", each frame the mean of its drawn component"
    kl = ""
    if result.get("kl_term"):
        from nips2015_vrnn.models.app.runlog import format_kl
        kl = "; training log: " + format_kl(result["kl_term"])
    return ("   ".join(lines[:2]) + "\n" + "   ".join(lines[2:])
            + f"\n({verdict} a factor {result['factor']:g}{bias}){kl}")


def _comparison_png(run, generated, training, path, result, rows=3):
    """Training examples beside samples, ``rows`` of each, compared like with like: speech cut to
    the same duration on one time axis in seconds, each waveform beside its log-magnitude
    spectrogram (one color scale for all); handwriting cut to the same number of steps and drawn
    at one scale and stroke width; the statistics printed under the pictures."""
    from nips2015_vrnn.models.app import plotting

    plt = plotting.pyplot()
    rows = min(rows, len(generated), len(training))
    if run.config.data == "speech":
        fig = _speech_comparison(plt, training[:rows], generated[:rows])
    else:
        fig = _handwriting_comparison(plt, training[:rows], generated[:rows])
    # Room under the panels for the three lines of statistics (an inch), and right of them for a colorbar.
    height = fig.get_size_inches()[1]
    fig.subplots_adjust(left=0.05, right=0.92, top=1 - 0.4 / height, bottom=1.0 / height, wspace=0.25,
                        hspace=0.35)
    fig.text(0.5, 0.1 / height, _stats_text(result), ha="center", va="bottom", fontsize=8, family="monospace")
    if run.config.data == "speech":
        fig.colorbar(fig.axes[1].images[0], cax=fig.add_axes((0.935, 1.0 / height, 0.008, 1 - 1.4 / height)),
                     label="dB")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


#: Spectrograms: 20 ms Hann windows with 10 ms hops; the color scale spans this many dB below the
#: loudest bin of all the panels.
SPECTROGRAM_RANGE_DB = 80.0


def _spectrogram_db(wave, rate=RATE):
    """Log-magnitude spectrogram (frequencies, frames) in dB of one waveform (n,)."""
    length = int(round(ANALYSIS_FRAME_S * rate))
    hop = length // 2
    count = max(1 + (len(wave) - length) // hop, 1)
    frames = np.stack([wave[i * hop:i * hop + length] for i in range(count)])
    power = np.abs(np.fft.rfft(frames * np.hanning(length), axis=1)) ** 2
    return 10 * np.log10(power.T + POWER_FLOOR)


def _speech_comparison(plt, training, generated, rate=RATE):
    waves = [np.asarray(w, dtype=np.float64) for w in list(training) + list(generated)]
    n = min(len(w) for w in waves)
    waves = [w[:n] for w in waves]
    specs = [_spectrogram_db(w, rate) for w in waves]
    top = max(float(sp.max()) for sp in specs)
    peak = max(float(np.abs(w).max()) for w in waves) or 1.0
    rows = len(training)
    fig, axes = plt.subplots(rows, 4, figsize=(16, 2.0 * rows + 1.4), squeeze=False, sharex=True)
    seconds = np.arange(n) / rate
    for row in range(rows):
        for half, title in ((0, "training data"), (1, "samples")):
            wave, spec = waves[half * rows + row], specs[half * rows + row]
            ax_w, ax_s = axes[row, 2 * half], axes[row, 2 * half + 1]
            ax_w.plot(seconds, wave, linewidth=0.4)
            ax_w.set_ylim(-1.05 * peak, 1.05 * peak)
            ax_s.imshow(spec, origin="lower", aspect="auto", cmap="magma",
                                extent=(0, n / rate, 0, rate / 2000), vmin=top - SPECTROGRAM_RANGE_DB, vmax=top)
            ax_s.set_ylabel("kHz")
            if row == 0:
                ax_w.set_title(f"{title}: waveform")
                ax_s.set_title(f"{title}: spectrogram (dB)")
            if row == rows - 1:
                ax_w.set_xlabel("time (s)")
                ax_s.set_xlabel("time (s)")
    return fig


def _handwriting_comparison(plt, training, generated, linewidth=1.0):
    from nips2015_vrnn.datasets.iamondb import offsets_to_strokes

    lines = [np.asarray(item) for item in list(training) + list(generated)]
    steps = min(len(line) for line in lines)
    strokes = [offsets_to_strokes(line[:steps]) for line in lines]
    spans = []
    for each in strokes:
        points = np.vstack(each) if each else np.zeros((1, 2))
        spans.append(points.max(axis=0) - points.min(axis=0))
    width, height = np.max(spans, axis=0) + 1e-9
    rows = len(training)
    fig, axes = plt.subplots(rows, 2, figsize=(12, 1.8 * rows + 1.4), squeeze=False)
    for half, title in ((0, f"training data (first {steps} steps)"), (1, f"samples (first {steps} steps)")):
        for row in range(rows):
            ax, each = axes[row, half], strokes[half * rows + row]
            points = np.vstack(each) if each else np.zeros((1, 2))
            low = points.min(axis=0)
            for stroke in each:
                ax.plot(stroke[:, 0], stroke[:, 1], color="black", linewidth=linewidth)
            ax.set_xlim(low[0], low[0] + width)      # one scale for every panel
            ax.set_ylim(low[1], low[1] + height)
            ax.set_aspect("equal")
            ax.axis("off")
            if row == 0:
                ax.set_title(title)
    return fig
