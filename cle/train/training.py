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

from cle.backend import Backend, function, precision
from cle.function_store import compile_with_store
from cle.train.checkpoint import CheckpointWriteError, read_checkpoint, write_checkpoint
from cle.train.ext import Checkpoint, MonitoringError
from cle.train.log import JsonLinesWriter, Progress, TrainLog
from cle.train.state import restore_plan, state_arrays, state_documents
from cle.utils import tolist

log = logging.getLogger(__name__)

__all__ = ["Training", "TrainingInterrupted"]

#: The extension hooks that change the training graph (their extensions' settings key it).
GRAPH_HOOKS = ("ext_regularize_pre_grad", "ext_grad", "ext_regularize_post_grad")
#: Name of the JSON-lines file (in ``run_dir``) that gets one line per monitoring step.
LOG_FILE = "log.jsonl"
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
    then the counter). It is compiled once by ``backend`` (:func:`cle.backend.function`), as
    ``cost_fn(*batch) -> list of output values``. Gradients through ``scan`` are PyTensor's
    unless the scan was built with :func:`cle.utils.scan.scan`, whose gradient reads the forward
    step back instead of recomputing it.

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
    backend : cle.backend.Backend or None
        Compiles the training function (default ``Backend()``: the C mode, which compiles any
        graph); its precision is the cost's dtype. With a store (``backend.store``) and a
        ``store_spec``, the function is loaded from the store when it holds it (the model's
        variables and the optimizer's settings bound, its slots adopted), else compiled and stored.
    store_spec : dict or None
        Everything of the caller's that decides the training graph (JSON-ready), for the store;
        None: compiled every time.
    variants : list of (model, cost, outputs, store_spec) or None
        More training graphs of the same parameters, state and optimizer for inputs of other
        static shapes (a static-shape backend, batches of several padded lengths): each is
        compiled as the first, and a batch runs the graph whose first input's static shape is
        the batch's first array's shape (the first graph when none is).
    """

    def __init__(self, name, data, model, optimizer, cost, outputs, extension=None,
                 trainlog=None, run_dir=None, config=None, progress=None, backend=None,
                 store_spec=None, variants=None):
        self.name = name
        self.data = data
        self.model = model
        self.backend = (backend or Backend()).replace(floatX=cost.dtype)
        self.store_spec = store_spec
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
        #: True when the training function came from the backend's store of compiled functions.
        self.loaded = False
        self._train_fn = self._compiled_training_function()
        self._train_fns = {}
        if variants:
            self._train_fns[self._static_shape()] = self._train_fn
            main = (self.model, self.inputs, self.cost, self.outputs, self.store_spec)
            loaded = self.loaded
            for model, cost, outputs, store_spec in variants:
                self.model, self.inputs, self.cost, self.store_spec = model, model.inputs, cost, store_spec
                self.outputs = tolist(outputs)
                self._train_fns[self._static_shape()] = self._compiled_training_function()
                loaded = loaded and self.loaded
            self.model, self.inputs, self.cost, self.outputs, self.store_spec = main
            self.loaded = loaded
        log.info("compiled the training function in %.1f s", time.perf_counter() - start)

    # ------------------------------------------------------------------ graph
    def _compiled_training_function(self):
        """:meth:`build_training_graph`, or its compiled function from the backend's store."""
        if self.store_spec is None or self.backend.store is None:
            return self.build_training_graph()
        live = OrderedDict((f"param:{k}", v) for k, v in self.model.param_dict.items())
        live.update((f"state:{k}", v) for k, v in self.model.state.items())
        live.update((f"optimizer:{k}", v) for k, v in self.optimizer.state.items())
        settings = {k: v for k, v in self.optimizer.settings().items() if k != "lr"}  # lr: a live input
        spec = {"function": "training", "name": self.name, "caller": self.store_spec, "live": list(live),
                "outputs": self.output_names,
                "optimizer": [type(self.optimizer).__name__, settings, self.optimizer.lr_scalers],
                "graph_extensions": [[type(e).__name__, e.name, _settings_of(e)] for e in self.extension
                                     if e.name in GRAPH_HOOKS]}
        fn, optimizer_state, self.loaded = compile_with_store(
            self.backend, spec, live, lambda: (self.build_training_graph(), self.optimizer.state))
        self.optimizer.state = optimizer_state
        return fn

    def build_training_graph(self):
        """Compile ``inputs -> outputs + [gradient norm]`` with all updates (see class doc)."""
        with precision(self.backend.floatX):
            self.updates = OrderedDict(self.model.updates)
            self.run_extension("ext_regularize_pre_grad")
            params = self.model.params
            self.grads = OrderedDict(zip(params, pt.grad(self.cost, params)))
            # The norm of the raw gradients; GradientClipping replaces it by the norm it clips.
            self.grad_norm = pt.sqrt(sum((g ** 2).sum() for g in self.grads.values()))
            self.run_extension("ext_grad")
            self.updates.update(self.optimizer.get_updates(self.grads))
            self.run_extension("ext_regularize_post_grad")
            # An optimizer made outside a precision block has float64 scalars (PyTensor's floatX):
            # each update is cast back to its variable's dtype (a no-op where they agree).
            self.updates = OrderedDict((var, _as_dtype_of(var, value)) for var, value in self.updates.items())
            return function(self.inputs, self.outputs + [self.grad_norm], updates=self.updates,
                            backend=self.backend, name=f"{self.name}_cost_fn")

    def _static_shape(self):
        """The static shape of the current graph's first input (its key among the variants)."""
        return tuple(self.inputs[0].type.shape)

    def cost_fn(self, *batch):
        """One update on ``batch``; returns the outputs' values (the legacy ``cost_fn``).

        The global gradient norm of this update is kept in ``last_grad_norm``.
        """
        fn = self._train_fns.get(tuple(np.shape(batch[0])), self._train_fn)
        values = fn(*batch)
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
        #: What ended the run: the limit reached, the extension's request, or 'finished'.
        self.end_reason = self._stop_reason or ("finished" if self.endloop else "stopped")
        self._event("end", batch_seen=self.trainlog.batch_seen, epoch_seen=self.trainlog.epoch_seen,
                    reason=self.end_reason)
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
        return state_arrays(self)

    def state_documents(self):
        """The JSON state by file: rng, trainlog, loop (iterator, extensions), config."""
        return state_documents(self, self._iterator_state())

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
        before anything is changed (:func:`cle.train.state.restore_plan`); a mismatch raises
        :class:`CheckpointError` naming it.
        """
        directory, arrays, documents = read_checkpoint(path)
        apply, trainlog = restore_plan(self, directory, arrays, documents)
        apply()
        self.trainlog = trainlog
        self._event("resume", path=str(directory), batch_seen=trainlog.batch_seen)
        log.info("resumed from %s at update %d", directory, trainlog.batch_seen)
        return directory


def _as_dtype_of(var, value):
    """``value`` cast to the dtype of the tensor ``var`` it updates (unchanged when they agree or
    either is not a tensor, e.g. a random generator)."""
    dtype, wanted = getattr(value, "dtype", None), getattr(var, "dtype", None)
    return value if dtype is None or wanted is None or dtype == wanted else value.astype(wanted)


def _settings_of(extension):
    """An extension's plain attributes (numbers, strings, booleans): what its graph change reads."""
    return {k: v for k, v in sorted(vars(extension).items()) if isinstance(v, bool | int | float | str)}
