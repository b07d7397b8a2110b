"""IAM-OnDB handwriting: the corpus cached as HDF5, and the reader of [pen, dx, dy] batches.

Cache layout (HDF5, ``layout='vrnn-iamondb'``, ``version=1``)
-------------------------------------------------------------
One group per split (``train``, ``valid``, ``test``), lines in split-file order:

- ``points`` (P, 3) float32: [pen, dx, dy] of every line, one after another, **not**
  normalised (corpus units; see :func:`~nips2015_vrnn.datasets.iamondb_files.points_to_offsets`);
- ``offsets`` (n + 1,) int64: line i is ``points[offsets[i]:offsets[i + 1]]``;
- ``line_ids`` (n,) str (e.g. ``a01-000u-01``), ``text`` (n,) str;
- ``labels`` (L,) int8 and ``label_offsets`` (n + 1,): the text in the 57-symbol alphabet
  (:mod:`nips2015_vrnn.datasets.alphabet`).

Root attributes: ``X_mean``, ``X_std`` (3,): [0, mean dx, mean dy] and [1, std dx, std dy]
over every step of the training lines (the pen bit is not normalised); ``source_dir``.
Dataset ``skipped`` (k,) str: the files left out, each with the reason.

Reader
------
``IAMOnDB(name, path)`` takes the cache file only; ``IAMOnDB.from_corpus(src_dir, cache)``
prepares the cache first when it does not exist yet. ``slices(start, end)`` returns
``[x, mask]``: x (T, B, 3) [pen, dx, dy] normalised, zero-padded to the longest line T of the
batch; mask (T, B) 1.0 on real steps, 0.0 on padding.
"""
import logging
import time
from pathlib import Path

import h5py
import numpy as np

from nips2015_vrnn.datasets.alphabet import encode
from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.hdf5 import atomic_h5
from nips2015_vrnn.datasets.iamondb_files import (
    check_disjoint_splits,
    find_split_files,
    index_corpus,
    points_to_offsets,
    read_csr_lines,
    read_points,
    read_split_file,
)
from nips2015_vrnn.datasets.reader import SPLITS, SplitReader
from nips2015_vrnn.datasets.stats import RunningMoments

log = logging.getLogger(__name__)

LAYOUT = "vrnn-iamondb"
VERSION = 1
PREPS = ("normalize", "none")

#: Seconds between two progress log lines during preparation.
LOG_EVERY_S = 10.0
#: Fewest points a line needs: one offset step needs two points.
MIN_POINTS = 2


def _form_lines(form, strokes, texts, skipped):
    """(line_id, [pen, dx, dy] (n, 3), text) of each readable line of one form."""
    lines = []
    text_lines = []
    if form in texts:
        try:
            text_lines = read_csr_lines(texts[form])
        except DataError as exc:
            log.warning("skipping the text of form %s: %s", form, exc)
            skipped.append(str(exc))
    else:
        log.warning("form %s has no ascii/ transcription; its lines get empty text", form)
    for number, path in strokes[form]:
        try:
            points = read_points(path)
        except DataError as exc:
            log.warning("skipping %s", exc)
            skipped.append(str(exc))
            continue
        if len(points) < MIN_POINTS:
            problem = f"{path}: has {len(points)} point; expected at least {MIN_POINTS}"
            log.warning("skipping %s", problem)
            skipped.append(problem)
            continue
        text = text_lines[number - 1] if 0 < number <= len(text_lines) else ""
        with np.errstate(over="ignore", invalid="ignore"):
            steps = points_to_offsets(points)
        if not np.all(np.isfinite(steps)):
            problem = f"{path}: coordinates so large that their differences overflow; expected " \
                      "pen positions in corpus units"
            log.warning("skipping %s", problem)
            skipped.append(problem)
            continue
        lines.append((path.stem, steps, text))
    return lines


def _resolve_split_files(src, split_files):
    files = find_split_files(src) if split_files is None else dict(split_files)
    unknown = set(files) - set(SPLITS)
    if unknown:
        raise ValueError(f"split_files keys must be among {SPLITS}, got {sorted(unknown)}")
    if "train" not in files:
        raise DataError(src, "no training split file found; expected trainset.txt or train.txt "
                             "in the corpus folder, or split_files={'train': path, ...}")
    return {split: Path(path) for split, path in files.items()}


def prepare_iamondb(src_dir, out_file, split_files=None, progress=None):
    """Parse the IAM-OnDB corpus once and write the HDF5 cache (layout in the module docstring).

    Parameters
    ----------
    src_dir : str or Path
        Corpus folder with ``lineStrokes/`` and ``ascii/``.
    out_file : str or Path
        The cache to write (atomically: a temporary file renamed when complete).
    split_files : dict or None
        {split: path of a split file}; None searches ``src_dir`` (see
        :data:`~nips2015_vrnn.datasets.iamondb_files.SPLIT_FILE_NAMES`). Train is required;
        a missing valid / test split is stored empty.
    progress : callable or None
        Called as ``progress(forms_done, forms_total)``.

    Returns
    -------
    dict
        ``path``, ``lines`` ({split: count}), ``skipped`` (list of messages), ``X_mean``,
        ``X_std`` ((3,) arrays), ``seconds``.

    Raises
    ------
    DataError
        Missing folders, a split file naming forms absent from ``lineStrokes/``, or a split
        whose every line was unreadable. Single broken files are skipped with a warning.
    """
    began = time.perf_counter()
    src = Path(src_dir)
    strokes, texts = index_corpus(src)
    files = _resolve_split_files(src, split_files)
    forms = {}
    for split, path in files.items():
        forms[split] = read_split_file(path)
        missing = [f for f in forms[split] if f not in strokes]
        if missing:
            raise DataError(path, f"names {len(missing)} form(s) absent from "
                                  f"{src / 'lineStrokes'} ({', '.join(missing[:5])}"
                                  f"{', ...' if len(missing) > 5 else ''}); expected form ids "
                                  "with line stroke files")
    if not forms["train"]:
        raise DataError(files["train"], "lists no form; expected one form id (e.g. a01-000u) "
                                        "per line")
    check_disjoint_splits({split: (files[split], ids) for split, ids in forms.items()})
    total = sum(len(v) for v in forms.values())
    done, skipped, counts, last_log = 0, [], {}, began
    moments = RunningMoments(width=2)
    with atomic_h5(out_file, LAYOUT, VERSION) as f:
        for split in SPLITS:
            lines = []
            for form in forms.get(split, []):
                lines.extend(_form_lines(form, strokes, texts, skipped))
                done += 1
                if progress is not None:
                    progress(done, total)
                if time.perf_counter() - last_log > LOG_EVERY_S:
                    last_log = time.perf_counter()
                    log.info("parsed %d of %d forms", done, total)
            if split in forms and forms[split] and not lines:
                raise DataError(files[split], "lists forms whose line files are all unreadable; "
                                              "expected at least one line with points")
            if split == "train":
                for _, steps, _ in lines:
                    moments.update(steps[:, 1:])
            _write_split(f.create_group(split), lines)
            counts[split] = len(lines)
        x_mean = np.concatenate([[0.0], moments.mean])
        x_std = np.concatenate([[1.0], moments.std])
        if not (np.all(np.isfinite(x_mean)) and np.all(np.isfinite(x_std))):
            raise DataError(files["train"], f"its lines give X_mean {x_mean.tolist()} and X_std "
                                            f"{x_std.tolist()}; expected finite statistics")
        f.attrs.update(X_mean=x_mean, X_std=x_std, source_dir=str(src.resolve()))
        f.create_dataset("skipped", data=np.array(skipped, dtype=object),
                         dtype=h5py.string_dtype())
    seconds = time.perf_counter() - began
    log.info("wrote %s in %.1f s: %s lines, %d files skipped", out_file, seconds, counts,
             len(skipped))
    return {"path": str(out_file), "lines": counts, "skipped": skipped, "X_mean": x_mean,
            "X_std": x_std, "seconds": seconds}


def _write_split(group, lines):
    """Write one split's lines: concatenated points and labels with their offsets."""
    steps = [s for _, s, _ in lines]
    labels = [encode(t) for _, _, t in lines]
    string = h5py.string_dtype()
    group.create_dataset("points", data=(np.concatenate(steps) if steps
                                         else np.zeros((0, 3))).astype(np.float32))
    group.create_dataset("offsets", data=np.cumsum([0] + [len(s) for s in steps]))
    group.create_dataset("labels", data=np.concatenate(labels) if labels else np.zeros(0, np.int8))
    group.create_dataset("label_offsets", data=np.cumsum([0] + [len(c) for c in labels]))
    group.create_dataset("line_ids", data=np.array([i for i, _, _ in lines], dtype=object),
                         dtype=string)
    group.create_dataset("text", data=np.array([t for _, _, t in lines], dtype=object),
                         dtype=string)


def offsets_to_strokes(steps, X_mean=None, X_std=None):
    """[pen, dx, dy] steps (T, 3) -> absolute strokes for plotting.

    With X_mean / X_std (3,) the steps are first denormalised (steps * X_std + X_mean). The
    pen starts at (0, 0); the point reached by step t ends a stroke when pen_t > 0.5.

    Returns
    -------
    list of (k, 2) float64 arrays: the [x, y] points of each stroke (y grows upwards).

    Examples
    --------
    >>> s = offsets_to_strokes(np.array([[0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1]]))
    >>> [a.tolist() for a in s]
    [[[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]], [[2.0, 1.0], [2.0, 2.0]]]
    """
    steps = np.asarray(steps, dtype=np.float64)
    if steps.ndim != 2 or steps.shape[1] != 3:
        raise ValueError(f"steps must have shape (T, 3), got {steps.shape}")
    if X_mean is not None or X_std is not None:
        mean = np.zeros(3) if X_mean is None else np.asarray(X_mean, dtype=np.float64)
        std = np.ones(3) if X_std is None else np.asarray(X_std, dtype=np.float64)
        steps = steps * std + mean
    points = np.vstack([np.zeros((1, 2)), np.cumsum(steps[:, 1:], axis=0)])
    ends = np.flatnonzero(steps[:, 0] > 0.5) + 2  # a stroke ends after point t + 1
    return [s for s in np.split(points, ends) if len(s)]


class IAMOnDB(SplitReader):
    """Lines of one split of the IAM-OnDB cache as padded, normalised [pen, dx, dy] batches.

    Parameters
    ----------
    name : {'train', 'valid', 'test'}
    path : str or Path
        The HDF5 cache written by :func:`prepare_iamondb` (use :meth:`from_corpus` to start
        from the corpus folder).
    prep : {'normalize', 'none'}
        'normalize': dx, dy -> (d - X_mean) / X_std (the pen bit is kept as 0 / 1).
    X_mean, X_std : (3,) array or None
        None takes the training statistics stored in the cache.
    dtype : str
        Float dtype of the batches (float32 as the legacy inputs).

    Notes
    -----
    ``slices(start, end)`` returns ``[x, mask]``: x (T, B, 3) with T the longest line among
    lines [start, end) and B = end - start, padded with zeros; mask (T, B), 1.0 where
    t < length of line b. Only those lines are read from the file.
    """

    LAYOUT, VERSION, PRODUCER = LAYOUT, VERSION, "prepare_iamondb"
    FILE_KIND, UNIT = "cache", "lines"

    def __init__(self, name="train", path=None, prep="normalize", X_mean=None, X_std=None,
                 dtype="float32"):
        if prep not in PREPS:
            raise ValueError(f"prep must be one of {PREPS}, got {prep!r}")
        self.prep = prep
        super().__init__(name=name, path=path, dtype=dtype)
        self._group = self._node(name, "group")
        for key in ("points", "offsets", "labels", "label_offsets", "text"):
            self._node(f"{name}/{key}")
        points, self._offsets = self._group["points"], self._group["offsets"][()]
        offsets, n_points = self._offsets, points.shape[0] if points.ndim else -1
        self._expect(points.ndim == 2 and points.shape[1] == 3,
                     f"{name}/points has shape {points.shape}: (P, 3) [pen, dx, dy] steps")
        self._expect(offsets.ndim == 1 and len(offsets) >= 1 and offsets.dtype.kind in "iu"
                     and offsets[0] == 0 and offsets[-1] == n_points
                     and bool(np.all(np.diff(offsets) >= 0)),
                     f"{name}/offsets does not cut the {n_points} points into lines: (n + 1,) "
                     "rising ints from 0 to P")
        if self.num_examples() == 0:
            raise DataError(path, f"split {name!r} holds no lines; expected a split file for it "
                                  "when the cache was prepared")
        self.X_mean, self.X_std = self._statistics(X_mean, X_std, shape=(3,))

    def _open(self, path):
        if path.is_dir():
            raise DataError(path, "is a folder; expected the HDF5 cache (prepare it with "
                                  "prepare_iamondb, or use IAMOnDB.from_corpus)")
        return super()._open(path)

    @classmethod
    def from_corpus(cls, src_dir, cache_file, name="train", split_files=None, **kwargs):
        """Open ``cache_file``, first preparing it from ``src_dir`` when it does not exist."""
        if not Path(cache_file).exists():
            prepare_iamondb(src_dir, cache_file, split_files=split_files)
        return cls(name=name, path=cache_file, **kwargs)

    frame_width = property(lambda self: 3, doc="Values per frame: [pen, dx, dy].")

    def num_examples(self):
        """Number of lines in the split."""
        return len(self._offsets) - 1

    def lengths(self, start, end):
        """Steps per line for lines [start, end): (end - start,) int64."""
        self._check(start, end)
        return np.diff(self._offsets[start:end + 1])

    def slices(self, start, end):
        """``[x, mask]`` for lines [start, end): x (T, B, 3), mask (T, B), both ``dtype``."""
        self._check(start, end)
        bounds = self._offsets[start:end + 1]
        steps = self._read(self._group["points"], bounds[0], bounds[-1]).astype(np.float64)
        if self.prep == "normalize":
            steps = (steps - self.X_mean) / self.X_std
        lengths = np.diff(bounds)
        x = np.zeros((lengths.max(), end - start, 3), dtype=self.dtype)
        mask = np.zeros((lengths.max(), end - start), dtype=self.dtype)
        for b, (lo, hi) in enumerate(zip(bounds[:-1] - bounds[0], bounds[1:] - bounds[0])):
            x[:hi - lo, b] = steps[lo:hi]
            mask[:hi - lo, b] = 1.0
        return [x, mask]

    def texts(self, start, end):
        """Transcriptions of lines [start, end) (list of str)."""
        self._check(start, end)
        return [t.decode() if isinstance(t, bytes) else t for t in self._group["text"][start:end]]

    def labels(self, start, end):
        """Transcriptions of lines [start, end) as alphabet codes: list of (n_i,) int8."""
        self._check(start, end)
        bounds = self._group["label_offsets"][start:end + 1]
        codes = self._group["labels"][bounds[0]:bounds[-1]]
        return np.split(codes, bounds[1:-1] - bounds[0])

    def theano_vars(self):
        """The symbolic inputs ``[x, mask]``: tensor3 'x' (T, B, 3) and matrix 'mask' (T, B)."""
        import pytensor.tensor as pt
        return super().theano_vars() + [pt.matrix("mask", dtype=self.dtype)]

    def denormalise(self, x):
        """Undo the normalisation on [..., 3] steps: x * X_std + X_mean (float64)."""
        if self.prep != "normalize":
            return np.asarray(x, dtype=np.float64)
        return super().denormalise(x)

    def to_strokes(self, x, mask=None):
        """Batch x (T, B, 3) (as given by ``slices``) -> per line, its list of absolute strokes."""
        x = self.denormalise(x)
        lengths = [x.shape[0]] * x.shape[1] if mask is None else np.asarray(mask).sum(0).astype(int)
        return [offsets_to_strokes(x[:n, b]) for b, n in enumerate(lengths)]
