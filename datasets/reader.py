"""The base of the corpus readers: one split of a prepared HDF5 file as a ``cle.data.Data``.

:class:`SplitReader` holds what the Blizzard and IAM-OnDB readers share: the checks of the
constructor arguments (split name, path, float dtype), opening the file with its layout and
version checked, the normalisation statistics (taken from the file unless given, ``X_std > 0``),
the range check of ``start:end``, ``theano_vars`` for the ``x`` input, ``denormalise`` and the
context manager that closes the file. Subclasses set the class attributes and implement
:meth:`num_examples` and :meth:`slices`.

Unlike :class:`cle.data.Data`, nothing is loaded into ``self.data`` up front: the arrays stay
in the HDF5 file and ``slices`` reads only the examples it returns.
"""
from pathlib import Path

import numpy as np

from cle.data import Data
from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.hdf5 import open_layout

__all__ = ["SPLITS", "SplitReader"]

#: The splits every prepared file holds.
SPLITS = ("train", "valid", "test")


class SplitReader(Data):
    """One split of a prepared HDF5 file, read lazily (base of ``Blizzard`` and ``IAMOnDB``).

    Parameters
    ----------
    name : {'train', 'valid', 'test'}
        The split; also labels monitoring channels, as in :class:`cle.data.Data`.
    path : str or Path
        The prepared file (written by :attr:`PRODUCER`).
    dtype : str
        Float dtype of the batches.

    Attributes set by subclasses
    ----------------------------
    LAYOUT, VERSION : the ``layout`` / ``version`` attributes the file must carry.
    PRODUCER : name of the function writing such files (said in error messages).
    FILE_KIND : what the file is called in error messages ('file', 'cache').
    UNIT : what one example is called in error messages ('rows', 'lines').
    """

    LAYOUT = None
    VERSION = None
    PRODUCER = None
    FILE_KIND = "file"
    UNIT = "examples"

    def __init__(self, name="train", path=None, dtype="float32"):
        # Data.__init__ is not called: it would load whole arrays; these stay on disk.
        if name not in SPLITS:
            raise ValueError(f"name must be one of {SPLITS}, got {name!r}")
        if path is None:
            raise ValueError(f"path is required: the HDF5 {self.FILE_KIND} written by "
                             f"{self.PRODUCER}")
        if np.dtype(dtype).kind != "f":
            raise ValueError(f"dtype must be a float dtype, got {dtype!r}")
        self.name, self.path, self.dtype = name, str(path), str(np.dtype(dtype))
        self._file = self._open(Path(path))

    def _open(self, path):
        """The file opened read-only after its layout and version are checked."""
        return open_layout(path, self.LAYOUT, self.VERSION, self.PRODUCER)

    def _statistics(self, X_mean, X_std, shape):
        """(X_mean, X_std) as float64 arrays of ``shape``: the file's attributes where None.

        Raises ValueError unless both have ``shape``, are finite and every ``X_std > 0``
        (DataError naming the file when the bad values come from it).
        """
        from_file = X_mean is None and X_std is None
        try:
            mean = np.asarray(self._attr("X_mean") if X_mean is None else X_mean, dtype=np.float64)
            std = np.asarray(self._attr("X_std") if X_std is None else X_std, dtype=np.float64)
            if shape == ():  # a scalar: any single value (as float() would take it)
                if mean.size != 1 or std.size != 1:
                    raise ValueError(f"X_mean and X_std must be scalars, got {mean!r} and {std!r}")
                mean, std = mean.reshape(()), std.reshape(())
                if not (np.isfinite(mean) and np.isfinite(std) and std > 0):
                    raise ValueError(f"X_std must be > 0 (both finite), got X_mean {float(mean)!r} "
                                     f"and X_std {float(std)!r}")
            elif mean.shape != shape or std.shape != shape or not (
                    np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
                raise ValueError(f"X_mean and X_std must have shape {shape} with X_std > 0 (both "
                                 f"finite), got {mean!r} and {std!r}")
        except (TypeError, ValueError) as exc:
            if from_file:
                raise DataError(self.path, f"{exc}; expected the training statistics "
                                           f"{self.PRODUCER} computes") from None
            raise
        return mean, std

    def _attr(self, key):
        """The root attribute ``key`` of the file; DataError naming the file when absent."""
        try:
            return self._file.attrs[key]
        except (KeyError, OSError) as exc:
            raise DataError(self.path, f"has no readable attribute {key!r} ({exc}); expected "
                                       f"the output of {self.PRODUCER}") from None

    def _node(self, key, kind="dataset"):
        """The dataset (or group) ``key`` of the file; DataError naming the file when absent."""
        import h5py
        node = self._file.get(key)
        wanted = h5py.Dataset if kind == "dataset" else h5py.Group
        if not isinstance(node, wanted):
            raise DataError(self.path, f"has no {kind} {key!r}; expected the output of "
                                       f"{self.PRODUCER}")
        return node

    def _expect(self, condition, problem):
        """DataError naming the file unless ``condition``."""
        if not condition:
            raise DataError(self.path, f"{problem}; expected the layout {self.PRODUCER} writes "
                                       f"(re-run it)")

    def _read(self, dataset, start, end):
        """``dataset[start:end]``; a failed read (a damaged chunk) is a DataError naming the file,
        the dataset and the first row that cannot be read."""
        try:
            return dataset[start:end]
        except (OSError, RuntimeError, ValueError) as exc:
            bad = start
            for row in range(start, end):
                try:
                    dataset[row:row + 1]
                except (OSError, RuntimeError, ValueError):
                    bad = row
                    break
            raise DataError(self.path, f"row {bad} of dataset {dataset.name} (in the {self.name} "
                                       f"split) cannot be read ({exc}); the file is damaged: "
                                       f"re-run {self.PRODUCER}") from None

    def _check(self, start, end):
        """Raise IndexError unless 0 <= start < end <= num_examples()."""
        n = self.num_examples()
        if not (0 <= start < end <= n):
            raise IndexError(f"{self.UNIT} [{start}, {end}) outside the {self.name} split of "
                             f"{n} {self.UNIT}")

    @property
    def frame_width(self):
        """Values per frame: the width D of the batches' last axis (the model's x_dim)."""
        raise NotImplementedError

    def theano_vars(self):
        """The symbolic input ``[x]``: a tensor3 (T, B, D) named 'x' of ``dtype``."""
        import pytensor.tensor as pt
        return [pt.tensor3("x", dtype=self.dtype)]

    def denormalise(self, x):
        """Undo the normalisation: x * X_std + X_mean (float64), broadcast on the last axis."""
        return np.asarray(x, dtype=np.float64) * self.X_std + self.X_mean

    def close(self):
        """Close the HDF5 file."""
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
