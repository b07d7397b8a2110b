"""A user's own sequences: ``.npy`` / ``.npz`` / CSV files into one prepared HDF5 file, and its reader.

Sources (:func:`load_sources`)
------------------------------
- a folder of ``.npy`` files, each one sequence: a numeric array (T_i, D) (or (T_i,) for D = 1);
- one ``.npz`` file holding such arrays (one sequence per array, in the file's order);
- a folder of ``.csv`` files, each one sequence: one row per step, D numeric columns separated
  by commas; a first row whose every field is non-numeric is a header and is skipped.

A folder may mix ``.npy`` and ``.csv`` files (taken sorted by path). Every sequence needs
T_i >= 1 and the same D, finite values; anything else is a :class:`DataError` naming the file
(and the row and column for CSV).

Data that come split: a folder holding ``train/``, ``valid/`` and ``test/`` subfolders (each of
the files above) keeps that split (:func:`split_folders`); the fractions and seed are not used.

Layout (HDF5, ``layout='vrnn-sequences'``, ``version=1``)
---------------------------------------------------------
Groups ``train``, ``valid``, ``test``, each with ``frames`` (sum T_i, D) float64 (as given, not
normalised; uint8 when the data are binary, read back exactly), ``offsets`` (n + 1,) int64
(sequence i is frames[offsets[i]:offsets[i+1]]) and ``names`` (n,) str (the source of each
sequence). Attributes: ``X_mean``, ``X_std`` (D,) (the training split's per-dimension
statistics, or 0 / 1 without normalisation), ``normalised``, ``binary`` (every value is 0 or 1),
``width`` (D), ``source``.

Sequences are assigned to the splits at random (``seed``), valid and test getting
round(frac * n) sequences each (at least one when frac > 0), unless the source comes split.
"""
import csv
import logging
import time
from pathlib import Path

import h5py
import numpy as np

from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.hdf5 import atomic_h5, open_layout
from nips2015_vrnn.datasets.ragged import RaggedReader
from nips2015_vrnn.datasets.reader import SPLITS
from nips2015_vrnn.datasets.stats import RunningMoments
from nips2015_vrnn.datasets.walk import corpus_files

log = logging.getLogger(__name__)

__all__ = ["LAYOUT", "VERSION", "load_sources", "split_folders", "split_indices", "prepare_sequences",
           "Sequences", "NORMALISE_CHOICES"]

LAYOUT = "vrnn-sequences"
VERSION = 1
#: --normalise: 'auto' normalises unless every value is 0 or 1 (binary data keep their values).
NORMALISE_CHOICES = ("auto", "yes", "no")
EXPECTED = ("a folder of .npy files (one array (T, D) each) or .csv files (one row per step), or "
            "one .npz file of such arrays")


def _as_sequence(array, where):
    """``array`` checked and returned as float64 (T, D): numeric, 1-D or 2-D, non-empty, finite."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise DataError(where, f"holds values of type {array.dtype}; expected numbers")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise DataError(where, f"holds an array of shape {array.shape}; expected (T, D) or (T,)")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(where, f"holds an empty sequence (shape {array.shape}); expected at least "
                               "one step of at least one value")
    array = array.astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        t, d = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(where, f"step {t}, dimension {d} is NaN or infinite; expected finite values")
    return array


def _read_npy(path):
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise DataError(path, f"cannot be read as .npy ({exc}); expected a numeric array (T, D)") from exc
    return _as_sequence(array, path)


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


def _read_csv(path):
    """One CSV file as (T, D) float64; rows are named by their line in the file."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, row) for row in reader if row and any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(path, f"cannot be read as CSV text ({exc}); expected one row of numbers "
                              "per step") from exc
    if rows and all(_number(cell) is None for cell in rows[0][1]):
        rows = rows[1:]  # a header
    if not rows:
        raise DataError(path, "holds no rows of numbers; expected one row per step")
    width = len(rows[0][1])
    values = np.empty((len(rows), width))
    for r, (line, row) in enumerate(rows):
        if len(row) != width:
            raise DataError(path, f"row {line} has {len(row)} columns; expected {width} like the first")
        for c, cell in enumerate(row):
            value = _number(cell)
            if value is None:
                raise DataError(path, f"row {line}, column {c + 1} is {cell.strip()!r}; expected a number")
            values[r, c] = value
    return _as_sequence(values, path)


def load_sources(src):
    """The sequences of ``src`` (see the module docstring): list of (name, (T_i, D) float64).

    Raises
    ------
    DataError
        Missing source, no sequences, an unreadable / empty / non-numeric / non-finite file, or
        sequences of different widths D (naming the first file that differs).
    """
    src = Path(src)
    if src.is_file() and src.suffix.lower() == ".npz":
        try:
            with np.load(src, allow_pickle=False) as archive:
                items = [(f"{src.name}:{key}", _as_sequence(archive[key], f"{src}:{key}"))
                         for key in archive.files]
        except DataError:
            raise
        except Exception as exc:
            raise DataError(src, f"cannot be read as .npz ({exc}); expected {EXPECTED}") from exc
    elif src.is_dir():
        files = corpus_files(src, (".npy", ".csv"))  # symbolic links to folders followed, and said
        items = [(p.relative_to(src).as_posix(), _read_npy(p) if p.suffix.lower() == ".npy" else _read_csv(p))
                 for p in files]
    else:
        raise DataError(src, f"no such folder or .npz file; expected {EXPECTED}")
    if not items:
        raise DataError(src, f"holds no sequences; expected {EXPECTED}")
    width = items[0][1].shape[1]
    for name, seq in items:
        if seq.shape[1] != width:
            where = src / name if src.is_dir() else f"{src}:{name.split(':', 1)[1]}"
            raise DataError(where, f"has {seq.shape[1]} values per step; expected {width} like "
                                   f"{items[0][0]} (every sequence needs the same width D)")
    return items


def split_folders(src):
    """The folders of data that come split: {'train': src/train, 'valid': ..., 'test': ...}, or
    None when ``src`` is not a folder holding a ``train/`` subfolder.

    Raises
    ------
    DataError
        When ``src/train`` exists but ``valid/`` or ``test/`` does not.
    """
    src = Path(src)
    if not (src / "train").is_dir():
        return None
    missing = [split for split in SPLITS if not (src / split).is_dir()]
    if missing:
        raise DataError(src, f"has a train/ folder but no {' or '.join(f'{m}/' for m in missing)}; "
                             "expected train/, valid/ and test/ folders (a fixed split) or no train/ "
                             "folder (a random split by --valid-frac / --test-frac)")
    return {split: src / split for split in SPLITS}


def split_indices(n, valid_frac, test_frac, seed):
    """Sequence indices of (train, valid, test), drawn at random with ``seed``.

    Valid and test get round(frac * n) sequences each, at least one when frac > 0; train must
    keep at least one.

    >>> [len(s) for s in split_indices(10, 0.1, 0.2, seed=0)]
    [7, 1, 2]
    """
    if not (0 <= valid_frac < 1 and 0 <= test_frac < 1 and valid_frac + test_frac < 1):
        raise ValueError(f"valid_frac={valid_frac!r} and test_frac={test_frac!r}: expected each in "
                         "[0, 1) and a sum below 1")
    n_valid = max(1, round(valid_frac * n)) if valid_frac > 0 else 0
    n_test = max(1, round(test_frac * n)) if test_frac > 0 else 0
    order = np.random.default_rng(seed).permutation(n)
    if n - n_valid - n_test < 1:
        raise ValueError(f"{n} sequences leave none for training after {n_valid} valid and "
                         f"{n_test} test sequences")
    return (np.sort(order[n_valid + n_test:]), np.sort(order[:n_valid]),
            np.sort(order[n_valid:n_valid + n_test]))


def prepare_sequences(src, out_file, valid_frac=0.1, test_frac=0.1, seed=0, normalise="auto"):
    """Prepare a user's sequences as the HDF5 file ``out_file`` (layout in the module docstring).

    Parameters
    ----------
    src : str or Path
        A folder of ``.npy`` / ``.csv`` files, one ``.npz`` file, or a folder of ``train/``,
        ``valid/`` and ``test/`` folders of them (a fixed split).
    out_file : str or Path
    valid_frac, test_frac : float
        Fractions of the sequences held out for validation and test.
    seed : int
        Seed of the random assignment to the splits.
    normalise : {'auto', 'yes', 'no'}
        Per-dimension normalisation by the training statistics; 'auto' normalises unless the
        data are binary (every value 0 or 1, as the Bernoulli models need).

    Returns
    -------
    dict: ``path``, ``split`` (how the splits were made), ``sequences`` (per split), ``frames``
    (per split), ``lengths`` (their range and median), ``width``, ``binary``, ``normalised``,
    ``stored_as`` (the frames' dtype), ``statistics`` (a summary of X_mean / X_std), ``seconds``.
    """
    if normalise not in NORMALISE_CHOICES:
        raise ValueError(f"normalise must be one of {NORMALISE_CHOICES}, got {normalise!r}")
    began = time.perf_counter()
    folders = split_folders(src)
    if folders is None:
        items = load_sources(src)
        try:
            splits = dict(zip(SPLITS, split_indices(len(items), valid_frac, test_frac, seed)))
        except ValueError as err:
            raise DataError(src, f"{err}; expected more sequences or smaller fractions") from None
    else:
        items, splits = [], {}
        for split, folder in folders.items():
            found = [(f"{split}/{name}", seq) for name, seq in load_sources(folder)]
            splits[split] = np.arange(len(items), len(items) + len(found))
            items += found
    width = items[0][1].shape[1]
    for name, seq in items:
        if seq.shape[1] != width:
            raise DataError(Path(src) / name, f"has {seq.shape[1]} values per step; expected {width} "
                                              f"like {items[0][0]} (every sequence needs the same width D)")
    binary = all(np.all((seq == 0) | (seq == 1)) for _, seq in items)
    normalised = normalise == "yes" or (normalise == "auto" and not binary)
    moments = RunningMoments(width=width)
    for i in splits["train"]:
        moments.update(items[i][1])
    if normalised:
        x_mean, x_std = moments.mean, moments.std.copy()
        flat = x_std == 0
        if flat.any():
            log.warning("%s: dimensions %s are constant in the training split; their std is set to 1",
                        src, np.flatnonzero(flat).tolist())
            x_std[flat] = 1.0
    else:
        x_mean, x_std = np.zeros(width), np.ones(width)
    with atomic_h5(out_file, LAYOUT, VERSION) as f:
        for split, indices in splits.items():
            group = f.create_group(split)
            seqs = [items[i][1] for i in indices]
            frames = np.concatenate(seqs) if seqs else np.zeros((0, width))
            group.create_dataset("frames", data=frames.astype(np.uint8) if binary else frames)
            group.create_dataset("offsets", data=np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64))
            group.create_dataset("names", data=np.array([items[i][0] for i in indices], dtype=object),
                                 dtype=h5py.string_dtype())
        f.attrs.update(X_mean=x_mean, X_std=x_std, normalised=normalised, binary=binary, width=width,
                       source=str(Path(src).resolve()))
    seconds = time.perf_counter() - began
    log.info("wrote %s in %.1f s", out_file, seconds)
    lengths = np.array([len(seq) for _, seq in items])
    return {"path": str(out_file), "split": "the train/, valid/, test/ folders" if folders else
            f"random (valid_frac={valid_frac}, test_frac={test_frac}, seed={seed})",
            "sequences": {k: len(v) for k, v in splits.items()},
            "frames": {k: int(sum(len(items[i][1]) for i in v)) for k, v in splits.items()},
            "lengths": f"{lengths.min()}..{lengths.max()} steps, median {np.median(lengths):g}",
            "width": int(width), "binary": bool(binary), "normalised": bool(normalised),
            "stored_as": "uint8" if binary else "float64",
            "statistics": _statistics_summary(x_mean, x_std, normalised), "seconds": seconds}


def _statistics_summary(x_mean, x_std, normalised):
    """The training statistics in one line (the file holds every value)."""
    if not normalised:
        return "not normalised (mean 0, std 1)"
    return (f"per-dimension mean {x_mean.min():.4g}..{x_mean.max():.4g}, std {x_std.min():.4g}..{x_std.max():.4g} "
            f"(all {len(x_mean)} in the file's X_mean / X_std)")


class Sequences(RaggedReader):
    """One split of a prepared sequences file as padded, normalised batches ``[x, mask]``.

    ``x[t, b] = (frames of sequence b at step t - X_mean) / X_std`` (see
    :class:`~nips2015_vrnn.datasets.ragged.RaggedReader` for the padding and mask).
    """

    LAYOUT, VERSION, PRODUCER = LAYOUT, VERSION, "prepare_sequences (vrnn-prepare sequences)"
    FILE_KIND = "file"

    def __init__(self, name="train", path=None, X_mean=None, X_std=None, dtype="float32"):
        super().__init__(name=name, path=path, dtype=dtype)
        self.X_mean, self.X_std = self._statistics(X_mean, X_std, shape=(self.width,))
        self.binary = bool(self._file.attrs["binary"])

    def _open_split(self, group):
        self._frames = group["frames"]
        self._offsets = group["offsets"][()]
        return np.diff(self._offsets), int(self._frames.shape[1])

    def _read(self, seq, f0, f1):
        first = self._offsets[seq]
        return (self._frames[first + f0:first + f1] - self.X_mean) / self.X_std

    @classmethod
    def config_overrides(cls, path):
        """What the model must take from the prepared file: ``{'x_dim': D}``."""
        with open_layout(path, cls.LAYOUT, cls.VERSION, cls.PRODUCER) as f:
            return {"x_dim": int(f.attrs["width"])}

    @classmethod
    def default_model(cls, path):
        """The model of a new run on this file when none is given: 'vrnn-bernoulli' when its frames
        are binary and kept as 0 / 1 (a Gaussian mixture's density on {0, 1} values grows without
        bound as its variances shrink), else None (the corpus's default)."""
        with open_layout(path, cls.LAYOUT, cls.VERSION, cls.PRODUCER) as f:
            binary = bool(f.attrs["binary"]) and not bool(f.attrs["normalised"])
        return "vrnn-bernoulli" if binary else None
