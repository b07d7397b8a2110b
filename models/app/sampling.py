"""Generated sequences to files: speech as 16 kHz WAV (+ PNG of the waveform), handwriting as
SVG (+ PNG) of the pen strokes, and :func:`sample_run` that draws them from a trained run.

PNG pictures need matplotlib (the optional extra ``plot``: ``pip install .[plot]``); without it
only WAV and SVG files are written and :func:`sample_run` says so in its result.

Example
-------
>>> strokes = [np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[2.0, 0.0], [3.0, 0.5]])]
>>> svg = strokes_svg(strokes)
>>> svg.count('<polyline')
2
"""
import logging
from pathlib import Path

import numpy as np
import scipy.io.wavfile

from nips2015_vrnn.datasets.audio import TARGET_RATE as RATE
from nips2015_vrnn.datasets.audio import frames_to_waveforms
from nips2015_vrnn.datasets.blizzard import FRAME_SIZE, SEQ_LEN
from nips2015_vrnn.datasets.iamondb import offsets_to_strokes
from nips2015_vrnn.models.app import plotting
from nips2015_vrnn.models.app.sequence_samples import write_sequence_samples

log = logging.getLogger(__name__)

__all__ = ["write_wav", "waveform_png", "strokes_svg", "write_svg", "strokes_png", "sample_run",
           "default_steps"]

#: Handwriting samples: steps per generated line when none is given (a typical line length).
HANDWRITING_STEPS = 300
#: SVG drawing: margin around the strokes and stroke width, in the SVG's own units.
SVG_MARGIN, SVG_STROKE_WIDTH = 10.0, 1.5
#: SVG drawing: the longer side of the strokes' bounding box is scaled to this many units.
SVG_SIZE = 800.0


#: Frames per generated sequence by data kind (a key of ModelConfig's DATA_KINDS): 0.5 s of
#: speech, a typical line of handwriting, 2 s of a TIMIT utterance, 100 steps of a user's data.
DEFAULT_STEPS = {"speech": SEQ_LEN // FRAME_SIZE, "handwriting": HANDWRITING_STEPS, "utterances": 160,
                 "sequences": 100, "text": 200}


def default_steps(data):
    """Frames per generated sequence for the sequence kind ``data`` (see :data:`DEFAULT_STEPS`):
    40 frames (8000 samples, 0.5 s) for speech, 300 pen steps for handwriting."""
    return DEFAULT_STEPS[data]


# ---------------------------------------------------------------------- speech
def write_wav(path, waveform, rate=RATE):
    """Write one int16 waveform (n,) as a mono WAV file at ``rate`` Hz."""
    scipy.io.wavfile.write(path, rate, np.asarray(waveform, dtype=np.int16))


def _figure_png(path, figsize, title, draw):
    """Draw into a new figure with ``draw(ax)``, title it, save it as the PNG ``path``."""
    plt = plotting.pyplot()
    fig, ax = plt.subplots(figsize=figsize)
    draw(ax)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def waveform_png(path, waveform, rate=RATE, title=None):
    """Draw one waveform (n,) against time (s) into the PNG ``path`` (needs matplotlib)."""
    def draw(ax):
        ax.plot(np.arange(len(waveform)) / rate, waveform, linewidth=0.5)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("amplitude")
    _figure_png(path, (8, 2.5), title, draw)


# ---------------------------------------------------------------------- handwriting
def strokes_svg(strokes):
    """An SVG document drawing each stroke (k, 2) as a polyline; pen-up moves are not drawn.

    Coordinates have y growing upwards (as :func:`offsets_to_strokes` returns them); the SVG
    flips y and scales the bounding box so its longer side is :data:`SVG_SIZE` units.
    """
    strokes = [np.asarray(s, dtype=np.float64) for s in strokes if len(s)]
    points = np.vstack(strokes) if strokes else np.zeros((1, 2))
    low, high = points.min(axis=0), points.max(axis=0)
    scale = SVG_SIZE / max(float(np.max(high - low)), 1e-12)
    width, height = (high - low) * scale + 2 * SVG_MARGIN
    lines = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.1f}" height="{height:.1f}" '
             f'viewBox="0 0 {width:.1f} {height:.1f}">',
             '<rect width="100%" height="100%" fill="white"/>']
    for stroke in strokes:
        xs = (stroke[:, 0] - low[0]) * scale + SVG_MARGIN
        ys = (high[1] - stroke[:, 1]) * scale + SVG_MARGIN
        coords = " ".join(f"{x:.2f},{y:.2f}" for x, y in zip(xs, ys))
        lines.append(f'<polyline points="{coords}" fill="none" stroke="black" '
                     f'stroke-width="{SVG_STROKE_WIDTH}" stroke-linecap="round" '
                     f'stroke-linejoin="round"/>')
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


def write_svg(path, strokes):
    """Write :func:`strokes_svg` of ``strokes`` to ``path``."""
    Path(path).write_text(strokes_svg(strokes), encoding="utf-8")


def strokes_png(path, strokes, title=None):
    """Draw the strokes (list of (k, 2)) into the PNG ``path``, equal axes (needs matplotlib)."""
    def draw(ax):
        for stroke in strokes:
            ax.plot(stroke[:, 0], stroke[:, 1], color="black", linewidth=1.2)
        ax.set_aspect("equal")
        ax.axis("off")
    _figure_png(path, (10, 2.5), title, draw)


# ---------------------------------------------------------------------- a run's samples
def sample_run(run, model, n=10, steps=None, seed=0, out_dir=None, progress=None, checkpoint=None, prime="",
               temperature=1.0, bias=0.0):
    """Generate ``n`` sequences from ``model`` and write them under ``out_dir`` (default
    ``RUN_DIR/samples``); picture titles name ``checkpoint`` (when given) and ``seed``.

    Speech (Blizzard, TIMIT): ``sample_<i>.wav`` (16 kHz, de-normalised with the run's X_mean /
    X_std) and ``sample_<i>.png`` (the waveform). Handwriting: ``sample_<i>.svg`` and
    ``sample_<i>.png`` (the pen strokes, pen-up moves not drawn). A user's sequences:
    ``samples.npy`` (n, steps, D), de-normalised, and ``sample_<i>.png`` (see
    :mod:`~nips2015_vrnn.models.app.sequence_samples`). PNGs only when matplotlib is installed.
    Text: ``sample_<i>.txt``, ``prime`` then ``steps`` characters drawn at ``temperature`` (see
    :mod:`~nips2015_vrnn.models.app.characters`).

    Parameters
    ----------
    run : nips2015_vrnn.models.app.rundir.RunDir
    model : a trained model (see :func:`nips2015_vrnn.models.app.rundir.load_model`)
    n : int >= 1
    steps : int or None
        Frames per sequence (default :func:`default_steps`).
    seed : int
    progress : callable or None
        ``progress(i, n)`` after each file group is written.
    checkpoint : str or None
        Named in the titles, e.g. ``'best (update 400)'``.
    bias : float > -1
        The sampling bias (Graves 2013, section 5.2; see
        :func:`~nips2015_vrnn.models.outputs.biased_heads`), named in the titles when not 0.

    Returns
    -------
    dict: ``files`` (list of Path), ``png`` (bool: were PNGs written), ``out_dir`` (Path),
    ``frames`` (the generated (steps, n, x_dim) normalised frames); for text ``png`` is None
    (nothing to draw) and ``texts`` the samples
    """
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    steps = default_steps(run.config.data) if steps is None else steps
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    out_dir = Path(out_dir) if out_dir is not None else run.samples_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    if run.config.data == "text":
        from nips2015_vrnn.datasets.text import read_vocabulary
        from nips2015_vrnn.models.app.characters import sample_text

        got = sample_text(model, read_vocabulary(run.data_path), out_dir, n=n, steps=steps, seed=seed, prime=prime,
                          temperature=temperature, progress=progress, bias=bias)
        return {"files": got["files"], "png": None, "out_dir": out_dir, "frames": got["frames"],
                "texts": got["texts"]}
    png = plotting.have_matplotlib()
    frames = np.asarray(model.generate(n_steps=steps, n_sequences=n, seed=seed, bias=bias))
    x_mean, x_std = run.normalisation
    files = []
    source = (f"{checkpoint}, seed {seed}" if checkpoint else f"seed {seed}") + (f", bias {bias:g}" if bias else "")
    if run.config.data == "sequences":
        binary = run.config.output == "bernoulli"
        files = write_sequence_samples(out_dir, frames, x_mean, x_std, binary, seed=seed, png=png,
                                       progress=progress)
    else:
        if run.config.data in ("speech", "utterances"):
            items, suffix, write, draw = frames_to_waveforms(frames, x_mean, x_std), "wav", write_wav, waveform_png
        else:
            items = [offsets_to_strokes(frames[:, i], x_mean, x_std) for i in range(n)]
            suffix, write, draw = "svg", write_svg, strokes_png
        for i, item in enumerate(items):
            files.append(out_dir / f"sample_{i:02d}.{suffix}")
            write(files[-1], item)
            if png:
                files.append(out_dir / f"sample_{i:02d}.png")
                draw(files[-1], item, title=f"sample {i} ({source})")
            if progress:
                progress(i + 1, n)
    log.info("wrote %d files to %s", len(files), out_dir)
    return {"files": files, "png": png, "out_dir": out_dir, "frames": frames}
