"""A run's training: :class:`cle.train.Training` assembled as the legacy scripts did, then run.

GradientClipping(batch_size, check_nan) -> Adam(lr) -> WeightNorm, Monitoring of the validation
split every ``monitoring_freq`` updates and at the end of the run, EarlyStopping on
``valid_nll_upper_bound`` among the records after update 0 (the ``best`` checkpoint),
EpochCount(``epoch``), and a ``last`` checkpoint every ``force_saving_freq`` updates, at the end
and on SIGINT / SIGTERM. The monitoring noise generator is part of the checkpointed state, so the
validation numbers after a resume equal the uninterrupted run's.

The paper's corpora train in the legacy order; a user's sequences every epoch in a new order, in
length buckets (:func:`training_batches`), one training function per bucket shape where shapes
are static. Every validation sequence is monitored, with one monitor function per batch width
that occurs. ``patience`` ends a run early; :class:`KlCollapse` warns of a collapsed posterior;
``kl_anneal_updates`` and ``free_bits`` shape the training cost (the model's ``training_cost``).
"""
import logging
import time

import numpy as np
import pytensor.tensor as pt

from cle.backend import precision
from cle.data import ExampleIterator, Iterator
from cle.data.buckets import length_buckets
from cle.train import Training
from cle.train.checkpoint import read_checkpoint
from cle.train.ext import Checkpoint, EarlyStopping, EpochCount, Extension, GradientClipping, Monitoring, WeightNorm
from cle.train.opt import Adam
from cle.train.state import check_saved_documents
from nips2015_vrnn.models.app.capacity import check_fits_memory
from nips2015_vrnn.models.app.host_batches import HostBatches, static_steps
from nips2015_vrnn.models.app.progress import frames_per_sequence
from nips2015_vrnn.models.app.rundir import RunError, check_frame_width
from nips2015_vrnn.models.app.runlock import run_lock
from nips2015_vrnn.models.compiled import graph_spec
from nips2015_vrnn.models.sequence_model import COST_CHANNELS

log = logging.getLogger(__name__)

__all__ = ["build_training", "train_run", "training_batches", "epoch_summary", "training_extensions",
           "real_frames_per_update",
           "KlCollapse", "MonitorEcho", "BEST_CHANNEL", "CLIP_NORM", "LEGACY_ORDER"]

#: Legacy gradient clipping: the global gradient norm is clipped to this value.
CLIP_NORM = 5
#: Name prefix of the validation channels (the monitored split).
VALID = "valid"
#: Channel whose lowest value selects the ``best`` checkpoint (the legacy EarlyStopping channel).
BEST_CHANNEL = f"{VALID}_{COST_CHANNELS[0]}"


class MonitorEcho(Extension):
    """Calls ``callback(record)`` once per new monitoring record."""

    name = "ext_monitor"

    def __init__(self, callback):
        self.callback = callback

    def on_record(self, mainloop, record):
        self.callback(dict(record))


class _Channel:
    """A name standing for one output of a compiled monitor function (what Monitoring reads)."""

    def __init__(self, name):
        self.name = name


class _ByWidth:
    """The monitor functions by batch width (B of the (T, B, ...) batches), called as one."""

    def __init__(self, functions):
        self.functions = functions
        self.output_names = next(iter(functions.values())).output_names

    def __call__(self, *batch):
        return self.functions[batch[0].shape[1]](*batch)


def _examples_in(batch):
    """The weight of a batch in the monitored means: its number of sequences B."""
    return batch[0].shape[1]


#: Data kinds whose training batches are the legacy ones (consecutive, in order, whole batches
#: only: text's TBPTT streams as Blizzard's rows); the others shuffle whole sequences every epoch
#: and keep the last partial batch.
LEGACY_ORDER = ("speech", "handwriting", "utterances", "text")


def training_batches(config, train_data):
    """The iterator of a run's training batches.

    A user's own sequences (:data:`LEGACY_ORDER` aside): :class:`cle.data.ExampleIterator`, the
    sequences shuffled each epoch (seeded by ``config.seed``; its state is checkpointed, so a
    resume goes on exactly), none dropped, in batches of a few padded lengths
    (:func:`cle.data.buckets.length_buckets`: sequences of similar lengths together, each batch
    about ``batch_size`` mean-length sequences' worth of frames; one compiled training function
    per (length, width) in a static-shape backend, the same batches in every mode so a run may
    resume in another). A bucket's last batch is filled to its width with empty sequences
    (mask 0). With the masked per-sequence cost (``sequence_sum``: sum over time, mean over the
    batch's columns) the training cost is scaled by width / batch_size, so that every sequence
    weighs 1 / batch_size in its update, as in the legacy batches. With a carried state
    (``reset_freq > 0``, whose state has ``batch_size`` rows) every batch is ``batch_size`` wide
    and padded to its longest sequence instead.
    The paper's corpora keep the legacy :class:`cle.data.Iterator` (Blizzard's rows are TBPTT
    streams: row r + batch_size continues row r).
    """
    if config.data in LEGACY_ORDER:
        if train_data.num_examples() < config.batch_size:
            n = train_data.num_examples()
            raise RunError(f"{getattr(train_data, 'path', 'the data')}: the train split holds {n} "
                           f"examples, fewer than batch_size {config.batch_size}; give --set "
                           f"batch_size=N with N <= {n}")
        return Iterator(train_data, batch_size=config.batch_size)
    buckets = None
    if config.reset_freq == 0:
        buckets = length_buckets(train_data.lengths(0, train_data.num_examples()), config.batch_size).shapes
    return ExampleIterator(train_data, batch_size=config.batch_size, shuffle=True, seed=config.seed,
                           fill=True, buckets=buckets)


def epoch_summary(iterator):
    """What one epoch of ``iterator`` covers: ``examples`` seen of ``total``, ``batches`` of
    ``batch_size``, ``shuffled``, ``unit`` (what an example is: 'sequences', 'rows', 'lines');
    with length buckets their ``shapes`` [(length, width)] and the ``real_fraction`` of the
    computed frames."""
    total = iterator.data.num_examples()
    if isinstance(iterator, ExampleIterator):
        seen, shuffled = total, iterator.shuffle
    else:
        seen, shuffled = len(iterator) * iterator.batch_size, iterator.shuffle
    summary = {"examples": seen, "total": total, "batches": len(iterator), "batch_size": iterator.batch_size,
               "shuffled": shuffled, "unit": getattr(iterator.data, "UNIT", "examples")}
    if getattr(iterator, "buckets", None):
        summary["shapes"] = iterator.shapes()
        summary["real_fraction"] = iterator.real_fraction()
    return summary


def real_frames_per_update(batches, batch_size):
    """The mean number of real (unmasked) frames an update of ``batches`` trains on.

    Batches of every example once per epoch (:class:`cle.data.ExampleIterator`, or
    :class:`HostBatches` of one) over data that know their ``lengths``: the epoch's frames
    sum(T_i) over its ``len(batches)`` updates (buckets, a partial last batch, a training split
    smaller than ``batch_size``, all counted as they are). Otherwise ``batch_size`` times the mean
    frames per sequence of the first batch (the legacy batches: full, in order).
    """
    iterator = getattr(batches, "iterator", batches)
    data = iterator.data
    if isinstance(iterator, ExampleIterator) and hasattr(data, "lengths"):
        return float(np.sum(data.lengths(0, data.num_examples()))) / len(iterator)
    return batch_size * frames_per_sequence(data)


def build_training(run, model, on_event=None, progress=None):
    """The :class:`cle.train.Training` of ``run`` for ``model`` (compiles the graphs, by the
    model's backend).

    ``on_event(kind, **info)`` is called with kind 'stage' (``name``: what is compiled next),
    'compiled' (``seconds``; ``loaded``: the training function came from the persistent store of
    compiled functions), 'epoch' (what an epoch covers, :func:`epoch_summary`) and 'monitor'
    (``record``).
    """
    config = model.config
    notify = on_event or (lambda kind, **info: None)
    train_data = run.open_split("train")
    valid_data = run.open_split(VALID)
    check_frame_width(config, run.corpus, run.data_path, train_data)
    train_iter = training_batches(config, train_data)
    per_sequence = isinstance(train_iter, ExampleIterator)  # batches of varying widths
    notify("epoch", **epoch_summary(train_iter))
    # Every validation example is monitored (speech keeps the legacy rows: whole batches only),
    # a split smaller than m_batch_size in one batch of its own size.
    valid_iter = Iterator(valid_data, batch_size=min(config.m_batch_size, valid_data.num_examples()),
                          drop_last=config.data == "speech")
    if getattr(train_data, "batch_size", config.batch_size) != config.batch_size and config.reset_freq > 0:
        log.warning("batch_size %d differs from the %d streams of %s: the carried LSTM state will "
                    "join unrelated audio", config.batch_size, train_data.batch_size, run.data_path)
    # JAX: static shapes and noise drawn on the host from the model's generators (see host_batches).
    host_noise = model.backend.static_shapes
    train_models = [model]
    if host_noise:
        n_steps = static_steps(train_data, valid_data)
        # Readers whose training examples all have one length (text's TBPTT rows: ``example_steps``)
        # train at that length: padded to the validation length, the carried state would run on
        # through the padding.
        shapes = train_iter.shapes() if isinstance(train_iter, ExampleIterator) else \
            [(getattr(train_data, "example_steps", None), config.batch_size)]
        bucketed = shapes[0][0] is not None  # batches come padded to their bucket's length
        train_iter = HostBatches(train_iter, model.train_rng, model.training_noise_dim, model.dtype,
                                 None if bucketed else n_steps)
        valid_iter = HostBatches(valid_iter, model.monitor_rng, model.latent_dim, model.dtype, n_steps)
        train_models = [model.static(steps or n_steps, width) for steps, width in shapes]
    train_model = train_models[0]
    began = time.perf_counter()
    notify("stage", name="the model graph")
    train_graph = train_model.training_graph(eps_input=host_noise)
    outputs = [out.copy(name=name) for name, out in train_graph.outputs.items() if name in COST_CHANNELS]
    notify("stage", name="the monitoring function")
    # One monitor function per batch width that occurs (static shapes: each compiled for it).
    widths = sorted(set(valid_iter.batch_sizes()))
    monitor_fn = _ByWidth({width: (model.static(n_steps, width) if host_noise else model)
                           .monitor_fn(eps_input=host_noise) for width in widths})
    channels = [_Channel(name) for name in monitor_fn.output_names]
    monitoring = Monitoring(freq=config.monitoring_freq, ddout=channels, data=[valid_iter],
                            monitor_fn=monitor_fn, at_end=True, batch_weight=_examples_in)
    extensions = training_extensions(config, monitoring, run.checkpoint_root,
                                     _monitor_echo(on_event, KlCollapse(config, valid_data)))
    notify("stage", name="the training function (gradient, rewrites, compiled code)")
    cle_model = _cle_model(model, train_model, host_noise)
    variants = []
    for other in train_models[1:]:  # one training function per bucket shape (static shapes)
        graph = other.training_graph(eps_input=host_noise)
        costs = [out.copy(name=name) for name, out in graph.outputs.items() if name in COST_CHANNELS]
        variants.append((_cle_model(model, other, host_noise),
                         _training_cost(graph, costs, other if per_sequence else None), costs,
                         {"model": graph_spec(other), "eps_input": host_noise}))
    with precision(model.dtype):
        training = Training(config.model_name, train_iter, cle_model, Adam(lr=config.lr),
                            _training_cost(train_graph, outputs, train_model if per_sequence else None),
                            outputs, extension=extensions,
                            run_dir=run.path,
                            config=run.record, progress=progress, backend=model.backend,
                            store_spec={"model": graph_spec(train_model), "eps_input": host_noise},
                            variants=variants)
    notify("compiled", seconds=time.perf_counter() - began, loaded=training.loaded)
    return training


def training_extensions(config, monitoring, checkpoint_root, on_record):
    """The extensions of a run, in the legacy order: clipping, the epoch limit, ``monitoring``,
    early stopping (the ``best`` checkpoint; ``config.patience`` monitoring steps without
    improvement end the run, 0: never), ``on_record(record)`` per monitoring record, the ``last``
    checkpoint, weight norm."""
    return [
        GradientClipping(scaler=CLIP_NORM, batch_size=config.batch_size, check_nan=1),
        EpochCount(config.epoch),
        monitoring,
        EarlyStopping(BEST_CHANNEL, patience=config.patience or None, start=1),
        MonitorEcho(on_record),
        Checkpoint(path=checkpoint_root, freq=config.force_saving_freq),
        WeightNorm(),
    ]


def _training_cost(graph, outputs, train_model=None):
    """What the training minimises: the graph's ``training_cost`` (KL annealing or free bits on),
    else the bound's channel (the legacy cost).

    With ``train_model`` (batches of varying widths B, :class:`cle.data.ExampleIterator`) and the
    per-sequence cost (``sequence_sum``: a mean over the batch's B columns) the cost is scaled by
    B / batch_size: every sequence weighs 1 / batch_size in its update, whatever its batch's width
    (a long bucket's few sequences count no more than a short bucket's many), as in the legacy
    batches of ``batch_size``.
    """
    cost = graph.outputs["training_cost"] if "training_cost" in graph.outputs else outputs[0]
    config = train_model.config if train_model is not None else None
    if config is not None and config.cost_norm == "sequence_sum":
        width = train_model.x.type.shape[1]
        if width is None:  # dynamic shapes: the batch's width, symbolic
            scale = pt.cast(train_model.x.shape[1], train_model.dtype) / np.asarray(config.batch_size,
                                                                                   dtype=train_model.dtype)
        else:
            scale = np.asarray(width / config.batch_size, dtype=train_model.dtype)
        cost = cost * scale
    return cost.copy(name="training_cost") if cost is not outputs[0] else cost


#: A validation KL below this many nats per time step ...
KL_COLLAPSE_NATS = 0.01
#: ... at this many monitoring steps in a row (after update 0) is reported as a posterior collapse.
KL_COLLAPSE_RECORDS = 5


class KlCollapse:
    """Says once when the validation KL term stays below :data:`KL_COLLAPSE_NATS` nats per time
    step for :data:`KL_COLLAPSE_RECORDS` monitoring steps: the latent variable is being ignored.

    ``check(record)`` returns the warning's text the first time, else None.
    """

    def __init__(self, config, valid_data):
        self.active = config.family == "vrnn"
        self.steps_per_value = 1.0  # frame_mean: the KL term is already per frame
        if config.cost_norm == "sequence_sum" and hasattr(valid_data, "lengths"):
            self.steps_per_value = float(np.mean(valid_data.lengths(0, valid_data.num_examples())))
        self.low, self.said = 0, False

    def check(self, record):
        value = record.get(f"{VALID}_kl_term")
        if not self.active or self.said or value is None or record.get("batch_seen", 0) < 1:
            return None
        per_step = value / self.steps_per_value
        self.low = self.low + 1 if per_step < KL_COLLAPSE_NATS else 0
        if self.low < KL_COLLAPSE_RECORDS:
            return None
        self.said = True
        return (f"warning: the validation KL term has stayed below {KL_COLLAPSE_NATS} nats per time step "
                f"for {self.low} monitoring steps ({per_step:.2g} now): the posterior may have collapsed "
                "(the model ignores z); try --set kl_anneal_updates=N or --set free_bits=0.05")


def _monitor_echo(on_event, collapse):
    """MonitorEcho's callback: the record to ``on_event``, then the collapse warning when it comes:
    as a 'warning' event to a caller that listens (the command prints it), else to the log (once
    either way)."""
    def echo(record):
        warning = collapse.check(record)
        if on_event is None:
            if warning:
                log.warning(warning)
            return
        on_event("monitor", record=record)
        if warning:
            on_event("warning", text=warning)
    return echo


def _cle_model(model, train_model, host_noise):
    """The :class:`cle.models.Model` that Training compiles for ``train_model`` (``model`` or a
    static copy), with the noise generators as checkpointed state."""
    cle_model = train_model.as_cle_model(eps_input=host_noise)
    cle_model.add_state(model.monitor_rng)  # checkpointed: monitoring after a resume is exact
    if model.latent_dim:
        cle_model.add_state(model.train_rng)  # checkpointed whichever backend draws from it
    return cle_model


def train_run(run, backend=None, max_updates=None, resume=False, on_event=None, progress=None, loggers=()):
    """Train (or, with ``resume``, continue) the run, compiling by ``backend`` (default: the
    run's, :meth:`RunDir.backend`); returns the :class:`Training` at the end.

    ``max_updates`` counts all updates of the run (resumed ones included). SIGINT / SIGTERM
    save ``checkpoints/last`` and raise :class:`cle.train.TrainingInterrupted`; any other
    exception during the loop saves ``checkpoints/last`` too (see ``Training.run``). The run
    directory is locked meanwhile: a second trainer of the same run gets a RunError.
    ``loggers`` (:func:`~nips2015_vrnn.models.app.experiment_log.open_loggers`) get every
    monitoring record and every update's outputs, and are closed at the end.
    """
    if max_updates is not None and max_updates < 1:
        raise RunError(f"max_updates must be >= 1; got {max_updates}")
    if loggers:
        on_event, progress = _logged_events(on_event, loggers), _LoggedProgress(progress, loggers)
    try:
        with run_lock(run.path):
            return _train_locked(run, backend, max_updates, resume, on_event, progress)
    finally:
        for logger in loggers:
            logger.close()


def _logged_events(on_event, loggers):
    """``on_event`` that also hands each monitoring record to the ``loggers``."""
    def logged(kind, **info):
        if on_event:
            on_event(kind, **info)
        elif kind == "warning":   # nobody listens: the log says it
            log.warning(info["text"])
        if kind == "monitor":
            for logger in loggers:
                logger.monitor(info["record"])
    return logged


class _LoggedProgress:
    """The progress object of a training (or none) that also hands each update's outputs to the
    loggers, at the update's number."""

    def __init__(self, progress, loggers):
        self.progress, self.loggers, self.training = progress, loggers, None

    def attach(self, training, **settings):
        self.training = training
        if hasattr(self.progress, "attach"):
            self.progress.attach(training, **settings)

    def update(self, epoch, batch, nbatch, values):
        if hasattr(self.progress, "update"):
            self.progress.update(epoch, batch, nbatch, values)
        if self.training is not None:
            for logger in self.loggers:
                logger.update(self.training.trainlog.batch_seen, values)

    def clear(self):
        if hasattr(self.progress, "clear"):
            self.progress.clear()

    def close(self):
        if hasattr(self.progress, "close"):
            self.progress.close()


def _train_locked(run, backend, max_updates, resume, on_event, progress):
    check_fits_memory(run.config, run.floatX)
    if resume:
        directory, _, documents = read_checkpoint(run.checkpoint_dir("last"))
        check_saved_documents(directory, documents)  # fail before compiling on a bad checkpoint
    model = run.build_model(backend)
    training = build_training(run, model, on_event=on_event, progress=progress)
    if resume:
        training.load_checkpoint(run.checkpoint_dir("last"))
        done = training.trainlog.batch_seen
        if max_updates is not None and max_updates <= done:
            raise RunError(f"{run.path} already has {done} updates; give --max-updates above {done}")
        if on_event:
            on_event("resumed", batch_seen=training.trainlog.batch_seen)
    if hasattr(progress, "attach"):
        per_epoch = len(training.data)
        total = model.config.epoch * per_epoch or None  # epoch 0: no epoch limit
        if max_updates is not None:
            total = max_updates if total is None else min(total, max_updates)
        progress.attach(training, total_updates=total,
                        frames_per_update=real_frames_per_update(training.data, model.config.batch_size))
    with precision(model.dtype):
        training.run(max_updates=max_updates)
    return training
