"""Length buckets: few padded lengths, most computed frames real, the plan what an iterator does."""
import numpy as np
import pytest

from cle.data import ExampleIterator
from cle.data.buckets import MAX_BUCKETS, length_buckets


def chorale_lengths(n, seed=0):
    """Lengths like the Bach chorales' in eighth notes: 48..386, median about 96."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(np.round(np.exp(rng.normal(np.log(96), 0.42, n))), 48, 386).astype(int)
    lengths[:2] = 48, 386
    return lengths


class Lengths:
    def __init__(self, lengths):
        self._lengths = np.asarray(lengths)

    def num_examples(self):
        return len(self._lengths)

    def lengths(self, start, end):
        return self._lengths[start:end]

    def batch(self, indices, n_steps=None, n_columns=None):
        return self._lengths[indices].sum(), n_steps * n_columns


@pytest.mark.parametrize("n", [158, 1580])
def test_chorale_lengths_are_at_least_80_percent_real_frames(n):
    lengths = chorale_lengths(n)
    assert np.median(lengths) == pytest.approx(96, abs=4)
    plan = length_buckets(lengths, batch_size=32)
    assert plan.real_fraction >= 0.8 and len(plan.shapes) <= MAX_BUCKETS
    padded_to_longest = lengths.sum() / (len(lengths) * lengths.max())
    assert padded_to_longest < 0.3


def test_the_plan_is_what_an_iterator_computes_over_a_pass():
    lengths = chorale_lengths(158)
    plan = length_buckets(lengths, batch_size=32)
    iterator = ExampleIterator(Lengths(lengths), batch_size=32, buckets=plan.shapes, fill=True, seed=0)
    real, computed = np.sum(list(iterator), axis=0)
    assert real == lengths.sum() and real / computed == pytest.approx(plan.real_fraction)
    assert iterator.real_fraction() == pytest.approx(plan.real_fraction)
    assert len(iterator) == plan.batches


def test_equal_lengths_make_one_bucket_without_padding():
    plan = length_buckets([40] * 64, batch_size=32)
    assert plan.shapes == [(40, 32)] and plan.real_fraction == 1.0


def test_bad_lengths_are_refused():
    with pytest.raises(ValueError, match="lengths"):
        length_buckets([], batch_size=4)
