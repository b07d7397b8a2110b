"""Datasets as the training loop sees them (the legacy ``cle.cle.data.Data`` family).

A data object holds one or more arrays whose first axis indexes examples and serves
consecutive example ranges through :meth:`Data.slices`. Three methods make the interface
that :class:`cle.data.Iterator` and the training loop rely on:

- ``num_examples()``: how many examples there are;
- ``slices(start, end)``: a list of numpy arrays for the examples ``start:end``
  (e.g. ``[x]`` with ``x`` of shape (T, B, D), or ``[x, mask]``);
- ``theano_vars()``: the symbolic inputs matching what ``slices`` returns.
"""
import numpy as np

from cle.backend import floatX

__all__ = ["Data", "DesignMatrix", "TemporalSeries"]


class Data:
    """Base class for a dataset: a list of arrays ``self.data`` sharing their first axis.

    Parameters
    ----------
    name : str
        Used to label monitoring channels (``<name>_<channel>``).
    path : str or None
        When given, :meth:`load` reads the arrays from it.
    data : list of ndarray or None
        The arrays themselves (each of shape (N, ...)), instead of ``path``.

    Examples
    --------
    >>> d = DesignMatrix("toy", data=[np.arange(12.).reshape(6, 2)])
    >>> d.num_examples()
    6
    >>> d.slices(2, 4)[0].tolist()
    [[4.0, 5.0], [6.0, 7.0]]
    """

    def __init__(self, name="data", path=None, data=None):
        if path is not None and data is not None:
            raise ValueError("Data: give either path or data, not both")
        self.name = name
        self.path = path
        if path is not None:
            self.data = self.load(path)
        else:
            self.data = [np.asarray(mat) for mat in (data or [])]

    def load(self, path):
        """The arrays stored in the ``.npz`` / ``.npy`` file ``path`` (never unpickles)."""
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return [loaded]
        return [loaded[key] for key in loaded.files]

    def num_examples(self):
        """Number of examples (the longest first axis among the arrays)."""
        if not self.data:
            return 0
        return max(len(mat) for mat in self.data)

    def slices(self, start, end):
        """The examples ``start:end`` of every array, as a list."""
        raise NotImplementedError(f"{type(self).__name__} does not implement slices()")

    def theano_vars(self):
        """The symbolic inputs matching :meth:`slices`."""
        raise NotImplementedError(f"{type(self).__name__} does not implement theano_vars()")


class DesignMatrix(Data):
    """Static data: each example is a row; ``slices`` returns arrays of shape (B, ...)."""

    def slices(self, start, end):
        return [mat[start:end] for mat in self.data]


class TemporalSeries(Data):
    """Sequences stored example-major (N, T, ...); ``slices`` returns them time-major (T, B, ...).

    For sequences of different lengths the helpers :meth:`create_mask`, :meth:`zero_pad` and
    :meth:`create_mask_and_zero_pad` turn a list of B arrays of shape (T_b, ...) into a padded
    (T_max, B, ...) array and a (T_max, B) mask with 1 on real steps and 0 on padding.

    Examples
    --------
    >>> seqs = [np.ones((3, 2)), 2 * np.ones((1, 2))]
    >>> x, mask = TemporalSeries.create_mask_and_zero_pad(seqs)
    >>> x.shape, mask.T.tolist()
    ((3, 2, 2), [[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    """

    def slices(self, start, end):
        return [np.swapaxes(mat[start:end], 0, 1) for mat in self.data]

    @staticmethod
    def create_mask(batch, dtype=None):
        """A (T_max, B) mask: ``mask[t, b] = 1`` for t < len(batch[b]), else 0."""
        lengths = [len(sample) for sample in batch]
        mask = np.zeros((max(lengths), len(batch)), dtype=dtype or floatX())
        for b, length in enumerate(lengths):
            mask[:length, b] = 1
        return mask

    @staticmethod
    def zero_pad(batch, dtype=None):
        """The sequences of ``batch`` (B arrays (T_b, ...)) zero-padded to (T_max, B, ...)."""
        first = np.asarray(batch[0])
        t_max = max(len(sample) for sample in batch)
        out = np.zeros((t_max, len(batch)) + first.shape[1:], dtype=dtype or first.dtype)
        for b, sample in enumerate(batch):
            out[:len(sample), b] = sample
        return out

    @classmethod
    def create_mask_and_zero_pad(cls, batch, dtype=None):
        """``(zero_pad(batch), create_mask(batch))``; the mask has the padded data's dtype."""
        padded = cls.zero_pad(batch, dtype=dtype)
        mask_dtype = padded.dtype if np.issubdtype(padded.dtype, np.floating) else floatX()
        return padded, cls.create_mask(batch, dtype=mask_dtype)
