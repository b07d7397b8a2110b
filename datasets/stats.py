"""Streaming mean and standard deviation (Welford within a chunk, Chan et al. between chunks).

Merging two partial results (n_a, mean_a, M2_a) and (n_b, mean_b, M2_b), with
delta = mean_b - mean_a and n = n_a + n_b:

    mean = mean_a + delta * n_b / n
    M2   = M2_a + M2_b + delta**2 * n_a * n_b / n
    std  = sqrt(M2 / n)            (population std, as numpy's default ``ddof=0``)

Each chunk's own (mean, M2) is computed in float64 around the chunk mean, so no large
sums of squares are ever subtracted: the result stays accurate over billions of samples.
"""
import numpy as np


class RunningMoments:
    """Mean and std of a stream of arrays, per feature (columns of the last axis) or global.

    Parameters
    ----------
    width : int or None
        None: one scalar mean/std over every element given. An int D: arrays are read as
        (..., D) and mean/std have shape (D,).

    Examples
    --------
    >>> m = RunningMoments()
    >>> m.update(np.array([1.0, 2.0])); m.update(np.array([3.0, 4.0]))
    >>> float(m.mean), round(float(m.std), 6)
    (2.5, 1.118034)
    """

    def __init__(self, width=None):
        if width is not None and (not isinstance(width, (int, np.integer)) or width < 1):
            raise ValueError(f"width must be None or a positive int, got {width!r}")
        self.width = width
        shape = () if width is None else (int(width),)
        self.count = 0
        self.mean = np.zeros(shape)
        self.m2 = np.zeros(shape)

    def update(self, values):
        """Merge one chunk of values: any shape (global) or (..., D) (per feature)."""
        values = np.asarray(values, dtype=np.float64)
        values = values.reshape(-1) if self.width is None else values.reshape(-1, self.width)
        n_b = values.shape[0]
        if n_b == 0:
            return
        mean_b = values.mean(axis=0)
        m2_b = ((values - mean_b) ** 2).sum(axis=0)
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + delta ** 2 * (n_a * n_b / n)
        self.count = n

    @property
    def std(self):
        """Population standard deviation sqrt(M2 / n); shape () or (D,)."""
        if self.count == 0:
            raise ValueError("no values were given: the standard deviation is undefined")
        return np.sqrt(self.m2 / self.count)


def check_statistics(where, mean, std):
    """DataError naming ``where`` unless ``mean`` and ``std`` (the training data's normalisation)
    are finite and ``std`` is above 0: training divides by ``std`` (silent audio gives 0; damaged
    samples give non-finite values), and would refuse the file."""
    from nips2015_vrnn.datasets.errors import DataError

    mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))) or np.any(std <= 0):
        raise DataError(where, f"its training data have mean {mean.tolist()!r} and standard deviation "
                               f"{std.tolist()!r}; expected finite statistics and a deviation above 0 "
                               f"(silent or damaged audio cannot be normalised)")
