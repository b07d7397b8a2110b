"""Learning-rate schedules: the rate as a function of the epochs or updates seen."""
import numpy as np

from cle.train.ext.base import Extension, _check_number

__all__ = ["LrLinearDecay", "LrExponentialDecay"]


class _LrSchedule(Extension):
    """A learning rate that is a function of the epochs (or updates) seen: lr = lr0 * f(n)."""

    name = "ext_schedule"

    def __init__(self, unit):
        if unit not in ("epoch", "update"):
            raise ValueError(f"{type(self).__name__}: unit must be 'epoch' or 'update', got {unit!r}")
        self.unit = unit
        self.lr0 = None

    def exec(self, mainloop):
        lr = mainloop.optimizer.lr
        if self.lr0 is None:
            self.lr0 = float(lr.get_value())
        count = mainloop.trainlog.epoch_seen if self.unit == "epoch" else mainloop.trainlog.batch_seen
        lr.set_value(np.asarray(self.rate(count), dtype=lr.dtype))

    def rate(self, count):
        raise NotImplementedError

    def state_dict(self):
        return {"lr0": self.lr0}

    def load_state_dict(self, state):
        _check_number(state, "lr0")
        self.lr0 = state.get("lr0")


class LrLinearDecay(_LrSchedule):
    """lr = lr0 until ``start``, then linearly down to ``lr0 * final_factor`` at ``end``, then flat.

    ``n`` counts epochs (``unit='epoch'``) or updates (``unit='update'``)::

        f(n) = 1 - (1 - final_factor) * clip((n - start) / (end - start), 0, 1)
    """

    def __init__(self, start, end, final_factor, unit="epoch"):
        super().__init__(unit)
        if not 0 <= start < end:
            raise ValueError(f"LrLinearDecay: need 0 <= start < end, got start={start}, end={end}")
        if not final_factor > 0:
            raise ValueError(f"LrLinearDecay: final_factor must be > 0, got {final_factor}")
        self.start, self.end, self.final_factor = start, end, final_factor

    def rate(self, count):
        progress = min(max((count - self.start) / (self.end - self.start), 0.0), 1.0)
        return self.lr0 * (1.0 - (1.0 - self.final_factor) * progress)


class LrExponentialDecay(_LrSchedule):
    """lr = max(lr0 * decay_factor ** max(n - start, 0), min_lr), ``n`` in epochs or updates."""

    def __init__(self, decay_factor, min_lr=0.0, start=0, unit="epoch"):
        super().__init__(unit)
        if not 0 < decay_factor <= 1:
            raise ValueError(f"LrExponentialDecay: decay_factor must be in (0, 1], got {decay_factor}")
        self.decay_factor, self.min_lr, self.start = decay_factor, min_lr, start

    def rate(self, count):
        return max(self.lr0 * self.decay_factor ** max(count - self.start, 0), self.min_lr)
