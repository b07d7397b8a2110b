"""Length buckets: a few padded lengths, and a batch width for each, chosen for a set of
sequence lengths so that most computed frames are real (static-shape backends compile one
function per (length, width)).

Each sequence goes to the smallest bucket length that holds it. Bucket lengths are chosen by
dynamic programming to minimise the padded frames (the sum over sequences of bucket length minus
length); the number of buckets is the smallest (up to ``max_buckets``) whose batches reach
``target`` real frames. A bucket of length L holding n sequences is cut into
m = max(1, round(n L / (batch_size * mean length))) batches of ceil(n / m) columns: each batch
holds about ``batch_size`` mean-length sequences' worth of frames (fewer, longer sequences in a
long bucket), and at most m - 1 columns of a bucket are empty.

Example
-------
>>> plan = length_buckets([10] * 8 + [40] * 4, batch_size=4)
>>> plan.shapes, round(plan.real_fraction, 3)
([(10, 8), (40, 2)], 1.0)
"""
from collections import namedtuple

import numpy as np

__all__ = ["length_buckets", "BucketPlan", "MAX_BUCKETS", "TARGET_REAL_FRACTION"]

#: Most bucket lengths chosen (each is one compiled training function in a static-shape backend).
MAX_BUCKETS = 6
#: Fewer buckets are taken when they already make this fraction of the computed frames real.
TARGET_REAL_FRACTION = 0.85

#: ``shapes``: [(padded length, batch width)] by increasing length; ``real_fraction``: real
#: frames / computed frames of one pass; ``batches``: batches per pass.
BucketPlan = namedtuple("BucketPlan", ["shapes", "real_fraction", "batches"])


def _bucket_lengths(lengths, k):
    """The k (or fewer) bucket lengths minimising the padded frames of ``lengths`` (DP)."""
    values, counts = np.unique(lengths, return_counts=True)
    n = len(values)
    k = min(k, n)
    count_sum = np.concatenate([[0], np.cumsum(counts)])
    frame_sum = np.concatenate([[0], np.cumsum(counts * values)])

    def padding(i, j):  # values[i..j] padded to values[j]; vectorised over i
        return values[j] * (count_sum[j + 1] - count_sum[i]) - (frame_sum[j + 1] - frame_sum[i])

    best = np.array([padding(0, j) for j in range(n)], dtype=np.float64)
    choice = [np.full(n, -1)]
    for _ in range(1, k):
        new, arg = best.copy(), np.full(n, -1)
        for j in range(1, n):
            i = np.arange(j)
            cost = best[i] + padding(i + 1, j)
            at = int(np.argmin(cost))
            if cost[at] < new[j]:
                new[j], arg[j] = cost[at], at
        best = new
        choice.append(arg)
    chosen, j = [], n - 1
    for arg in reversed(choice):
        if j < 0:
            break
        chosen.append(int(values[j]))
        j = int(arg[j])
    return sorted(set(chosen))


def _plan(lengths, bucket_lengths, batch_size):
    lengths = np.asarray(lengths)
    budget = batch_size * lengths.mean()
    member = np.searchsorted(bucket_lengths, lengths)
    shapes, computed, batches = [], 0, 0
    for b, length in enumerate(bucket_lengths):
        n = int(np.sum(member == b))
        if n == 0:
            continue
        m = max(1, int(round(n * length / budget)))
        width = -(-n // m)
        m = -(-n // width)
        shapes.append((int(length), int(width)))
        computed += m * width * length
        batches += m
    return BucketPlan(shapes, float(lengths.sum() / computed), batches)


def length_buckets(lengths, batch_size, max_buckets=MAX_BUCKETS, target=TARGET_REAL_FRACTION):
    """The :class:`BucketPlan` of sequences of ``lengths`` (see the module docstring).

    Parameters
    ----------
    lengths : sequence of int >= 1, one per sequence
    batch_size : int >= 1
        Sequences of mean length per batch.
    max_buckets : int >= 1
    target : float in (0, 1]
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.ndim != 1 or len(lengths) == 0 or lengths.min() < 1:
        raise ValueError(f"length_buckets: lengths must be a non-empty list of ints >= 1; got {lengths}")
    if int(batch_size) != batch_size or batch_size < 1 or int(max_buckets) != max_buckets or max_buckets < 1:
        raise ValueError(f"length_buckets: batch_size and max_buckets must be ints >= 1; got "
                         f"{batch_size}, {max_buckets}")
    plan = None
    for k in range(1, int(max_buckets) + 1):
        plan = _plan(lengths, _bucket_lengths(lengths, k), int(batch_size))
        if plan.real_fraction >= target:
            break
    return plan
