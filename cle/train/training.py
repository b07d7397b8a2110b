"""The main loop: compile one training function, then run epochs calling the extensions."""
import contextlib
import logging
import math
import signal
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytensor.tensor as pt

from cle.backend import function, precision, scan_gradient
from cle.train.checkpoint import CheckpointError, CheckpointWriteError, read_checkpoint, write_checkpoint
from cle.train.ext import Checkpoint, MonitoringError
from cle.train.log import JsonLinesWriter, Progress, TrainLog
from cle.utils import tolist

log = logging.getLogger(__name__)

__all__ = ["Training", "TrainingInterrupted"]

#: Name of the JSON-lines file (in ``run_dir``) that gets one line per monitoring step.
LOG_FILE = "log.jsonl"
#: The bit generators an ``rng.json`` may name (numpy's own; nothing else is looked up).
BIT_GENERATORS = {cls.__name__: cls for cls in (np.random.PCG64, np.random.PCG64DXSM,
                                                np.random.MT19937, np.random.Philox,
                                                np.random.SFC64)}


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT / SIGTERM after finishing the current batch.

    Attributes
    ----------
    signal_name : str ('SIGINT' or 'SIGTERM')
    checkpoint : pathlib.Path or None
        Where the state was saved (None when the training has no checkpoint directory).
    batch_seen : int
    """

    def __init__(self, signal_name, checkpoint, batch_seen):
        self.signal_name, self.checkpoint, self.batch_seen = signal_name, checkpoint, batch_seen
        if checkpoint is None:
            where = "no checkpoint directory was configured, so nothing was saved"
        else:
            where = (f"checkpoint saved to {checkpoint}; resume with "
                     f"Training.load_checkpoint({str(checkpoint)!r}) then run()")
        super().__init__(f"training stopped by {signal_name} after {batch_seen} updates; {where}")


class Training:
    """Build the legacy training function and run it over the data, epoch after epoch.

    The training graph is built as the legacy class did: ``ext_regularize_pre_grad``
    extensions (may change ``cost``), gradients of ``cost`` w.r.t. ``model.params``,
    ``ext_grad`` extensions (clipping), ``optimizer.get_updates``, then
    ``ext_regularize_post_grad`` extensions (weight norm). The update order is: the model's
    own updates (e.g. TBPTT state), then the optimizer's (per param its slots and the param,
    then the counter). It is compiled once, through :func:`cle.backend.function`, as
    ``cost_fn(*batch) -> list of output values``.

    Per batch, as in the legacy ``run_epoch``: ``ext_monitor``, the update, ``ext_schedule``,
    ``ext_save``; per epoch: ``ext_schedule``, ``ext_term``; when an extension ends the
    loop: ``ext_monitor`` and ``ext_save`` once more.

    Parameters
    ----------
    name : str
    data : iterable of batches (a :class:`cle.data.Iterator`; its position is checkpointed)
    model : cle.models.Model
    optimizer : cle.train.opt.Optimizer
    cost : symbolic scalar
    outputs : symbolic scalar or list of them (returned by ``cost_fn`` and logged)
    extension : list of extensions (see :mod:`cle.train.ext`)
    run_dir : path or None
        Holds ``log.jsonl`` and, unless a Checkpoint extension names another place,
        ``checkpoints/{last,best}``.
    config : dict or None
        JSON-ready configuration saved in every checkpoint.
    progress : bool, None or a progress object
        Show progress on stderr; None: only when stderr is a terminal. An object with the
        methods of :class:`cle.train.log.Progress` (``update``, ``close``) is used instead.
    mode : str or None
        Compile mode name for :func:`cle.backend.function`.
    """

    def __init__(self, name, data, model, optimizer, cost, outputs, extension=None,
                 trainlog=None, run_dir=None, config=None, progress=None, mode=None):
        self.name = name
        self.data = data
        self.model = model
        self.mode = mode
        self.optimizer = optimizer
        self.inputs = model.inputs
        self.cost = cost
        self.outputs = tolist(outputs)
        self.output_names = [out.name or f"output_{i}" for i, out in enumerate(self.outputs)]
        self.extension = list(extension or [])
        self.trainlog = trainlog if trainlog is not None else TrainLog()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.config = dict(config or {})
        self.endloop = 0
        self.ending = False  # True while the extensions run at the end of the loop
        self.last_grad_norm = None
        self._stop_reason = None
        self._signal = None
        self._batch_in_hand = self._rewind_batch = False
        # An object with update() / close() (as Progress) is used as it is.
        self._progress = progress if hasattr(progress, "update") else Progress(enabled=progress)
        self._jsonl = None
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._jsonl = JsonLinesWriter(self.run_dir / LOG_FILE)
        start = time.perf_counter()
        self._train_fn = self.build_training_graph()
        log.info("compiled the training function in %.1f s", time.perf_counter() - start)

    # ------------------------------------------------------------------ graph
    def build_training_graph(self):
        """Compile ``inputs -> outputs + [gradient norm]`` with all updates (see class doc)."""
        with precision(self.cost.dtype):
            self.updates = OrderedDict(self.model.updates)
            self.run_extension("ext_regularize_pre_grad")
            params = self.model.params
            with scan_gradient():
                self.grads = OrderedDict(zip(params, pt.grad(self.cost, params)))
            # The norm of the raw gradients; GradientClipping replaces it by the norm it clips.
            self.grad_norm = pt.sqrt(sum((g ** 2).sum() for g in self.grads.values()))
            self.run_extension("ext_grad")
            self.updates.update(self.optimizer.get_updates(self.grads))
            self.run_extension("ext_regularize_post_grad")
            return function(self.inputs, self.outputs + [self.grad_norm], updates=self.updates,
                            mode=self.mode, name=f"{self.name}_cost_fn")

    def cost_fn(self, *batch):
        """One update on ``batch``; returns the outputs' values (the legacy ``cost_fn``).

        The global gradient norm of this update is kept in ``last_grad_norm``.
        """
        values = self._train_fn(*batch)
        self.last_grad_norm = float(values[-1])
        return values[:-1]

    # ------------------------------------------------------------ extensions
    def find_extension(self, name):
        """The extensions whose hook is ``name``, in list order."""
        return [ext for ext in self.extension if ext.name == name]

    def run_extension(self, name):
        for ext in self.find_extension(name):
            ext.exec(self)

    def request_stop(self, reason):
        """Ask the loop to stop after the current batch (used by extensions)."""
        self._stop_reason = reason

    def record_monitor(self, record):
        """Store one monitoring record (TrainLog, log, JSON-lines file), then hand it to every
        extension's :meth:`~cle.train.ext.Extension.on_record`, in list order."""
        self.trainlog.monitor.append(record)
        log.info("monitoring at update %d (epoch %d)", record["batch_seen"], record["epoch_seen"])
        for key, value in record.items():
            if key not in ("batch_seen", "epoch_seen"):
                log.info("\t%s: %s", key, value)
        self._event("monitor", **record)
        for ext in self.extension:
            ext.on_record(self, record)

    def _event(self, event, **fields):
        if self._jsonl is not None:
            self._jsonl.write(event, **fields)

    # ------------------------------------------------------------------ loop
    def run(self, max_updates=None):
        """Train until an extension ends the loop (or ``max_updates`` updates in total).

        SIGINT / SIGTERM make the loop finish the current batch, write ``last/`` and raise
        :class:`TrainingInterrupted`. Returns the TrainLog.
        """
        self._max_updates = max_updates
        self._stop_reason = None
        self.endloop = 0
        self._event("start", batch_seen=self.trainlog.batch_seen, epoch_seen=self.trainlog.epoch_seen)
        with self._signal_handlers(), self._save_on_error():
            if self.trainlog.epoch_seen > 0 and self._between_epochs():
                self.run_extension("ext_term")  # a resumed run that already finished
            if not self.endloop:
                while self._run_epoch():
                    pass
        self._progress.close()
        self._event("end", batch_seen=self.trainlog.batch_seen, epoch_seen=self.trainlog.epoch_seen,
                    reason=self._stop_reason or ("finished" if self.endloop else "stopped"))
        return self.trainlog

    @contextlib.contextmanager
    def _save_on_error(self):
        """On an exception (not a stop by signal), write ``last`` for the last completed update,
        then let the exception go on; the path is kept in ``saved_on_error``.

        Nothing is written when the checkpoint writer itself failed (the previous ``last`` is
        kept), when the model diverged (:class:`MonitoringError`: the previous ``last`` and
        ``best`` hold parameters from before), when no checkpoint directory is configured, or on
        a second Ctrl-C (stop now).
        """
        self.saved_on_error = None
        try:
            yield
        except (TrainingInterrupted, CheckpointWriteError, MonitoringError):
            raise
        except BaseException as err:
            self._progress.close()
            if self.checkpoint_root is not None and not isinstance(err, KeyboardInterrupt):
                # a batch read but not trained on is read again on resume
                self._rewind_batch = self._batch_in_hand
                try:
                    self.saved_on_error = self.save_checkpoint("last")
                except Exception as save_err:  # keep the original error
                    log.error("could not save the last checkpoint after the error: %s", save_err)
                else:
                    log.warning("saved the state after update %d to %s",
                                self.trainlog.batch_seen, self.saved_on_error)
                finally:
                    self._rewind_batch = False
            try:
                self._event("failed", error=type(err).__name__, batch_seen=self.trainlog.batch_seen,
                            checkpoint=str(self.saved_on_error) if self.saved_on_error else None)
            except OSError:
                pass  # e.g. the disk is full: the error itself matters more
            raise

    def _between_epochs(self):
        return getattr(self.data, "position", 0) == 0

    def _run_epoch(self):
        trainlog = self.trainlog
        nbatch = len(self.data) if hasattr(self.data, "__len__") else "?"
        for batch in self.data:
            self._batch_in_hand = True   # read but not trained on yet (see _save_on_error)
            self.run_extension("ext_monitor")
            start = time.perf_counter()
            values = self.cost_fn(*batch)
            trainlog.times.append(time.perf_counter() - start)
            trainlog.batches.append([float(np.mean(v)) for v in values])
            if not math.isfinite(self.last_grad_norm):
                trainlog.nonfinite_batches.append(trainlog.batch_seen)
                log.warning("update %d: gradient norm is %s", trainlog.batch_seen, self.last_grad_norm)
            trainlog.batch_seen += 1
            self._batch_in_hand = False
            self._progress.update(trainlog.epoch_seen, getattr(self.data, "position", "?"), nbatch,
                                  dict(zip(self.output_names, trainlog.batches[-1])))
            self.run_extension("ext_schedule")
            self.run_extension("ext_save")
            if self._should_stop():
                self._stop()
                return False
        trainlog.epoch_seen += 1
        self.run_extension("ext_schedule")
        self.run_extension("ext_term")
        if self.endloop:
            self._monitor_at_end()
            self.run_extension("ext_save")
            return False
        if self._should_stop():
            self._stop()
            return False
        return True

    def _should_stop(self):
        if self._signal is not None or self._stop_reason is not None:
            return True
        if self._max_updates is not None and self.trainlog.batch_seen >= self._max_updates:
            self._stop_reason = f"max_updates={self._max_updates} reached"
            return True
        return False

    def _monitor_at_end(self):
        """``ext_monitor`` with ``ending`` set (Monitoring(at_end=True) then monitors off its grid)."""
        self.ending = True
        try:
            self.run_extension("ext_monitor")
        finally:
            self.ending = False

    def _stop(self):
        if self._signal is None:
            self._monitor_at_end()
        path = self.save_checkpoint("last") if self.checkpoint_root is not None else None
        if self._signal is not None:
            name = signal.Signals(self._signal).name
            self._event("interrupted", signal=name, batch_seen=self.trainlog.batch_seen,
                        checkpoint=str(path) if path else None)
            self._progress.close()
            raise TrainingInterrupted(name, path, self.trainlog.batch_seen)
        log.info("training stopped: %s", self._stop_reason)

    @contextlib.contextmanager
    def _signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._signal = None

        def handler(signum, frame):
            if self._signal is not None:
                raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: stopping now")
            self._signal = signum
            log.warning("%s received: finishing the current batch, then saving",
                        signal.Signals(signum).name)

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    # ----------------------------------------------------------- checkpoints
    @property
    def checkpoint_root(self):
        """The directory holding ``last/`` and ``best/`` (None when none is configured)."""
        for ext in self.extension:
            if isinstance(ext, Checkpoint) and ext.path is not None:
                return Path(ext.path)
        if self.run_dir is not None:
            return self.run_dir / "checkpoints"
        return None

    def state_arrays(self):
        """The numeric state by file: params, optimizer, model_state, trainlog."""
        model_state = OrderedDict((k, v.get_value()) for k, v in self.model.state.items()
                                  if not isinstance(v.get_value(), np.random.Generator))
        return {
            "params": OrderedDict((k, v.get_value()) for k, v in self.model.param_dict.items()),
            "optimizer": OrderedDict((k, v.get_value()) for k, v in self.optimizer.state.items()),
            "model_state": model_state,
            "trainlog": self.trainlog.to_arrays(),
        }

    def state_documents(self):
        """The JSON state by file: rng, trainlog, loop (iterator, extensions), config."""
        rng = {k: v.get_value().bit_generator.state for k, v in self.model.state.items()
               if isinstance(v.get_value(), np.random.Generator)}
        loop = {
            "name": self.name,
            "output_names": self.output_names,
            "iterator": self._iterator_state(),
            "extensions": [{"class": type(e).__name__, "state": e.state_dict()}
                           for e in self.extension],
        }
        return {"rng": rng, "trainlog": self.trainlog.to_json(), "loop": loop,
                "config": self.config}

    def _iterator_state(self):
        if not hasattr(self.data, "state_dict"):
            return None
        state = self.data.state_dict()
        if self._rewind_batch and isinstance(state.get("next"), int) and state["next"] > 0:
            state = dict(state, next=state["next"] - 1)
        return state

    def save_checkpoint(self, which="last", root=None):
        """Write the full training state to ``<root>/<which>``; returns the path (or None)."""
        root = Path(root) if root is not None else self.checkpoint_root
        if root is None:
            log.warning("no checkpoint directory configured; nothing saved")
            return None
        path = write_checkpoint(root / which, self.state_arrays(), self.state_documents())
        self._event("checkpoint", which=which, path=str(path), batch_seen=self.trainlog.batch_seen)
        return path

    def load_checkpoint(self, path):
        """Restore a checkpoint written by :meth:`save_checkpoint` into this training.

        ``path`` is a checkpoint directory or a root holding ``last/``. Everything is checked
        before anything is changed; a mismatch raises :class:`CheckpointError` naming it.
        """
        directory, arrays, documents = read_checkpoint(path)
        for stem in ("params", "optimizer", "model_state", "trainlog"):
            if stem not in arrays:
                raise CheckpointError(f"checkpoint {directory}: {stem}.npz is missing")
        for stem in ("rng", "trainlog", "loop"):
            if stem not in documents:
                raise CheckpointError(f"checkpoint {directory}: {stem}.json is missing")
        numeric_state = OrderedDict((k, v) for k, v in self.model.state.items()
                                    if not isinstance(v.get_value(), np.random.Generator))
        generators = OrderedDict((k, v) for k, v in self.model.state.items()
                                 if isinstance(v.get_value(), np.random.Generator))
        plan = []
        plan += _match(directory, "params.npz", self.model.param_dict, arrays["params"])
        plan += _match(directory, "optimizer.npz", self.optimizer.state, arrays["optimizer"])
        plan += _match(directory, "model_state.npz", numeric_state, arrays["model_state"])
        generators_state = _bit_generators(directory, documents["rng"], generators)
        loop = documents["loop"]
        saved_exts = _saved_extensions(directory, loop)
        classes = [type(e).__name__ for e in self.extension]
        if [e["class"] for e in saved_exts] != classes:
            raise CheckpointError(f"checkpoint {directory}: saved extensions "
                                  f"{[e['class'] for e in saved_exts]} differ from this "
                                  f"training's {classes}")
        try:
            trainlog = TrainLog.from_saved(arrays["trainlog"], documents["trainlog"])
        except (KeyError, ValueError, TypeError, AttributeError) as err:
            raise CheckpointError(f"checkpoint {directory}: trainlog is inconsistent ({err})") from None
        if (loop["iterator"] is None) != (not hasattr(self.data, "load_state_dict")):
            raise CheckpointError(f"checkpoint {directory}: iterator position saved="
                                  f"{loop['iterator'] is not None} but this data iterator "
                                  f"{'can' if hasattr(self.data, 'load_state_dict') else 'cannot'} "
                                  f"restore one")
        if loop["iterator"] is not None:
            try:
                self.data.load_state_dict(loop["iterator"])
            except (KeyError, ValueError, TypeError, IndexError) as err:
                raise CheckpointError(f"checkpoint {directory}: iterator position in loop.json "
                                      f"does not fit this data ({err!r})") from None
        for ext, saved in zip(self.extension, saved_exts):
            try:
                ext.load_state_dict(saved["state"])
            except (KeyError, ValueError, TypeError, AttributeError, IndexError) as err:
                raise CheckpointError(f"checkpoint {directory}: loop.json state of "
                                      f"{saved['class']} does not load ({err!r})") from None
        for var, value in plan:
            var.set_value(value)
        for name, var in generators.items():
            var.set_value(np.random.Generator(generators_state[name]))
        self.trainlog = trainlog
        self._event("resume", path=str(directory), batch_seen=trainlog.batch_seen)
        log.info("resumed from %s at update %d", directory, trainlog.batch_seen)
        return directory


def check_saved_documents(directory, documents):
    """Check the JSON documents of a checkpoint without a model: ``rng.json`` names known bit
    generators with valid states, ``loop.json`` has the expected shape. CheckpointError otherwise.

    Lets a command refuse a hand-edited checkpoint before compiling anything;
    :meth:`Training.load_checkpoint` checks everything again against the model.
    """
    for stem in ("rng", "trainlog", "loop"):
        if stem not in documents:
            raise CheckpointError(f"checkpoint {directory}: {stem}.json is missing")
    rng = documents["rng"]
    _bit_generators(directory, rng, rng if isinstance(rng, dict) else {})
    _saved_extensions(directory, documents["loop"])


def _bit_generators(directory, rng_states, generators):
    """name -> numpy bit generator in the state of ``rng.json`` (only :data:`BIT_GENERATORS`)."""
    if not isinstance(rng_states, dict) or set(rng_states) != set(generators):
        found = sorted(rng_states) if isinstance(rng_states, dict) else type(rng_states).__name__
        raise CheckpointError(f"checkpoint {directory}: rng.json has generators "
                              f"{found}, the model has {sorted(generators)}")
    out = {}
    for name, state in rng_states.items():
        kind = state.get("bit_generator") if isinstance(state, dict) else None
        if not isinstance(kind, str) or kind not in BIT_GENERATORS:
            raise CheckpointError(f"checkpoint {directory}: rng.json generator {name!r} names "
                                  f"bit_generator {kind!r}; expected one of "
                                  f"{', '.join(BIT_GENERATORS)}")
        bit_generator = BIT_GENERATORS[kind]()
        try:
            bit_generator.state = state
        except (KeyError, ValueError, TypeError, OverflowError) as err:
            raise CheckpointError(f"checkpoint {directory}: rng.json state of {name!r} is not a "
                                  f"valid {kind} state ({err!r})") from None
        out[name] = bit_generator
    return out


def _saved_extensions(directory, loop):
    """The ``extensions`` list of ``loop.json``, checked to be [{'class': str, 'state': dict}]."""
    exts = loop.get("extensions") if isinstance(loop, dict) else None
    if not isinstance(loop, dict) or "iterator" not in loop or not isinstance(exts, list) or not all(
            isinstance(e, dict) and isinstance(e.get("class"), str)
            and isinstance(e.get("state"), dict) for e in exts):
        raise CheckpointError(f"checkpoint {directory}: loop.json is not of the expected shape; "
                              "expected {'iterator': ..., 'extensions': [{'class': str, "
                              "'state': {...}}, ...]}")
    return exts


def _match(directory, filename, variables, saved):
    """Pair every shared variable with its saved array, checking names, shapes and dtypes."""
    missing = [k for k in variables if k not in saved]
    unexpected = [k for k in saved if k not in variables]
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {directory}: {filename} does not fit the model: "
                              f"missing {missing}, unexpected {unexpected}")
    plan = []
    for name, var in variables.items():
        current = np.asarray(var.get_value())
        value = _same_integer(saved[name], current.dtype)
        if value.shape != current.shape or value.dtype != current.dtype:
            raise CheckpointError(f"checkpoint {directory}: {filename}[{name}] is {value.dtype} "
                                  f"{value.shape}, the model expects {current.dtype} {current.shape}")
        plan.append((var, value))
    return plan


def _same_integer(value, dtype):
    """An integer array in the integer ``dtype`` when every value fits (e.g. an int64 counter of
    an older checkpoint for an int32 variable); anything else unchanged."""
    if value.dtype == dtype or value.dtype.kind not in "iu" or np.dtype(dtype).kind not in "iu":
        return value
    info = np.iinfo(dtype)
    if value.size and (value.min() < info.min or value.max() > info.max):
        return value
    return value.astype(dtype)
