"""Do generated sequences resemble the training data? Statistics of both, side by side.

Speech (of the de-normalised waveform, in frames of ``x_dim`` samples):

- ``envelope_cv``: coefficient of variation (std / mean) of the frames' RMS energy within a
  sequence, averaged over sequences: about 0.1 for stationary noise, above 1 for speech with
  silences and bursts;
- ``silent_fraction``: fraction of frames whose RMS is below :data:`SILENCE_LEVEL` times the mean
  frame RMS of their set.

Handwriting (of the [pen, dx, dy] steps):

- ``pen_up_rate``: fraction of steps that end a stroke (pen bit > 0.5);
- ``stroke_length_mean`` / ``stroke_length_median``: steps per stroke.

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

import numpy as np

__all__ = ["speech_statistics", "handwriting_statistics", "compare", "training_examples",
           "write_statistics", "SILENCE_LEVEL", "FACTOR", "STATS_FILE"]

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


def speech_statistics(waves, frame_size):
    """Statistics of waveforms (n, samples) cut into frames of ``frame_size`` samples."""
    waves = np.asarray(waves, dtype=np.float64)
    n_frames = waves.shape[1] // frame_size
    frames = waves[:, :n_frames * frame_size].reshape(len(waves), n_frames, frame_size)
    rms = np.sqrt((frames ** 2).mean(axis=2))                       # (n, frames)
    cv = rms.std(axis=1) / np.maximum(rms.mean(axis=1), 1e-12)
    silent = rms < SILENCE_LEVEL * max(rms.mean(), 1e-12)
    return {"envelope_cv": float(cv.mean()), "silent_fraction": float(silent.mean()),
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
            "stroke_length_median": float(np.median(lengths)), "sequences": int(len(lines))}


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
    frames were drawn with) and ``files``.
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
    path = out_dir / STATS_FILE
    tmp = out_dir / f".{STATS_FILE}.tmp"
    tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    files = [path]
    from nips2015_vrnn.models.app import plotting
    if plotting.have_matplotlib():
        files.append(_comparison_png(run, generated, training, out_dir / "comparison.png"))
    result["files"] = files
    return result


def _comparison_png(run, generated, training, path, rows=3):
    """Training examples (left) beside samples (right), ``rows`` of each."""
    from nips2015_vrnn.datasets.iamondb import offsets_to_strokes
    from nips2015_vrnn.models.app import plotting

    plt = plotting.pyplot()
    rows = min(rows, len(generated), len(training))
    fig, axes = plt.subplots(rows, 2, figsize=(12, 1.8 * rows), squeeze=False)
    for column, (title, items) in enumerate((("training data", training), ("samples", generated))):
        for row in range(rows):
            ax = axes[row, column]
            if run.config.data == "speech":
                ax.plot(np.asarray(items[row], dtype=np.float64), linewidth=0.4)
                ax.set_xticks([])
            else:
                for stroke in offsets_to_strokes(items[row]):
                    ax.plot(stroke[:, 0], stroke[:, 1], color="black", linewidth=1.0)
                ax.set_aspect("equal")
                ax.axis("off")
            if row == 0:
                ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
