"""Batches of a dataset, in order or shuffled, with a position that checkpoints can save."""
import numpy as np

__all__ = ["Iterator"]


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
