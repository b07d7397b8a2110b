"""A legacy trained model as a run directory: what ``vrnn-import-legacy`` writes.

:func:`plan_import` reads a legacy main-loop (or ``_best``) pickle with
:func:`cle.legacy.read_mainloop` (nothing in it is run) and works out its configuration
(:mod:`~nips2015_vrnn.models.app.legacy_config`); :func:`import_legacy` then writes an ordinary
run directory (:mod:`~nips2015_vrnn.models.app.rundir`) around a prepared data file:

- ``config.json``: the model, the data file, its normalisation, the precision of the pickle's
  parameters (float32 / float64) and the compile mode;
- ``checkpoints/last`` and ``checkpoints/best``: the full training state of
  :class:`cle.train.Training` (the trainer's own, so ``vrnn-train --resume`` restores it as any
  other) with the pickle's parameters, its TBPTT state (``step_count``, ``rnn_tm1``) and its
  training log; the optimizer state is Adam's initial one, because the legacy pickle holds none.
  Their ``note.json`` (:data:`cle.train.state.NOTE`) says so, and restoring one repeats it in one
  warning line (``vrnn-train --resume``; the checkpoints the resumed training writes have none);
- ``log.jsonl``: an ``import`` line, then the legacy monitoring history, one ``monitor`` line per
  legacy monitoring step with ``"imported": true``, the legacy channel names
  (``valid_nll_upper_bound``, ``train_kl_term`` ...) and the update at which it was taken.

The legacy log does not record that update: a legacy run monitored at updates 0, F, 2F, ...
(F = ``monitoring_freq``), which must fit the number of monitoring steps and of updates.
Building the training state compiles the training function once (it goes to the store of
compiled functions, where the resumed run finds it).
"""
import contextlib
import logging
import math
from collections import OrderedDict, namedtuple
from pathlib import Path

import numpy as np

from cle.backend import Backend
from cle.legacy import read_mainloop
from cle.train.checkpoint import write_checkpoint
from cle.train.ext import EarlyStopping
from cle.train.log import JsonLinesWriter, TrainLog
from cle.train.state import NOTE
from nips2015_vrnn.models.app import rundir
from nips2015_vrnn.models.app.legacy_config import legacy_model_config
from nips2015_vrnn.models.config import ConfigError

log = logging.getLogger(__name__)

__all__ = ["ImportPlan", "plan_import", "import_legacy", "legacy_records", "FLOATX_OF"]

#: What the import and a resume from an imported checkpoint say about the optimizer.
NO_OPTIMIZER = "the legacy pickle holds no optimizer state: the training starts Adam afresh (moments 0, counter 0)"
#: The run precision of the pickle's parameter dtype.
FLOATX_OF = {"float32": "float32", "float64": "float64"}


class ImportPlan(namedtuple("ImportPlan", ["source", "loop", "config", "corpus", "floatX", "records", "ignored"])):
    """What :func:`plan_import` read and worked out: the pickle's path, its
    :class:`~cle.legacy.LegacyMainLoop`, the :class:`ModelConfig`, the corpus format, the precision
    of its parameters, the monitoring records and the config keys not used."""


def plan_import(pickle_path, corpus=None, config_file=None, overrides=None):
    """Read the legacy pickle and work out its run (nothing is written, nothing compiles).

    Parameters
    ----------
    pickle_path : path
        A legacy main-loop or ``_best`` pickle (see :func:`cle.legacy.read_mainloop`).
    corpus : str or None
        The format of the data the run will read (a key of ``CORPORA``); default iamondb for
        handwriting models, else blizzard.
    config_file : path or None
        The legacy ``config.txt`` (or a JSON object of its keys).
    overrides : dict or None
        Typed configuration overrides (legacy key names).

    Returns
    -------
    ImportPlan

    Raises
    ------
    cle.legacy.LegacyPickleError, ConfigError
        One line naming the file and the problem.
    """
    loop = read_mainloop(pickle_path)
    config, ignored = legacy_model_config(loop, corpus=corpus, config_file=config_file, overrides=overrides)
    corpus = corpus or ("iamondb" if config.data == "handwriting" else "blizzard")
    return ImportPlan(Path(pickle_path), loop, config, corpus, _floatX(loop), legacy_records(loop, config), ignored)


def import_legacy(plan, out, data, backend=None, on_event=None):
    """Write the run directory ``out`` of :func:`plan_import`'s ``plan``.

    Parameters
    ----------
    plan : ImportPlan
    out : path
        The run directory to create (must not hold a run).
    data : path
        The prepared data file (or its folder) that evaluation, sampling and a resumed training
        read: an HDF5 file written by ``vrnn-prepare`` whose frames are x_dim wide.
    backend : cle.backend.Backend or None
        Compiles the training function (its mode is recorded as the run's); default
        ``Backend(floatX=plan.floatX)``, the C mode. Its ``floatX`` must be the plan's.
    on_event : callable or None
        The trainer's ``on_event(kind, **info)`` while the training function compiles.

    Returns
    -------
    dict: ``run`` (RunDir), ``state`` (names of the TBPTT variables set).

    Raises
    ------
    RunError, DataError, ConfigError
        One line naming the file and the problem; nothing is left in ``out`` then.
    """
    backend = backend or Backend(floatX=plan.floatX)
    if backend.floatX != plan.floatX:
        raise ConfigError(f"{plan.source}: the parameters are {plan.floatX}, the backend compiles {backend.floatX}")
    with contextlib.ExitStack() as held:  # the run is written by this import only (a trainer refuses)
        run = rundir.create_run(out, plan.corpus, plan.config, data, floatX=plan.floatX, mode=backend.mode,
                                matmul_precision=backend.matmul_precision, hold=held)
        try:
            state = _write_checkpoints(run, plan, backend, on_event)
            writer = JsonLinesWriter(run.log_path)
            writer.write("import", source=str(plan.source.resolve()), legacy_name=plan.loop.name,
                         batch_seen=plan.loop.batch_seen, epoch_seen=plan.loop.epoch_seen, note=NO_OPTIMIZER)
            for record in plan.records:
                writer.write("monitor", **record)
        except BaseException:
            rundir.discard_run(run)
            raise
    return {"run": run, "state": state}


def _floatX(loop):
    dtypes = sorted({str(v.dtype) for v in loop.params.values()})
    if len(dtypes) != 1 or dtypes[0] not in FLOATX_OF:
        raise ConfigError(f"{loop.source}: parameters of dtype {', '.join(dtypes)}; expected all float32 or all "
                          "float64")
    return FLOATX_OF[dtypes[0]]


def legacy_records(loop, config):
    """The legacy monitoring history as monitoring records (``batch_seen``, ``epoch_seen``,
    ``imported``, the legacy channels), step i taken at update ``i * config.monitoring_freq``.

    Raises
    ------
    ConfigError
        When the log's steps do not fit ``monitoring_freq`` and the number of updates.
    """
    n = loop.n_monitoring_steps()
    if not n:
        return []
    done, freq = loop.batch_seen or 0, config.monitoring_freq
    if not (n - 1) * freq <= done < n * freq:
        raise ConfigError(f"{loop.source}: the legacy log holds {n} monitoring steps over {done} updates, which "
                          f"monitoring_freq={freq} does not fit; give the legacy run's monitoring_freq (--config "
                          f"or --set monitoring_freq=N)")
    per_epoch = done // loop.epoch_seen if loop.epoch_seen else None
    records = []
    for i in range(n):
        batch_seen = i * freq
        epoch_seen = min(batch_seen // per_epoch, loop.epoch_seen) if per_epoch else 0
        record = OrderedDict(batch_seen=batch_seen, epoch_seen=epoch_seen, imported=True)
        record.update((channel, values[i]) for channel, values in loop.monitor.items())
        records.append(record)
    return records


def _trainlog(loop, records, width):
    """A :class:`TrainLog` of the legacy counters, per-update outputs (rows padded with NaN to
    ``width``: the legacy log keeps the cost only) and the imported records."""
    trainlog = TrainLog()
    trainlog.batch_seen, trainlog.epoch_seen = loop.batch_seen or 0, loop.epoch_seen or 0
    rows = [[math.nan if v is None else v for v in row][:width] for row in loop.batches]
    rows = [row + [math.nan] * (width - len(row)) for row in rows]
    if len(rows) != trainlog.batch_seen:
        log.warning("%s: the legacy log holds %d per-update outputs for %d updates; they are not imported",
                    loop.source, len(rows), trainlog.batch_seen)
        rows = [[math.nan] * width for _ in range(trainlog.batch_seen)]
    times = [0.0 if t is None else t for t in loop.times]
    trainlog.batches = rows
    trainlog.times = times if len(times) == len(rows) else [0.0] * len(rows)
    trainlog.monitor = [OrderedDict(r) for r in records]
    return trainlog


def _set_state(training, loop):
    """Set the model's TBPTT variables from the pickle's state; returns their names."""
    variables = training.model.state
    done = []
    for name, value in loop.state.items():
        var = variables.get(name)
        if var is None:
            log.warning("%s: state variable %s has no counterpart in this model; not imported", loop.source, name)
            continue
        current = np.asarray(var.get_value())
        value = np.asarray(value)
        if value.shape != current.shape:
            raise ConfigError(f"{loop.source}: state variable {name} is {value.shape}, the model's is "
                              f"{current.shape}")
        if current.dtype.kind in "iu" and not np.array_equal(value, np.round(value)):
            raise ConfigError(f"{loop.source}: state variable {name} = {value} is not a whole number")
        var.set_value(value.astype(current.dtype))
        done.append(name)
    return done


def _write_checkpoints(run, plan, backend, on_event):
    """Build the run's training (compiles), put the legacy values in it and write ``last`` and ``best``."""
    from nips2015_vrnn.models.app import trainer

    loop = plan.loop
    model = run.build_model(backend)
    training = trainer.build_training(run, model, on_event=on_event)
    model.set_param_values(loop.params)
    state = _set_state(training, loop)
    training.trainlog = _trainlog(loop, plan.records, len(training.output_names))
    _set_best(training, plan.records, loop.batch_seen or 0)
    arrays, documents = training.state_arrays(), training.state_documents()
    source = str(plan.source.resolve())
    documents[NOTE] = {"imported_from": source, "legacy_name": loop.name, "batch_seen": training.trainlog.batch_seen,
                       "on_restore": f"imported from the legacy pickle {source}; {NO_OPTIMIZER}"}
    for which in ("last", "best"):
        write_checkpoint(run.checkpoint_root / which, arrays, documents)
    return state


def _set_best(training, records, batch_seen):
    """EarlyStopping's best: the imported parameters' own monitored value, when the log has one."""
    for ext in training.extension:
        if not isinstance(ext, EarlyStopping):
            continue
        mine = [r for r in records if r["batch_seen"] == batch_seen and batch_seen >= ext.start]
        value = mine[-1].get(ext.channel) if mine else None
        if isinstance(value, float) and math.isfinite(value):
            ext.load_state_dict({"best": value, "best_batch": batch_seen, "bad_steps": 0})
