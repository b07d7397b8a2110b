"""Samples of a model of a user's own sequences: a ``.npy`` array and a picture per sequence.

What the picture shows depends on the data (:func:`picture_kind`):

==========  ======================================================================
kind        picture
==========  ======================================================================
binary      an image: time across, one row per dimension, black = 1 (binary data)
pianoroll   the same, one row per pitch (binary data of 88 piano keys or 128 MIDI notes)
trajectory  the path (x_t, y_t) of 2-dimensional data, as a pen trajectory
lines       one line plot per dimension against time (D <= :data:`MAX_LINE_PLOTS`)
image       an image of the values, time across, one row per dimension (larger D)
==========  ======================================================================

Every picture labels its axes (:func:`axis_labels`): time steps across, the dimension, the pitch
(piano rolls) or x / y (trajectories).
"""
import numpy as np

from nips2015_vrnn.models.app import plotting

__all__ = ["MAX_LINE_PLOTS", "PIANO_ROLL_WIDTHS", "picture_kind", "axis_labels", "pitch_ticks", "sequence_png",
           "write_sequence_samples"]

#: Up to this many dimensions are drawn as stacked line plots; more as an image.
MAX_LINE_PLOTS = 8


#: Widths of binary frames drawn as piano rolls: the 88 keys of a piano, the 128 MIDI notes.
PIANO_ROLL_WIDTHS = (88, 128)


def picture_kind(width, binary):
    """'binary', 'pianoroll', 'trajectory', 'lines' or 'image' for data of ``width`` dimensions.

    >>> [picture_kind(d, b) for d, b in [(784, True), (88, True), (2, False), (3, False), (40, False)]]
    ['binary', 'pianoroll', 'trajectory', 'lines', 'image']
    """
    if binary:
        return "pianoroll" if width in PIANO_ROLL_WIDTHS else "binary"
    if width == 2:
        return "trajectory"
    return "lines" if width <= MAX_LINE_PLOTS else "image"


def axis_labels(kind):
    """(x label, y label) of a picture of ``kind``.

    >>> axis_labels('pianoroll')
    ('time step', 'pitch (key)')
    """
    return {"pianoroll": ("time step", "pitch (key)"), "trajectory": ("x (dimension 0)", "y (dimension 1)"),
            "lines": ("time step", None)}.get(kind, ("time step", "dimension"))


def pitch_ticks(width):
    """(rows, labels) of the C keys of a piano roll of ``width`` rows: 88 keys from MIDI 21 (A0),
    or 128 MIDI notes from 0; each label the note name and its MIDI pitch.

    >>> rows, labels = pitch_ticks(88)
    >>> rows[:2], labels[:2], labels[3]
    ([3, 15], ['C1 (24)', 'C2 (36)'], 'C4 (60)')
    """
    lowest = 21 if width == 88 else 0
    rows = [k for k in range(width) if (lowest + k) % 12 == 0]
    return rows, [f"C{(lowest + k) // 12 - 1} ({lowest + k})" for k in rows]


def sequence_png(path, seq, kind, title=None):
    """Draw one sequence (T, D) as ``kind`` (see :func:`picture_kind`) into the PNG ``path``."""
    plt = plotting.pyplot()
    steps, width = seq.shape
    if kind == "lines":
        fig, axes = plt.subplots(width, 1, figsize=(8, 1.2 + 1.0 * width), sharex=True, squeeze=False)
        for d, ax in enumerate(axes[:, 0]):
            ax.plot(np.arange(steps), seq[:, d], linewidth=1.0)
            ax.set_ylabel(f"dim {d}")
        axes[-1, 0].set_xlabel(axis_labels(kind)[0])
    else:
        fig, ax = plt.subplots(figsize=(8, 3) if kind != "trajectory" else (5, 5))
        axes = np.array([[ax]])
        if kind == "trajectory":
            ax.plot(seq[:, 0], seq[:, 1], color="black", linewidth=1.0)
            ax.set_aspect("equal")
        else:
            cmap = "gray_r" if kind in ("binary", "pianoroll") else "viridis"
            ax.imshow(seq.T, aspect="auto", interpolation="nearest", cmap=cmap, origin="lower")
            if kind == "pianoroll":
                rows, labels = pitch_ticks(width)
                ax.set_yticks(rows, labels)
        ax.set_xlabel(axis_labels(kind)[0])
        ax.set_ylabel(axis_labels(kind)[1])
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_sequence_samples(out_dir, frames, x_mean, x_std, binary, seed=0, png=True, progress=None):
    """Write generated sequences: ``samples.npy`` (n, T, D), denormalised, and ``sample_<i>.png``.

    Parameters
    ----------
    out_dir : Path
    frames : (T, n, D) normalised frames as the model generates them
    x_mean, x_std : (D,) the run's normalisation
    binary : bool
        The data are {0, 1} (pictures as images).
    png : bool
        Draw the pictures (needs matplotlib).

    Returns
    -------
    list of Path: the files written
    """
    samples = (np.asarray(frames, dtype=np.float64) * x_std + x_mean).transpose(1, 0, 2)
    files = [out_dir / "samples.npy"]
    tmp = out_dir / ".samples.npy.tmp"
    with open(tmp, "wb") as f:
        np.save(f, samples)
    tmp.replace(files[0])
    kind = picture_kind(samples.shape[2], binary)
    for i, seq in enumerate(samples):
        if png:
            files.append(out_dir / f"sample_{i:02d}.png")
            sequence_png(files[-1], seq, kind, title=f"sample {i} (seed {seed})")
        if progress:
            progress(i + 1, len(samples))
    return files
