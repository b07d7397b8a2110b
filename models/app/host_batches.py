"""Batches for backends with static shapes (JAX): sequence lengths bucketed, noise drawn on the host.

In the C backend a batch is ``[x(, mask)]`` and the graphs draw their latent noise from the
model's shared numpy generators. PyTensor's JAX backend needs (a) static input shapes, compiled
once per shape, and (b) noise it can reproduce: its linker draws from a *copy* of a shared
generator, so the model's generator (the one checkpoints save) would never advance. In a mode of
:data:`cle.backend.STATIC_SHAPE_MODES` the trainer therefore compiles the graphs with injected
noise (``eps_input=True``) and wraps its iterators in :class:`HostBatches`, which

- pads a masked batch (handwriting, whose length varies per batch) along time to one length for
  the whole run, :func:`static_steps` (the longest line of the training and validation splits),
  with ``mask = 0``: the masked costs are unchanged and one shape is compiled per graph, and
- appends the latent noise ``eps`` (T, B, z_dim), drawn from the numpy generator held by the
  model's shared variable (``train_rng`` or ``monitor_rng``) when the batch is used, so the
  generator's state in a checkpoint is exactly where training stopped.

The wrapper keeps the iterator interface the training loop, monitoring and checkpoints use
(``len``, ``position``, ``batch_sizes``, ``restart``, ``state_dict``, ``load_state_dict``).
"""
import numpy as np

__all__ = ["HostBatches", "pad_time", "static_steps"]


def static_steps(*splits):
    """The one sequence length of a run's static graphs: the longest example of ``splits``.

    Readers with per-example ``lengths`` (handwriting) give their maximum; fixed-length ones
    (speech) the T of their first example.
    """
    longest = 0
    for data in splits:
        n = data.num_examples()
        if hasattr(data, "lengths"):
            longest = max(longest, int(np.max(data.lengths(0, n))))
        else:
            rows = min(n, int(getattr(data, "batch_size", 1)))  # an aligned batch of streams
            longest = max(longest, int(data.slices(0, rows)[0].shape[0]))
    return longest


def pad_time(x, mask, n_steps):
    """``x`` (T, B, D) and ``mask`` (T, B) zero-padded along time to ``n_steps`` (>= T)."""
    extra = n_steps - x.shape[0]
    if extra <= 0:
        return x, mask
    x = np.concatenate([x, np.zeros((extra,) + x.shape[1:], dtype=x.dtype)], axis=0)
    mask = np.concatenate([mask, np.zeros((extra,) + mask.shape[1:], dtype=mask.dtype)], axis=0)
    return x, mask


class HostBatches:
    """An iterator of ``[x(, mask)]`` batches as ``[x(, mask)(, eps)]`` with static-friendly shapes.

    Parameters
    ----------
    iterator : cle.data.Iterator (or any iterable of batches with its position interface)
    rng_var : shared variable holding a ``numpy.random.Generator`` (the model's ``train_rng``
        or ``monitor_rng``); read at every batch, so a restored checkpoint value is used.
    latent_dim : int
        z_dim of the model (0: no noise appended).
    dtype : str
        Float dtype of the noise.
    n_steps : int or None
        Pad masked batches along time to this length (None: leave them as they are).
    """

    def __init__(self, iterator, rng_var, latent_dim, dtype, n_steps=None):
        self.iterator = iterator
        self.rng_var = rng_var
        self.latent_dim = int(latent_dim)
        self.dtype = dtype
        self.n_steps = n_steps
        self.name = getattr(iterator, "name", "data")

    @property
    def data(self):
        """The dataset of the wrapped iterator."""
        return self.iterator.data

    def __len__(self):
        return len(self.iterator)

    def __iter__(self):
        for batch in self.iterator:
            yield self.prepare(batch)

    def prepare(self, batch):
        """One batch padded (when masked) and with its noise appended."""
        batch = list(batch)
        if self.n_steps is not None and len(batch) == 2:
            batch = list(pad_time(batch[0], batch[1], self.n_steps))
        if self.latent_dim:
            n_steps, n_seq = batch[0].shape[:2]
            rng = self.rng_var.get_value(borrow=True)
            batch.append(rng.standard_normal((n_steps, n_seq, self.latent_dim)).astype(self.dtype))
        return batch

    @property
    def position(self):
        return self.iterator.position

    def batch_sizes(self):
        """Examples in each batch of a pass (the wrapped iterator's)."""
        return self.iterator.batch_sizes()

    def restart(self):
        """Begin a new pass at the next ``for`` loop (the wrapped iterator's)."""
        self.iterator.restart()

    def state_dict(self):
        return self.iterator.state_dict()

    def load_state_dict(self, state):
        self.iterator.load_state_dict(state)
