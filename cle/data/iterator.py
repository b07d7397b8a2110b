"""Batches of a dataset, in order or shuffled, with a position that checkpoints can save."""
import logging

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["Iterator", "ExampleIterator"]


class Iterator:
    """Yield consecutive batches ``data.slices(start + i * B, start + (i + 1) * B)``.

    The legacy semantics: ``nbatch = (end - start) // batch_size`` batches of exactly
    ``batch_size`` examples; the remainder (fewer than ``batch_size`` examples at the end) is
    dropped. With ``drop_last=False`` the remainder is one more, smaller batch, so every example
    is served once per pass. Given ``nbatch`` instead, ``batch_size = (end - start) // nbatch``
    and exactly ``nbatch`` batches are yielded.

    With ``shuffle=True`` each pass visits the batches in a new random order drawn from a
    seeded numpy Generator; each batch stays a consecutive slice (the data interface serves
    ranges), so only the order of the batches changes.

    The iterator remembers where it is: :meth:`state_dict` says which pass it is in, the order
    of that pass and the next batch; :meth:`load_state_dict` puts it back there, so iterating
    again continues exactly where the saved one stopped. A pass ends (and the next one is
    drawn) only when a ``for`` loop over the iterator runs to its end.

    Parameters
    ----------
    data : object with ``num_examples()`` and ``slices(start, end)``
    batch_size, nbatch : int
        Give exactly one.
    start, end : int
        The example range ``start:end`` to cover (``end`` defaults to ``data.num_examples()``).
    shuffle : bool
    seed : int or None
        Seed of the shuffling Generator.
    drop_last : bool
        Drop the examples that do not fill a last batch (the legacy semantics, default).

    Examples
    --------
    >>> from cle.data import DesignMatrix
    >>> d = DesignMatrix("toy", data=[np.arange(7)])
    >>> [b[0].tolist() for b in Iterator(d, batch_size=3)]
    [[0, 1, 2], [3, 4, 5]]
    >>> [b[0].tolist() for b in Iterator(d, nbatch=2, start=1)]
    [[1, 2, 3], [4, 5, 6]]
    >>> [b[0].tolist() for b in Iterator(d, batch_size=3, drop_last=False)]
    [[0, 1, 2], [3, 4, 5], [6]]
    """

    def __init__(self, data, batch_size=None, nbatch=None, start=0, end=None, shuffle=False,
                 seed=None, drop_last=True):
        if (batch_size is None) == (nbatch is None):
            raise ValueError(f"Iterator: give exactly one of batch_size and nbatch, got "
                             f"batch_size={batch_size}, nbatch={nbatch}")
        n_examples = data.num_examples()
        end = n_examples if end is None else end
        if not 0 <= start < end <= n_examples:
            raise ValueError(f"Iterator: need 0 <= start < end <= num_examples ({n_examples}), "
                             f"got start={start}, end={end}")
        n_range = end - start
        if nbatch is not None:
            if nbatch < 1 or nbatch > n_range:
                raise ValueError(f"Iterator: nbatch must be in [1, {n_range}], got {nbatch}")
            batch_size = n_range // nbatch
        if batch_size < 1 or batch_size > n_range:
            raise ValueError(f"Iterator: batch_size must be in [1, {n_range}] "
                             f"(the examples {start}:{end}), got {batch_size}")
        self.data = data
        self.name = getattr(data, "name", "data")
        self.start, self.end = start, end
        self.batch_size = int(batch_size)
        self.drop_last = bool(drop_last)
        if nbatch is not None:
            self.nbatch = int(nbatch)
        elif self.drop_last:
            self.nbatch = n_range // self.batch_size
        else:
            self.nbatch = -(-n_range // self.batch_size)
        self.shuffle = bool(shuffle)
        self.rng = np.random.default_rng(seed)
        self.passes = 0          # completed passes
        self._order = None       # batch order of the current pass (None: no pass open)
        self._next = 0           # index into _order of the next batch to yield

    def __len__(self):
        return self.nbatch

    def __iter__(self):
        if self._order is None:
            self._begin_pass()
        while self._next < self.nbatch:
            index = int(self._order[self._next])
            first = self.start + index * self.batch_size
            batch = self.data.slices(first, min(first + self.batch_size, self.end))
            self._next += 1  # only once read: a failed read is retried on resume
            yield batch
        self._order = None
        self._next = 0
        self.passes += 1

    def batch_sizes(self):
        """Examples in each batch, in batch index order (the last one smaller with
        ``drop_last=False``)."""
        return [min(self.batch_size, self.end - self.start - i * self.batch_size)
                for i in range(self.nbatch)]

    def restart(self):
        """Drop the open pass (its order and position, not counted as completed): the next
        ``for`` loop begins a new pass. For a split read whole each time (monitoring)."""
        self._order = None
        self._next = 0

    def _begin_pass(self):
        if self.shuffle:
            self._order = self.rng.permutation(self.nbatch)
        else:
            self._order = np.arange(self.nbatch)
        self._next = 0

    @property
    def position(self):
        """Number of batches already yielded in the current pass."""
        return self._next

    def state_dict(self):
        """The position as JSON-ready values (pass count, order, next batch, shuffle RNG state)."""
        return {
            "passes": self.passes,
            "order": None if self._order is None else [int(i) for i in self._order],
            "next": self._next,
            "nbatch": self.nbatch,
            "batch_size": self.batch_size,
            "start": self.start,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state):
        """Continue from a position saved by :meth:`state_dict` (same data and batch layout)."""
        for key in ("nbatch", "batch_size", "start"):
            if state[key] != getattr(self, key):
                raise ValueError(f"Iterator: saved {key}={state[key]} does not match this "
                                 f"iterator's {key}={getattr(self, key)}")
        order = state["order"]
        if order is not None and sorted(order) != list(range(self.nbatch)):
            raise ValueError("Iterator: saved batch order is not a permutation of the batches")
        if not 0 <= state["next"] <= self.nbatch:
            raise ValueError(f"Iterator: saved next batch {state['next']} outside [0, {self.nbatch}]")
        self.passes = int(state["passes"])
        self._order = None if order is None else np.asarray(order, dtype=np.int64)
        self._next = int(state["next"])
        self.rng.bit_generator.state = state["rng"]


class ExampleIterator:
    """Batches of whole examples, every example once per pass, each batch one padded shape.

    Each pass draws a new order of the examples from a seeded numpy Generator (``shuffle``) and
    cuts it into batches of ``batch_size``; the examples that do not fill a last batch make a
    smaller one (none is dropped). With ``fill`` every batch has ``batch_size`` columns: the
    missing ones are empty examples (zeros, mask 0), so one shape serves every batch.

    With ``buckets`` (``(length, width)`` pairs by increasing length, the last length at least
    the longest example's; :func:`cle.data.buckets.length_buckets` chooses them) each example
    goes to the bucket of the smallest length that holds it; a bucket's examples are cut into
    batches of its ``width`` (the last one smaller, or filled), padded along time to its length,
    and the batches of a pass are visited in a random order. Without, a batch is as long as its
    longest example.

    The state (:meth:`state_dict`) holds the current pass's batches, the next one, the pass count
    and the Generator's state: a restored iterator goes on exactly where the saved one stopped.

    Parameters
    ----------
    data : object with ``num_examples()``, ``batch(indices, n_steps=None, n_columns=None)``
        (``[x (T, B, D), mask (T, B)]`` of those examples, padded with mask 0 to ``n_steps``
        steps and ``n_columns`` columns) and, with ``buckets``, ``lengths(start, end)``.
    batch_size : int >= 1
        Examples per batch without buckets.
    shuffle : bool
        A new order every pass (False: the examples in order, batches in order).
    seed : int or None
    fill : bool
    buckets : sequence of (int, int) or None

    Examples
    --------
    >>> class Toy:
    ...     def num_examples(self): return 5
    ...     def lengths(self, start, end): return np.array([1, 2, 3, 4, 5])[start:end]
    ...     def batch(self, indices, n_steps=None, n_columns=None): return [list(indices), n_steps]
    >>> [b for b in ExampleIterator(Toy(), batch_size=2, shuffle=False)]
    [[[0, 1], None], [[2, 3], None], [[4], None]]
    >>> sorted((sorted(b[0]), b[1]) for b in ExampleIterator(Toy(), 2, buckets=[(2, 2), (5, 3)], seed=0))
    [([0, 1], 2), ([2, 3, 4], 5)]
    """

    def __init__(self, data, batch_size, shuffle=True, seed=None, fill=False, buckets=None):
        n_examples = data.num_examples()
        if int(batch_size) != batch_size or not 1 <= batch_size:
            raise ValueError(f"ExampleIterator: batch_size must be an integer >= 1, got {batch_size}")
        if n_examples < 1:
            raise ValueError("ExampleIterator: the data hold no examples; expected at least one")
        self.data = data
        self.name = getattr(data, "name", "data")
        self.batch_size = int(batch_size)
        self.n_examples = int(n_examples)
        self.shuffle, self.fill = bool(shuffle), bool(fill)
        if buckets is None:
            self.buckets = None
            self._bucket_of = np.zeros(n_examples, dtype=np.int64)
            self._widths = [self.batch_size]
        else:
            self.buckets = [[int(length), int(width)] for length, width in buckets]
            lengths = np.asarray(data.lengths(0, n_examples))
            steps = [length for length, _ in self.buckets]
            if (not steps or sorted(set(steps)) != steps or steps[-1] < lengths.max()
                    or min(width for _, width in self.buckets) < 1):
                raise ValueError(f"ExampleIterator: buckets must be (length, width >= 1) pairs by "
                                 f"increasing length, the last at least the longest example "
                                 f"({int(lengths.max())}); got {buckets}")
            self._bucket_of = np.searchsorted(steps, lengths)
            self._widths = [width for _, width in self.buckets]
            self._lengths = lengths
        members = np.bincount(self._bucket_of, minlength=len(self._widths))
        self.nbatch = int(sum(-(-int(m) // w) for m, w in zip(members, self._widths)))
        self.rng = np.random.default_rng(seed)
        self.passes = 0
        self._batches = None     # [[bucket, i0, i1, ...], ...] of the open pass
        self._next = 0

    def __len__(self):
        return self.nbatch

    def __iter__(self):
        if self._batches is None:
            self._begin_pass()
        while self._next < self.nbatch:
            bucket, *indices = self._batches[self._next]
            n_steps = None if self.buckets is None else self.buckets[bucket][0]
            batch = self.data.batch(indices, n_steps=n_steps,
                                    n_columns=self._widths[bucket] if self.fill else None)
            self._next += 1  # only once read: a failed read is retried on resume
            yield batch
        self._batches = None
        self._next = 0
        self.passes += 1

    def _begin_pass(self):
        order = self.rng.permutation(self.n_examples) if self.shuffle else np.arange(self.n_examples)
        batches = []
        for bucket, width in enumerate(self._widths):
            members = [int(i) for i in order if self._bucket_of[i] == bucket]
            batches += [[bucket] + members[i:i + width] for i in range(0, len(members), width)]
        if self.shuffle and self.buckets is not None:
            batches = [batches[i] for i in self.rng.permutation(len(batches))]
        self._batches, self._next = batches, 0

    def real_fraction(self):
        """Real frames / computed frames of a pass with ``fill`` and ``buckets`` (None without
        buckets: it depends on the batches drawn)."""
        if self.buckets is None:
            return None
        members = np.bincount(self._bucket_of, minlength=len(self._widths))
        computed = sum(-(-int(m) // w) * w * length for m, (length, w) in zip(members, self.buckets))
        return float(self._lengths.sum() / computed)

    def shapes(self):
        """The (steps, columns) of the batches with ``fill`` (steps None without buckets): one
        static shape each."""
        if self.buckets is None:
            return [(None, self.batch_size)]
        return [tuple(self.buckets[b]) for b in np.unique(self._bucket_of)]

    @property
    def position(self):
        """Number of batches already yielded in the current pass."""
        return self._next

    def restart(self):
        """Drop the open pass (not counted as completed): the next ``for`` loop begins a new one."""
        self._batches, self._next = None, 0

    def state_dict(self):
        """The position as JSON-ready values (pass count, this pass's batches, next batch, RNG)."""
        return {"passes": self.passes, "batches": self._batches, "next": self._next,
                "nbatch": self.nbatch, "batch_size": self.batch_size, "n_examples": self.n_examples,
                "buckets": self.buckets, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        """Continue from a position saved by :meth:`state_dict` (same data and batch layout).

        A position saved by :class:`Iterator` (a run trained before this iterator served its
        data) keeps its pass count and begins a new pass, said in one warning line.
        """
        if "order" in state and "batches" not in state:
            log.warning("the saved data position is an Iterator's (in order, whole batches): "
                        "continuing with a new shuffled pass after %d passes", int(state["passes"]))
            self.passes, self._batches, self._next = int(state["passes"]), None, 0
            return
        for key in ("nbatch", "batch_size", "n_examples", "buckets"):
            if state.get(key) != getattr(self, key):
                raise ValueError(f"ExampleIterator: saved {key}={state.get(key)} does not match this "
                                 f"iterator's {key}={getattr(self, key)}")
        batches = state["batches"]
        if batches is not None:
            seen = sorted(i for b in batches for i in b[1:])
            if len(batches) != self.nbatch or seen != list(range(self.n_examples)):
                raise ValueError("ExampleIterator: saved batches do not cover every example once")
        if not 0 <= state["next"] <= self.nbatch:
            raise ValueError(f"ExampleIterator: saved next batch {state['next']} outside [0, {self.nbatch}]")
        self.rng.bit_generator.state = state["rng"]
        self.passes = int(state["passes"])
        self._batches = None if batches is None else [[int(i) for i in b] for b in batches]
        self._next = int(state["next"])
