"""Blizzard speech: preparation of a folder of audio into the legacy TBPTT layout, and readers.

Layout (HDF5, ``layout='vrnn-blizzard-tbptt'``, ``version=1``)
---------------------------------------------------------------
The 16 kHz mono waveforms of all source files (sorted by path) are joined into one signal of
L samples. With B = ``batch_size``, s = ``seq_len`` and n_seg = L // (B * s), the first
B * n_seg * s samples are cut into B parallel **streams** of S = n_seg * s consecutive samples
(stream b = joined[b*S : (b+1)*S]; the tail is dropped) and stored as int16 rows of s samples:

    row r = stream (r mod B), segment (r // B)    i.e.  data[k*B + b] = stream_b[k*s : (k+1)*s]

so row r + B continues row r, and the batch of rows [i*B, (i+1)*B) is followed, stream for
stream, by [(i+1)*B, (i+2)*B): carrying the LSTM state across batches is meaningful.
Train / valid / test are the row ranges [0, a), [a, b), [b, N) with a, b multiples of B
(by default 90 / 5 / 5 % of the segments, at least one batch each).

Datasets and attributes of the file:

- ``data`` (N, s) int16, chunks of one row, gzip + shuffle;
- ``sources`` (n_files,) str: source paths relative to the source folder, in join order;
  ``source_samples`` (n_files,) int64: their 16 kHz lengths;
- attributes ``sample_rate``, ``seq_len``, ``batch_size``, ``train_rows``, ``valid_rows``,
  ``test_rows`` (each [start, stop)), ``X_mean``, ``X_std`` (global scalar statistics of the
  training rows), ``source_dir``, ``samples_dropped``.

The statistics are also written beside the file as ``<stem>_normal.npz`` (``X_mean``,
``X_std``) as the legacy code did: both are written to temporaries and renamed together (the
``.npz`` first), so a new ``.h5`` never appears without its ``.npz``. Readers use the ``.h5``'s
own (checksummed) attributes; the ``.npz`` is for legacy tools only.
"""
import logging
import time
from pathlib import Path

import h5py
import numpy as np

from nips2015_vrnn.datasets.audio import (
    TARGET_RATE,
    AudioFile,
    check_sources,
    find_audio,
    frames_to_waveforms,
    to_int16,
)
from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.hdf5 import atomic_h5, temporary_path
from nips2015_vrnn.datasets.reader import SPLITS, SplitReader  # noqa: F401  (SPLITS re-exported)
from nips2015_vrnn.datasets.stats import RunningMoments, check_statistics

log = logging.getLogger(__name__)

LAYOUT = "vrnn-blizzard-tbptt"
VERSION = 1

#: Samples per row: the paper's 0.5 s sequences at 16 kHz.
SEQ_LEN = 8000
#: Samples per frame: the paper's x_dim (a row is T = 8000 / 200 = 40 frames).
FRAME_SIZE = 200
#: Rows of one stream gathered in memory before they are written (64 rows: 1 MB of int16).
FLUSH_ROWS = 64
#: gzip level of the ``data`` chunks: 1 compresses speech nearly as well as 9, far faster.
GZIP_LEVEL = 1
#: Seconds between two progress log lines during preparation.
LOG_EVERY_S = 10.0


def normal_path(out_file):
    """The legacy statistics file beside ``out_file``: ``<stem>_normal.npz``."""
    out = Path(out_file)
    return out.with_name(f"{out.stem}_normal.npz")


def split_segments(n_seg, valid_frac, test_frac):
    """Segments (batches) per split: (n_train, n_valid, n_test), summing to ``n_seg``.

    Valid and test get round(frac * n_seg) segments, at least one when frac > 0; train
    gets the rest and must keep at least one.

    Examples
    --------
    >>> split_segments(100, 0.05, 0.05)
    (90, 5, 5)
    >>> split_segments(10, 0.05, 0.05)
    (8, 1, 1)
    """
    n_valid = max(1, round(valid_frac * n_seg)) if valid_frac > 0 else 0
    n_test = max(1, round(test_frac * n_seg)) if test_frac > 0 else 0
    return n_seg - n_valid - n_test, n_valid, n_test


class _StreamWriter:
    """Writes the joined signal into the stream layout, one stream after the other.

    Rows of the current stream are gathered in a (FLUSH_ROWS, s) buffer and written with one
    strided HDF5 selection (rows k*B + b); training rows feed the running statistics.
    """

    def __init__(self, dset, batch_size, n_seg, n_train_seg, moments):
        self.dset, self.batch_size = dset, batch_size
        self.n_seg, self.n_train_seg, self.moments = n_seg, n_train_seg, moments
        self.seq_len = dset.shape[1]
        self.buf = np.empty((FLUSH_ROWS, self.seq_len), np.int16)
        self.flat = self.buf.reshape(-1)
        self.filled = 0      # samples in the buffer
        self.stream = 0      # stream being written
        self.seg0 = 0        # segment index of the buffer's first row

    @property
    def done(self):
        return self.stream == self.batch_size

    def write(self, samples):
        """Consume int16 ``samples`` (1-D) in order; samples beyond the last stream are ignored."""
        pos = 0
        while pos < len(samples) and not self.done:
            room = min(self.flat.size, (self.n_seg - self.seg0) * self.seq_len) - self.filled
            take = min(room, len(samples) - pos)
            self.flat[self.filled:self.filled + take] = samples[pos:pos + take]
            self.filled += take
            pos += take
            if take == room:
                self._flush()

    def _flush(self):
        rows = self.filled // self.seq_len
        first = self.seg0 * self.batch_size + self.stream
        last = (self.seg0 + rows - 1) * self.batch_size + self.stream
        self.dset[first:last + 1:self.batch_size] = self.buf[:rows]
        self.moments.update(self.buf[:max(0, min(rows, self.n_train_seg - self.seg0))])
        self.seg0 += rows
        self.filled = 0
        if self.seg0 == self.n_seg:
            self.stream += 1
            self.seg0 = 0


def prepare_blizzard(src_dir, out_file, seq_len=SEQ_LEN, batch_size=128, valid_frac=0.05,
                     test_frac=0.05, allow_pickle=False, skip_bad=False, progress=None):
    """Prepare a folder of speech audio as the legacy Blizzard TBPTT HDF5 file.

    Streams: files are read block by block (see :mod:`nips2015_vrnn.datasets.audio`) and rows
    are written as they fill, so memory stays bounded whatever the corpus size.

    Parameters
    ----------
    src_dir : str or Path
        Folder searched recursively for audio files of any format libsndfile decodes (WAV,
        FLAC, OGG, MP3, NIST SPHERE, ...; any rate, width, channel count) and, with
        ``allow_pickle``, legacy ``data_*.npy`` files. Each file is decoded once to check it
        (exact length, truncation, NaN, samples beyond full scale) before any is written.
    out_file : str or Path
        The HDF5 file to write (layout in the module docstring); ``<stem>_normal.npz`` is
        written beside it.
    seq_len : int
        Samples per row (8000: 0.5 s).
    batch_size : int
        Number of parallel streams B: training must read batches of exactly B rows.
    valid_frac, test_frac : float
        Fractions of the segments kept for validation and test (each >= 0, sum < 1).
    allow_pickle : bool
        Read legacy pickled ``data_*.npy`` files (runs pickle: trusted files only).
    skip_bad : bool
        Leave out files that do not decode or are truncated (a warning names each) instead of
        failing on the first.
    progress : callable or None
        Called as ``progress(samples_done, samples_total)`` after each block.

    Returns
    -------
    dict
        ``path``, ``rows`` (N), ``train_rows``/``valid_rows``/``test_rows`` ((start, stop)),
        ``X_mean``, ``X_std``, ``hours`` (audio written), ``seconds`` (time taken), ``files``
        (files used), ``skipped`` (list of 'file: problem'), ``beyond_full_scale`` (number of
        float files with samples beyond [-1, 1], each also logged as a warning).

    Raises
    ------
    DataError
        Missing folder, no audio, an unreadable / empty / non-finite file, or too little audio
        for one batch per split.
    """
    for label, value in (("seq_len", seq_len), ("batch_size", batch_size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be a positive int, got {value!r}")
    if seq_len % FRAME_SIZE:
        raise ValueError(f"seq_len must be a multiple of the frame size {FRAME_SIZE} (the models' "
                         f"x_dim: training cuts rows into frames), got {seq_len}")
    if not (0 <= valid_frac < 1 and 0 <= test_frac < 1 and valid_frac + test_frac < 1):
        raise ValueError(f"valid_frac={valid_frac!r} and test_frac={test_frac!r}: expected "
                         "each in [0, 1) and a sum below 1")
    began = time.perf_counter()
    src = Path(src_dir)
    checked = check_sources(find_audio(src, allow_pickle=allow_pickle), skip_bad=skip_bad)
    files, lengths = checked["files"], checked["lengths"]
    if not files:
        raise DataError(src, f"none of its {len(checked['skipped'])} audio files decodes "
                             f"(first: {checked['skipped'][0]})")
    total = int(lengths.sum())
    batch_samples = batch_size * seq_len
    n_seg = total // batch_samples
    need = 1 + (valid_frac > 0) + (test_frac > 0)
    if n_seg < need:
        raise DataError(src, f"holds {total} samples ({total / TARGET_RATE:.1f} s at 16 kHz); "
                             f"expected at least {need} batches of batch_size * seq_len = "
                             f"{batch_samples} samples ({need * batch_samples} in all)")
    n_train, n_valid, n_test = split_segments(n_seg, valid_frac, test_frac)
    if n_train < 1:
        raise DataError(src, f"{n_seg} batches leave none for training after {n_valid} valid "
                             f"and {n_test} test batches; expected more audio or smaller fractions")
    used = n_seg * batch_samples
    log.info("%s: %d files, %.2f h of audio -> %d rows of %d samples (%d streams), "
             "%d / %d / %d batches", src, len(files), total / TARGET_RATE / 3600,
             n_seg * batch_size, seq_len, batch_size, n_train, n_valid, n_test)
    moments = RunningMoments()
    bounds = np.cumsum([0, n_train, n_valid, n_test]) * batch_size
    with atomic_h5(out_file, LAYOUT, VERSION, companions=[normal_path(out_file)]) as f:
        dset = f.create_dataset("data", shape=(n_seg * batch_size, seq_len), dtype=np.int16,
                                chunks=(1, seq_len), compression="gzip",
                                compression_opts=GZIP_LEVEL, shuffle=True)
        writer = _StreamWriter(dset, batch_size, n_seg, n_train, moments)
        done, last_log = 0, began
        for path in files:
            for block in AudioFile(path).blocks():
                writer.write(to_int16(block))
                done = min(used, done + len(block))
                if progress is not None:
                    progress(done, used)
                if time.perf_counter() - last_log > LOG_EVERY_S:
                    last_log = time.perf_counter()
                    log.info("prepared %.2f of %.2f h (%.0f%%)", done / TARGET_RATE / 3600,
                             used / TARGET_RATE / 3600, 100.0 * done / used)
                if writer.done:
                    break
            if writer.done:
                break
        x_mean, x_std = float(moments.mean), float(moments.std)
        check_statistics(src, x_mean, x_std)  # before anything is renamed into place
        f.create_dataset("sources", data=np.array([str(p.relative_to(src)) for p in files],
                                                  dtype=h5py.string_dtype()))
        f.create_dataset("source_samples", data=lengths)
        f.attrs.update(sample_rate=TARGET_RATE, seq_len=seq_len, batch_size=batch_size,
                       train_rows=bounds[0:2], valid_rows=bounds[1:3], test_rows=bounds[2:4],
                       X_mean=x_mean, X_std=x_std, source_dir=str(src.resolve()),
                       samples_dropped=total - used)
        with open(temporary_path(normal_path(out_file)), "wb") as handle:  # renamed with the .h5
            np.savez(handle, X_mean=np.float64(x_mean), X_std=np.float64(x_std))
    seconds = time.perf_counter() - began
    log.info("wrote %s in %.1f s (X_mean %.3f, X_std %.3f)", out_file, seconds, x_mean, x_std)
    ranges = [tuple(int(b) for b in bounds[i:i + 2]) for i in range(3)]
    return {"path": str(out_file), "rows": n_seg * batch_size,
            "train_rows": ranges[0], "valid_rows": ranges[1], "test_rows": ranges[2],
            "X_mean": x_mean, "X_std": x_std,
            "hours": used / TARGET_RATE / 3600, "seconds": seconds, "files": len(files),
            "beyond_full_scale": len(checked["beyond_full_scale"]), "skipped": checked["skipped"]}


class Blizzard(SplitReader):
    """Rows of a prepared Blizzard file as normalised frames, read lazily per request.

    A :class:`cle.data.Data` (through :class:`~nips2015_vrnn.datasets.reader.SplitReader`).

    Parameters
    ----------
    name : {'train', 'valid', 'test'}
        The split: a row range of the file.
    path : str or Path
        HDF5 file written by :func:`prepare_blizzard`.
    frame_size : int
        Samples per frame F (must divide seq_len); T = seq_len / F frames per row.
    X_mean, X_std : float or None
        Normalisation; None takes the training statistics stored in the file.
    dtype : str
        Float dtype of the batches (floatX; float32 by default).

    Notes
    -----
    ``slices(start, end)`` returns ``[x]``, x of shape (T, B, F) with B = end - start::

        x[t, b] = (data[row0 + start + b, t*F:(t+1)*F] - X_mean) / X_std

    Only those rows are read from disk.
    """

    LAYOUT, VERSION, PRODUCER = LAYOUT, VERSION, "prepare_blizzard"
    FILE_KIND, UNIT = "file", "rows"

    def __init__(self, name="train", path=None, frame_size=FRAME_SIZE, X_mean=None, X_std=None,
                 dtype="float32"):
        super().__init__(name=name, path=path, dtype=dtype)
        self._data = self._node("data")
        try:
            self.seq_len, self.batch_size = int(self._attr("seq_len")), int(self._attr("batch_size"))
            self.sample_rate = int(self._attr("sample_rate"))
            row_range = tuple(int(r) for r in self._attr(f"{name}_rows"))
        except (TypeError, ValueError) as exc:
            raise DataError(self.path, f"has attributes that are not integers ({exc}); expected "
                                       f"the output of {self.PRODUCER}") from None
        shape = self._data.shape
        self._expect(len(shape) == 2 and shape[1] == self.seq_len and self.seq_len > 0
                     and self.batch_size > 0,
                     f"dataset 'data' has shape {shape} with seq_len {self.seq_len}, batch_size "
                     f"{self.batch_size}: rows of seq_len samples")
        self._expect(len(row_range) == 2 and 0 <= row_range[0] <= row_range[1] <= shape[0],
                     f"{name}_rows {row_range} is not a row range of the {shape[0]} rows")
        if not isinstance(frame_size, (int, np.integer)) or frame_size < 1 \
                or self.seq_len % frame_size:
            raise ValueError(f"frame_size must be a positive divisor of seq_len={self.seq_len}, "
                             f"got {frame_size!r}")
        self.frame_size = int(frame_size)
        self.n_frames = self.seq_len // self.frame_size
        self.row_range = row_range
        mean, std = self._statistics(X_mean, X_std, shape=())
        self.X_mean, self.X_std = float(mean), float(std)

    frame_width = property(lambda self: self.frame_size, doc="Samples per frame F.")

    def num_examples(self):
        """Number of rows (0.5 s sequences) in the split."""
        return self.row_range[1] - self.row_range[0]

    def rows(self, start, end):
        """Raw int16 rows [start, end) of the split, shape (end - start, seq_len)."""
        self._check(start, end)
        first = self.row_range[0]
        return self._read(self._data, first + start, first + end)

    def slices(self, start, end):
        """``[x]``: rows [start, end) as normalised frames x (T, B, F) in ``dtype``."""
        rows = self.rows(start, end).astype(self.dtype)
        x = rows.reshape(end - start, self.n_frames, self.frame_size).transpose(1, 0, 2)
        mean, std = np.asarray(self.X_mean, self.dtype), np.asarray(self.X_std, self.dtype)
        return [np.ascontiguousarray((x - mean) / std)]

    def to_waveforms(self, x):
        """Frames x (T, B, F) (normalised) -> int16 waveforms (B, T*F), ready for a WAV file.

        See :func:`~nips2015_vrnn.datasets.audio.frames_to_waveforms`.
        """
        return frames_to_waveforms(x, self.X_mean, self.X_std)


class Blizzard_tbptt(Blizzard):  # noqa: N801  (the legacy class name)
    """:class:`Blizzard` for truncated BPTT: batches of ``batch_size`` rows continue each stream.

    The batch [i*B, (i+1)*B) is followed, stream by stream, by [(i+1)*B, (i+2)*B) when B is
    the file's ``batch_size``. Slices that do not start on a multiple of ``batch_size`` are
    served, but a carried state would then join unrelated audio: a warning says so once.
    """

    _warned = False

    def slices(self, start, end):
        if (start % self.batch_size or end - start != self.batch_size) and not self._warned:
            self._warned = True
            log.warning("%s: slice [%d, %d) is not one aligned batch of %d rows; the rows do "
                        "not continue the previous batch's streams", self.path, start, end,
                        self.batch_size)
        return super().slices(start, end)
