"""Sequences of varying length in one split of a prepared file, served as padded batches + masks.

:class:`RaggedReader` is the base of the TIMIT and user-sequence readers. A split holds n
sequences; sequence i has ``T_i`` frames of width D. An *example* is a whole sequence, or, when
``chunk_frames`` is set (TIMIT training), a chunk of at most ``chunk_frames`` consecutive
frames of one sequence: sequence i gives ceil(T_i / chunk_frames) chunks, the last one shorter.

``slices(start, end)`` returns ``[x, mask]``: x (T, B, D) normalised frames padded with zeros
after each example's end, T the longest example among [start, end); mask (T, B), 1.0 where
t < that example's length. Only those examples are read from the file.

Subclasses set the :class:`~nips2015_vrnn.datasets.reader.SplitReader` class attributes and
implement :meth:`_open_split` (the frames per sequence and the width D) and :meth:`_read`
(normalised frames [f0, f1) of one sequence).
"""
import numpy as np

from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.reader import SplitReader

__all__ = ["RaggedReader", "chunk_index"]


def chunk_index(n_frames, chunk_frames):
    """The examples of sequences of ``n_frames`` frames: (sequence, first frame, end frame) rows.

    Examples
    --------
    >>> chunk_index(np.array([5, 2]), 2).tolist()
    [[0, 0, 2], [0, 2, 4], [0, 4, 5], [1, 0, 2]]
    >>> chunk_index(np.array([5, 2]), None).tolist()
    [[0, 0, 5], [1, 0, 2]]
    """
    n_frames = np.asarray(n_frames, dtype=np.int64)
    if not chunk_frames:
        return np.stack([np.arange(len(n_frames)), np.zeros_like(n_frames), n_frames], axis=1)
    rows = [(i, f0, min(f0 + chunk_frames, n)) for i, n in enumerate(n_frames)
            for f0 in range(0, int(n), chunk_frames)]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


class RaggedReader(SplitReader):
    """One split of variable-length sequences as padded, masked, normalised batches.

    Parameters
    ----------
    name : {'train', 'valid', 'test'}
    path : str or Path
    chunk_frames : int or None
        Serve chunks of at most this many frames instead of whole sequences.
    dtype : str

    Attributes
    ----------
    n_frames : (n,) int64, frames per sequence; ``width`` : D
    """

    UNIT = "sequences"

    def __init__(self, name="train", path=None, chunk_frames=None, dtype="float32"):
        super().__init__(name=name, path=path, dtype=dtype)
        if name not in self._file:
            raise DataError(path, f"has no {name!r} split; expected the output of {self.PRODUCER}")
        self.n_frames, self.width = self._open_split(self._file[name])
        if chunk_frames is not None and (not isinstance(chunk_frames, (int, np.integer)) or chunk_frames < 0):
            raise ValueError(f"chunk_frames must be None or an int >= 0, got {chunk_frames!r}")
        self.chunk_frames = int(chunk_frames or 0)
        self._index = chunk_index(self.n_frames, self.chunk_frames)
        if self.num_examples() == 0:
            raise DataError(path, f"split {name!r} holds no sequences; expected at least one")

    frame_width = property(lambda self: self.width, doc="Values per frame D.")

    def num_examples(self):
        """Number of examples (sequences, or chunks with ``chunk_frames``)."""
        return len(self._index)

    def lengths(self, start, end):
        """Frames per example for examples [start, end): (end - start,) int64."""
        self._check(start, end)
        rows = self._index[start:end]
        return rows[:, 2] - rows[:, 1]

    def slices(self, start, end):
        """``[x, mask]`` for examples [start, end): x (T, B, D), mask (T, B), both ``dtype``."""
        self._check(start, end)
        rows = self._index[start:end]
        lengths = rows[:, 2] - rows[:, 1]
        x = np.zeros((int(lengths.max()), end - start, self.width), dtype=self.dtype)
        mask = np.zeros(x.shape[:2], dtype=self.dtype)
        for b, (seq, f0, f1) in enumerate(rows):
            x[:f1 - f0, b] = self._read(int(seq), int(f0), int(f1))
            mask[:f1 - f0, b] = 1.0
        return [x, mask]

    def batch(self, indices, n_steps=None, n_columns=None):
        """``[x, mask]`` of the examples ``indices`` (any order), padded with zeros and mask 0
        to ``n_steps`` steps (default: the longest of them) and ``n_columns`` columns (default
        ``len(indices)``): x (T, B, D), mask (T, B), both ``dtype``."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.ndim != 1 or len(indices) == 0 or indices.min() < 0 or indices.max() >= len(self._index):
            raise IndexError(f"{self.name}: example indices must be in [0, {len(self._index)}); got "
                             f"{indices.tolist()}")
        rows = self._index[indices]
        lengths = rows[:, 2] - rows[:, 1]
        n_steps = int(lengths.max()) if n_steps is None else int(n_steps)
        n_columns = len(indices) if n_columns is None else int(n_columns)
        if n_steps < lengths.max() or n_columns < len(indices):
            raise ValueError(f"{self.name}: a batch of {len(indices)} examples up to {lengths.max()} "
                             f"steps does not fit ({n_steps}, {n_columns})")
        x = np.zeros((n_steps, n_columns, self.width), dtype=self.dtype)
        mask = np.zeros(x.shape[:2], dtype=self.dtype)
        for b, (seq, f0, f1) in enumerate(rows):
            x[:f1 - f0, b] = self._read(int(seq), int(f0), int(f1))
            mask[:f1 - f0, b] = 1.0
        return [x, mask]

    def theano_vars(self):
        """The symbolic inputs ``[x, mask]``: tensor3 'x' (T, B, D) and matrix 'mask' (T, B)."""
        import pytensor.tensor as pt
        return super().theano_vars() + [pt.matrix("mask", dtype=self.dtype)]

    # ------------------------------------------------------------------ subclass hooks
    def _open_split(self, group):
        """``(n_frames, width)`` of the split stored in the HDF5 ``group``."""
        raise NotImplementedError

    def _read(self, seq, f0, f1):
        """Normalised frames [f0, f1) of sequence ``seq``: (f1 - f0, D) float64."""
        raise NotImplementedError
