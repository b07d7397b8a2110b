"""Iterator: legacy consecutive slices, remainder dropped, nbatch, start/end, seeded shuffle, position."""
import numpy as np
import pytest

from cle.data import DesignMatrix, ExampleIterator, Iterator


def firsts(iterator):
    return [int(batch[0][0]) for batch in iterator]


@pytest.fixture
def data():
    return DesignMatrix("toy", data=[np.arange(10), np.arange(10) * 10])


def test_consecutive_slices_and_the_remainder_is_dropped(data):
    batches = list(Iterator(data, batch_size=3))
    assert [b[0].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert batches[1][1].tolist() == [30, 40, 50]


def test_nbatch_sets_the_batch_size(data):
    iterator = Iterator(data, nbatch=4)
    assert iterator.batch_size == 2 and len(iterator) == 4
    assert firsts(iterator) == [0, 2, 4, 6]


def test_start_and_end_bound_the_examples(data):
    assert [b[0].tolist() for b in Iterator(data, batch_size=2, start=3, end=8)] == [[3, 4], [5, 6]]


def test_shuffle_permutes_batches_reproducibly_and_differently_each_pass(data):
    a = Iterator(data, batch_size=2, shuffle=True, seed=0)
    b = Iterator(data, batch_size=2, shuffle=True, seed=0)
    passes_a = [firsts(a) for _ in range(3)]
    assert passes_a == [firsts(b) for _ in range(3)]
    assert all(sorted(p) == [0, 2, 4, 6, 8] for p in passes_a)
    assert len({tuple(p) for p in passes_a}) > 1


def test_position_can_be_saved_mid_pass_and_restored(data):
    original = Iterator(data, batch_size=2, shuffle=True, seed=1)
    firsts(original)                                   # one full pass
    generator = iter(original)
    seen = [int(next(generator)[0][0]) for _ in range(2)]
    state = original.state_dict()
    rest = [int(b[0][0]) for b in generator] + firsts(original)
    restored = Iterator(data, batch_size=2, shuffle=True, seed=99)
    restored.load_state_dict(state)
    assert restored.position == 2
    assert firsts(restored) + firsts(restored) == rest
    assert len(seen) == 2


def test_a_pass_stays_open_until_the_loop_ends(data):
    iterator = Iterator(data, batch_size=5)
    generator = iter(iterator)
    next(generator), next(generator)
    state = iterator.state_dict()                      # after the last batch, loop not finished
    restored = Iterator(data, batch_size=5)
    restored.load_state_dict(state)
    assert firsts(restored) == [] and restored.passes == 1
    assert firsts(restored) == [0, 5]


@pytest.mark.parametrize("kwargs", [dict(), dict(batch_size=2, nbatch=2), dict(batch_size=11),
                                    dict(batch_size=2, start=5, end=5), dict(nbatch=0)])
def test_bad_arguments_are_refused(data, kwargs):
    with pytest.raises(ValueError):
        Iterator(data, **kwargs)


def test_a_state_for_another_layout_is_refused(data):
    state = Iterator(data, batch_size=2).state_dict()
    with pytest.raises(ValueError, match="does not match"):
        Iterator(data, batch_size=3).load_state_dict(state)


def test_drop_last_false_keeps_the_remainder_as_a_smaller_batch(data):
    iterator = Iterator(data, batch_size=4, drop_last=False)
    assert [b[0].tolist() for b in iterator] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(iterator) == 3 and iterator.batch_sizes() == [4, 4, 2]


def test_restart_begins_a_new_pass_without_counting_the_open_one(data):
    iterator = Iterator(data, batch_size=4, drop_last=False)
    generator = iter(iterator)
    next(generator), next(generator)
    iterator.restart()
    assert iterator.position == 0 and firsts(iterator) == [0, 4, 8] and iterator.passes == 1



class Ragged:
    """Examples of the given lengths; a batch is (indices, n_steps, n_columns)."""

    name = "toy"

    def __init__(self, lengths):
        self._lengths = np.asarray(lengths)

    def num_examples(self):
        return len(self._lengths)

    def lengths(self, start, end):
        return self._lengths[start:end]

    def batch(self, indices, n_steps=None, n_columns=None):
        return list(indices), n_steps, n_columns


def test_example_iterator_serves_every_example_once_per_pass_in_a_new_order():
    iterator = ExampleIterator(Ragged(np.ones(10)), batch_size=4, seed=0)
    passes = [[b[0] for b in iterator] for _ in range(3)]
    assert all(sorted(i for batch in p for i in batch) == list(range(10)) for p in passes)
    assert all([len(b) for b in p] == [4, 4, 2] for p in passes)
    assert len({tuple(map(tuple, p)) for p in passes}) == 3
    again = ExampleIterator(Ragged(np.ones(10)), batch_size=4, seed=0)
    assert [[b[0] for b in again] for _ in range(3)] == passes


def test_example_iterator_fill_asks_for_full_batches():
    iterator = ExampleIterator(Ragged(np.ones(5)), batch_size=4, shuffle=False, fill=True)
    assert [b for b in iterator] == [([0, 1, 2, 3], None, 4), ([4], None, 4)]


def test_example_iterator_restores_mid_pass_exactly():
    original = ExampleIterator(Ragged(np.ones(11)), batch_size=3, seed=1)
    list(original)
    generator = iter(original)
    next(generator)
    state = original.state_dict()
    rest = [b[0] for b in generator] + [b[0] for b in original]
    restored = ExampleIterator(Ragged(np.ones(11)), batch_size=3, seed=7)
    restored.load_state_dict(state)
    assert [b[0] for b in restored] + [b[0] for b in restored] == rest


def test_example_iterator_refuses_a_state_of_another_layout():
    state = ExampleIterator(Ragged(np.ones(11)), batch_size=3).state_dict()
    with pytest.raises(ValueError, match="does not match"):
        ExampleIterator(Ragged(np.ones(11)), batch_size=4).load_state_dict(state)


def test_example_iterator_buckets_batch_examples_of_similar_lengths():
    lengths = [3, 9, 4, 10, 2, 8, 5]
    iterator = ExampleIterator(Ragged(lengths), batch_size=2, buckets=[(5, 3), (10, 2)], seed=0,
                               fill=True)
    batches = list(iterator)
    assert len(iterator) == len(batches) == 4
    for indices, n_steps, n_columns in batches:
        assert all(lengths[i] <= n_steps for i in indices)
        assert all(lengths[i] > 5 for i in indices) == (n_steps == 10)
        assert n_columns == {5: 3, 10: 2}[n_steps]
    assert sorted(i for b in batches for i in b[0]) == list(range(7))
    assert iterator.shapes() == [(5, 3), (10, 2)]


def test_example_iterator_goes_on_from_an_iterators_position_with_a_new_pass(caplog):
    legacy = Iterator(DesignMatrix("toy", data=[np.arange(10)]), batch_size=4)
    list(legacy)
    iterator = ExampleIterator(Ragged(np.ones(10)), batch_size=4, seed=0)
    iterator.load_state_dict(legacy.state_dict())
    assert iterator.passes == 1 and iterator.position == 0 and "new shuffled pass" in caplog.text
    assert sorted(i for b in iterator for i in b[0]) == list(range(10))
