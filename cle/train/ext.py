"""Extensions of the training loop (the legacy ``cle.cle.train.ext``).

An extension has a ``name`` saying where :class:`cle.train.Training` calls it and an
``exec(mainloop)`` method. Graph-time hooks change the training graph while it is built;
run-time hooks act between batches:

=========================== =========================================================
``ext_regularize_pre_grad`` before the gradients: may add terms to ``mainloop.cost``
``ext_grad``                on ``mainloop.grads`` (OrderedDict param -> gradient)
``ext_regularize_post_grad`` on ``mainloop.updates`` after the optimizer
``ext_monitor``             before every batch (Monitoring, EarlyStopping)
``ext_schedule``            after every batch and every epoch (learning-rate schedules)
``ext_save``                after every batch and at the end (Checkpoint)
``ext_term``                after every epoch (EpochCount)
=========================== =========================================================

Besides its hook, every extension receives each new monitoring record through
:meth:`Extension.on_record` (called by :meth:`cle.train.Training.record_monitor` right after
the record is made, in list order), in the spirit of Keras's callbacks: extensions that react to
a monitored quantity (EarlyStopping, a run's progress echo) share :class:`MonitoredQuantity`,
which answers "is this record an improvement" once for all of them.

Extensions with state that a resumed run needs (a schedule's initial rate, the best value
so far) return it from ``state_dict()`` as JSON-ready values.
"""
import logging
import math
from collections import OrderedDict

import numpy as np
import pytensor.tensor as pt

from cle.backend import function
from cle.errors import UserError
from cle.utils import tolist

log = logging.getLogger(__name__)

__all__ = [
    "Extension", "GradientClipping", "EpochCount", "Monitoring", "WeightNorm", "WeightDecay",
    "LrLinearDecay", "LrExponentialDecay", "MonitoredQuantity", "EarlyStopping", "Checkpoint", "MonitoringError",
    "EXPLOSION_THRESHOLD",
]

#: A monitored mean above this is treated as a divergence and stops training (legacy 1e8).
EXPLOSION_THRESHOLD = 1e8

#: WeightNorm divides by (norm + this) so a zero column stays zero (legacy 1e-7).
WEIGHT_NORM_EPSILON = 1e-7

#: With check_nan, a non-finite gradient is replaced by this fraction of the parameter (legacy 0.1).
NAN_FALLBACK_SCALE = 0.1


class MonitoringError(UserError):
    """A monitored channel became NaN or exploded (the training cannot go on)."""


class Extension:
    """Base class: ``name`` is the hook, ``exec(mainloop)`` the action."""

    name = None

    def exec(self, mainloop):
        """Act at the hook ``name`` (default: nothing)."""

    def on_record(self, mainloop, record):
        """React to a new monitoring ``record`` (dict channel -> value; default: nothing)."""

    def state_dict(self):
        """JSON-ready state a resumed run needs (default: none)."""
        return {}

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned."""


class GradientClipping(Extension):
    """Divide every gradient by ``batch_size``, then clip the global norm to ``scaler``::

        g <- g / batch_size                       (legacy quirk: the cost is already a mean)
        n  = sqrt(sum over all params of sum(g**2))
        g <- g * scaler / max(scaler, n)
        check_nan and n not finite:  g <- 0.1 * p

    Parameters
    ----------
    scaler : float > 0
    batch_size : int >= 1
    check_nan : bool
    divide_by_batch_size : bool
        The legacy division (True, default); False clips the gradients of the cost as they are.
    """

    name = "ext_grad"

    def __init__(self, scaler=5, batch_size=1, check_nan=0, divide_by_batch_size=True):
        if not scaler > 0:
            raise ValueError(f"GradientClipping: scaler must be > 0, got {scaler}")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"GradientClipping: batch_size must be an integer >= 1, got {batch_size}")
        self.scaler = scaler
        self.batch_size = int(batch_size)
        self.check_nan = bool(check_nan)
        self.divide_by_batch_size = bool(divide_by_batch_size)

    def exec(self, mainloop):
        grads = OrderedDict()
        for param, grad in mainloop.grads.items():
            grads[param] = grad / self.batch_size if self.divide_by_batch_size else grad
        norm_sq = sum((g ** 2).sum() for g in grads.values())
        norm = pt.sqrt(norm_sq)
        scale = self.scaler / pt.maximum(self.scaler, norm)
        not_finite = pt.or_(pt.isnan(norm_sq), pt.isinf(norm_sq))
        for param, grad in grads.items():
            clipped = grad * scale
            if self.check_nan:
                clipped = pt.switch(not_finite, NAN_FALLBACK_SCALE * param, clipped)
            grads[param] = clipped
        mainloop.grads = grads
        mainloop.grad_norm = norm


class EpochCount(Extension):
    """Stop after ``num_epoch`` epochs (checked at the end of every epoch)."""

    name = "ext_term"

    def __init__(self, num_epoch):
        if int(num_epoch) != num_epoch or num_epoch < 1:
            raise ValueError(f"EpochCount: num_epoch must be an integer >= 1, got {num_epoch}")
        self.num_epoch = int(num_epoch)

    def exec(self, mainloop):
        if mainloop.trainlog.epoch_seen >= self.num_epoch:
            mainloop.endloop = 1


class Monitoring(Extension):
    """Every ``freq`` updates: log the training outputs' means and evaluate ``ddout`` on ``data``.

    Each channel ``ch`` of ``ddout`` is averaged over the batches of every iterator in ``data``
    and recorded as ``<data name>_<ch name>`` (e.g. ``valid_nll_upper_bound``); the means of the
    training function's outputs over the last ``freq`` batches are recorded under their own
    names. A NaN or a mean above :data:`EXPLOSION_THRESHOLD` raises :class:`MonitoringError`.

    Parameters
    ----------
    freq : int >= 1
        In updates.
    ddout : list of named symbolic scalars
    data : list of iterators (``cle.data.Iterator``)
    monitor_fn : compiled function or None
        Maps a batch to the values of ``ddout``; compiled from the training inputs when None.
    at_end : bool
        Also monitor when the loop ends off the ``freq`` grid (``max_updates`` reached, last
        epoch done, a stop request; not on SIGINT / SIGTERM), so a run's last parameters are
        always monitored. The legacy class did not (default False).
    """

    name = "ext_monitor"

    def __init__(self, freq, ddout=None, data=None, monitor_fn=None, at_end=False):
        if int(freq) != freq or freq < 1:
            raise ValueError(f"Monitoring: freq must be an integer >= 1, got {freq}")
        self.freq = int(freq)
        self.ddout = tolist(ddout) if ddout is not None else []
        self.data = tolist(data) if data is not None else []
        self.monitor_fn = monitor_fn
        self.at_end = bool(at_end)

    def exec(self, mainloop):
        trainlog = mainloop.trainlog
        on_grid = trainlog.batch_seen % self.freq == 0
        if not on_grid and not (self.at_end and getattr(mainloop, "ending", False)):
            return
        if trainlog.monitor and trainlog.monitor[-1]["batch_seen"] == trainlog.batch_seen:
            return  # already monitored at this update (e.g. the final call after the last epoch)
        # The updates since the previous grid point (or the previous record, off the grid).
        window = self.freq
        if not on_grid:
            window = trainlog.batch_seen - (trainlog.monitor[-1]["batch_seen"] if trainlog.monitor else 0)
        record = OrderedDict(batch_seen=trainlog.batch_seen, epoch_seen=trainlog.epoch_seen)
        record["elapsed_s"] = float(sum(trainlog.times[-window:])) if trainlog.times else 0.0
        record.update(("opt_" + k, v) for k, v in mainloop.optimizer.settings().items())
        recent = np.asarray(trainlog.batches[-window:], dtype=np.float64)
        if len(recent) and trainlog.batch_seen > 0:
            # Updates with a non-finite gradient are counted in the TrainLog (nonfinite_batches)
            # and survived through check_nan; they are left out of the training means.
            finite = np.isfinite(recent).all(axis=1)
            if finite.any():
                means = recent[finite].mean(axis=0)
                for out_name, value in zip(mainloop.output_names, means):
                    record[out_name] = float(value)
        record["nonfinite_batches"] = len(trainlog.nonfinite_batches)
        record.update(self.evaluate(mainloop))
        for channel, value in record.items():
            _check_finite(channel, value)
        mainloop.record_monitor(record)

    def evaluate(self, mainloop):
        """OrderedDict ``<data>_<channel>`` -> mean of ``ddout`` over each data iterator."""
        channels = OrderedDict()
        if not self.data or not self.ddout:
            return channels
        if self.monitor_fn is None:
            self.monitor_fn = function(mainloop.inputs, self.ddout, name="monitor_fn")
        names = [getattr(ch, "name", None) or f"ch{i}" for i, ch in enumerate(self.ddout)]
        for data in self.data:
            values = [np.asarray(self.monitor_fn(*batch)[:len(names)], dtype=np.float64)
                      for batch in data]
            means = np.mean(values, axis=0)
            for name, value in zip(names, means):
                channels[f"{getattr(data, 'name', 'data')}_{name}"] = float(value)
        return channels

    def state_dict(self):
        return {"data": [d.state_dict() if hasattr(d, "state_dict") else None for d in self.data]}

    def load_state_dict(self, state):
        if not isinstance(state.get("data", []), list):
            raise ValueError(f"Monitoring state 'data' must be a list, got {state['data']!r}")
        for data, saved in zip(self.data, state.get("data", [])):
            if saved is not None and hasattr(data, "load_state_dict"):
                data.load_state_dict(saved)


def _check_number(state, key, kind=(int, float)):
    """Raise ValueError unless ``state[key]`` is absent, None or a number of ``kind``."""
    value = state.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
        raise ValueError(f"saved {key} must be a number, got {value!r}")


def _check_finite(channel, value):
    if not isinstance(value, float):
        return
    if math.isnan(value):
        raise MonitoringError(f"monitoring channel {channel} is NaN: training diverged")
    if value > EXPLOSION_THRESHOLD:
        raise MonitoringError(f"monitoring channel {channel} = {value:g} exceeds "
                              f"{EXPLOSION_THRESHOLD:g}: training exploded")


def _matches(name, keys, waivers):
    name = name or ""
    return any(k in name for k in keys) and not any(w in name for w in waivers)


class WeightNorm(Extension):
    """Cap the L2 norm of each column (``is_vector``) or of the whole matrix after every update::

        norm = sqrt(sum(p**2, axis=0))            (one per output unit)
        p   <- p * clip(norm, 0, weight_norm) / (1e-7 + norm)

    Applied to the updated value of every parameter whose name contains one of ``keys``
    and none of ``waivers`` (legacy: all ``W_*``). Only model parameters are touched, never the
    optimizer's slots.
    """

    name = "ext_regularize_post_grad"

    def __init__(self, weight_norm=1.9365, keys=("W",), waivers=(), is_vector=1):
        if not weight_norm > 0:
            raise ValueError(f"WeightNorm: weight_norm must be > 0, got {weight_norm}")
        self.weight_norm = weight_norm
        self.keys = tolist(keys) if not isinstance(keys, tuple) else list(keys)
        self.waivers = list(waivers)
        self.is_vector = bool(is_vector)

    def exec(self, mainloop):
        params = set(mainloop.model.params)
        for var, new_value in list(mainloop.updates.items()):
            if var not in params or not _matches(var.name, self.keys, self.waivers):
                continue
            if self.is_vector:
                norm = pt.sqrt(pt.sqr(new_value).sum(axis=0))
            else:
                norm = pt.sqrt(pt.sqr(new_value).sum())
            desired = pt.clip(norm, 0, self.weight_norm)
            mainloop.updates[var] = new_value * (desired / (WEIGHT_NORM_EPSILON + norm))


class WeightDecay(Extension):
    """Add ``lambd / 2 * sum(p**2)`` to the cost for every parameter named by ``keys``."""

    name = "ext_regularize_pre_grad"

    def __init__(self, lambd=0.0002, keys=("W",), waivers=()):
        if not lambd >= 0:
            raise ValueError(f"WeightDecay: lambd must be >= 0, got {lambd}")
        self.lambd = lambd
        self.keys = list(tolist(keys) if not isinstance(keys, tuple) else keys)
        self.waivers = list(waivers)

    def exec(self, mainloop):
        for param in mainloop.model.params:
            if _matches(param.name, self.keys, self.waivers):
                mainloop.cost = mainloop.cost + self.lambd * 0.5 * pt.sqr(param).sum()


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


class MonitoredQuantity(Extension):
    """Base of the extensions that follow one monitored channel (lower is better).

    :meth:`on_record` reads ``channel`` from each new record, updates ``best`` / ``best_batch``
    and ``bad_steps`` (records since the last improvement), then calls :meth:`on_improvement` or
    :meth:`on_no_improvement`.

    Parameters
    ----------
    channel : str
        A monitoring channel, e.g. ``'valid_nll_upper_bound'``.
    start : int >= 0
        Records with ``batch_seen < start`` are ignored: ``start=1`` leaves out the untrained
        model of update 0 (the legacy classes counted it: default 0).
    """

    def __init__(self, channel, start=0):
        self.channel = channel
        self.start = int(start)
        self.best = math.inf
        self.best_batch = None
        self.bad_steps = 0

    def on_record(self, mainloop, record):
        if self.channel not in record:
            raise MonitoringError(f"{type(self).__name__}: channel {self.channel!r} is not "
                                  f"monitored; channels are {sorted(record)}")
        if record["batch_seen"] < self.start:
            return
        value = record[self.channel]
        if value < self.best:
            self.best, self.best_batch, self.bad_steps = value, record["batch_seen"], 0
            self.on_improvement(mainloop, record)
        else:
            self.bad_steps += 1
            self.on_no_improvement(mainloop, record)

    def on_improvement(self, mainloop, record):
        """Called when ``record`` holds a new best value of ``channel``."""

    def on_no_improvement(self, mainloop, record):
        """Called when ``record`` does not improve on ``best``."""

    def state_dict(self):
        best = None if math.isinf(self.best) else self.best
        return {"best": best, "best_batch": self.best_batch, "bad_steps": self.bad_steps}

    def load_state_dict(self, state):
        _check_number(state, "best")
        _check_number(state, "best_batch", int)
        _check_number(state, "bad_steps", int)
        self.best = math.inf if state.get("best") is None else state["best"]
        self.best_batch = state.get("best_batch")
        self.bad_steps = state.get("bad_steps") or 0


class EarlyStopping(MonitoredQuantity):
    """Keep the model with the lowest ``channel`` seen by Monitoring (written to ``best/``).

    Acts on each new monitoring record (:meth:`~Extension.on_record`), so the saved parameters
    are exactly the monitored ones, wherever it stands in the extension list. The best values are
    also kept in memory (``best_params``). With ``patience``, training stops after that many
    monitoring steps without improvement (the legacy class never stopped).
    """

    name = "ext_monitor"

    def __init__(self, channel, patience=None, start=0):
        if patience is not None and patience < 1:
            raise ValueError(f"EarlyStopping: patience must be >= 1 or None, got {patience}")
        super().__init__(channel, start=start)
        self.patience = patience
        self.best_params = None

    def on_improvement(self, mainloop, record):
        self.best_params = OrderedDict((k, v.get_value(borrow=False))
                                       for k, v in mainloop.model.param_dict.items())
        log.info("new best %s = %g at update %d", self.channel, self.best, self.best_batch)
        mainloop.save_checkpoint(which="best")

    def on_no_improvement(self, mainloop, record):
        if self.patience is not None and self.bad_steps >= self.patience:
            mainloop.request_stop(f"EarlyStopping: no improvement of {self.channel} "
                                  f"in {self.bad_steps} monitoring steps")


class Checkpoint(Extension):
    """Write the training state to ``<path>/last`` every ``freq`` updates and at the end.

    Replaces the legacy Picklize: the checkpoint is a directory of ``.npz`` and JSON files
    (see :mod:`cle.train.checkpoint`), written atomically. ``path`` None uses the
    training's ``run_dir/checkpoints``.
    """

    name = "ext_save"

    def __init__(self, path=None, freq=1000):
        if int(freq) != freq or freq < 1:
            raise ValueError(f"Checkpoint: freq must be an integer >= 1, got {freq}")
        self.path = path
        self.freq = int(freq)

    def exec(self, mainloop):
        batch_seen = mainloop.trainlog.batch_seen
        if mainloop.endloop or (batch_seen > 0 and batch_seen % self.freq == 0):
            mainloop.save_checkpoint(which="last")
