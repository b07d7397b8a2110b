"""Extensions that measure: Monitoring (channels every ``freq`` updates) and those that follow one
monitored quantity (:class:`MonitoredQuantity`, :class:`EarlyStopping`)."""
import logging
import math
from collections import OrderedDict

import numpy as np

from cle.backend import function
from cle.errors import UserError
from cle.train.ext.base import Extension, _check_number
from cle.utils import tolist

log = logging.getLogger(__name__)

__all__ = ["Monitoring", "MonitoredQuantity", "EarlyStopping", "MonitoringError", "EXPLOSION_THRESHOLD"]


#: A monitored mean above this is treated as a divergence and stops training (legacy 1e8).
EXPLOSION_THRESHOLD = 1e8


class MonitoringError(UserError):
    """A monitored channel became NaN or exploded (the training cannot go on)."""


class Monitoring(Extension):
    """Every ``freq`` updates: log the training outputs' means and evaluate ``ddout`` on ``data``.

    Each channel ``ch`` of ``ddout`` is averaged over the batches of every iterator in ``data``
    (weighted by ``batch_weight(batch)``, e.g. the batch's number of examples, so a smaller last
    batch counts for what it holds) and recorded as ``<data name>_<ch name>`` (e.g.
    ``valid_nll_upper_bound``); the means of the training function's outputs over the last
    ``freq`` batches are recorded under their own names. A NaN or a mean above
    :data:`EXPLOSION_THRESHOLD` raises :class:`MonitoringError`.

    Every evaluation reads each iterator in ``data`` from the start of a new pass, whatever
    position an interrupted evaluation left (so nothing of theirs is checkpointed, and a run that
    failed while monitoring resumes).

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
    batch_weight : callable or None
        ``batch -> weight`` of a batch in the means; None: every batch counts the same (legacy).
    """

    name = "ext_monitor"

    def __init__(self, freq, ddout=None, data=None, monitor_fn=None, at_end=False, batch_weight=None):
        if int(freq) != freq or freq < 1:
            raise ValueError(f"Monitoring: freq must be an integer >= 1, got {freq}")
        self.freq = int(freq)
        self.ddout = tolist(ddout) if ddout is not None else []
        self.data = tolist(data) if data is not None else []
        self.monitor_fn = monitor_fn
        self.at_end = bool(at_end)
        self.batch_weight = batch_weight

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
            self.monitor_fn = function(mainloop.inputs, self.ddout, backend=mainloop.backend,
                                       name="monitor_fn")
        names = [getattr(ch, "name", None) or f"ch{i}" for i, ch in enumerate(self.ddout)]
        for data in self.data:
            if hasattr(data, "restart"):
                data.restart()
            values, weights = [], []
            for batch in data:
                values.append(np.asarray(self.monitor_fn(*batch)[:len(names)], dtype=np.float64))
                weights.append(1.0 if self.batch_weight is None else float(self.batch_weight(batch)))
            if not values:
                raise MonitoringError(f"Monitoring: {getattr(data, 'name', 'data')} gave no batch; "
                                      "expected at least one")
            means = np.average(values, axis=0, weights=weights)
            for name, value in zip(names, means):
                channels[f"{getattr(data, 'name', 'data')}_{name}"] = float(value)
        return channels

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        """Nothing to restore: each evaluation starts a new pass. (Older checkpoints saved the
        iterators' positions under ``data``, a list; it is checked, then ignored.)"""
        if not isinstance(state.get("data", []), list):
            raise ValueError(f"Monitoring state 'data' must be a list, got {state['data']!r}")


def _check_finite(channel, value):
    if not isinstance(value, float):
        return
    if math.isnan(value):
        raise MonitoringError(f"monitoring channel {channel} is NaN: training diverged")
    if value > EXPLOSION_THRESHOLD:
        raise MonitoringError(f"monitoring channel {channel} = {value:g} exceeds "
                              f"{EXPLOSION_THRESHOLD:g}: training exploded")


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
