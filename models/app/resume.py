"""Resuming and extending a run: what is left to do (decided before anything compiles), new
limits recorded in ``config.json``, and the log trimmed of monitoring rows the resume redoes.

A run stops at its limits: ``max_updates`` (config.json) and ``model.epoch`` (0: none). ``vrnn-train
--resume RUN`` continues to them; ``--max-updates N`` / ``--epochs N`` move them (past the old
ones: the run is extended) and are written back to ``config.json`` so a later plain resume keeps
them. When the checkpoint already reached a limit, :func:`plan_resume` raises a
:class:`~nips2015_vrnn.models.app.rundir.RunError` saying which and how to extend the run.

After a hard kill (power loss, SIGKILL) ``log.jsonl`` may hold monitoring rows written after
``checkpoints/last``; the resumed run redoes those steps, so :func:`trim_log` drops them first and
the log keeps one row per monitoring step.

Example
-------
>>> Limits(max_updates=40, epochs=2).describe()
'max_updates=40, epoch=2'
"""
import json
import os
from collections import namedtuple

from cle.train.checkpoint import read_checkpoint
from nips2015_vrnn.models.app.rundir import CONFIG_FILE, RunDir, RunError
from nips2015_vrnn.models.app.runlog import read_log

__all__ = ["Limits", "plan_resume", "trim_log", "RESUME_KEYS"]

#: Configuration keys a resume may change (``--set``): they decide neither the model nor the
#: optimizer's state, only how the run is monitored and saved.
RESUME_KEYS = ("monitoring_freq", "m_batch_size", "force_saving_freq", "patience")


class Limits(namedtuple("Limits", ["max_updates", "epochs"])):
    """A run's limits: ``max_updates`` (None: no limit) and ``epochs`` (0: no limit)."""

    def describe(self):
        parts = [] if self.max_updates is None else [f"max_updates={self.max_updates}"]
        return ", ".join(parts + [f"epoch={self.epochs}" if self.epochs else "no epoch limit"])


def _checkpoint_position(run):
    """(updates, completed epochs, mid_epoch, monitored updates) of ``checkpoints/last``."""
    _, _, documents = read_checkpoint(run.checkpoint_dir("last"))
    try:
        trainlog, loop = documents["trainlog"], documents["loop"]
        iterator = loop.get("iterator") or {}
        position, nbatch = int(iterator.get("next", 0)), int(iterator.get("nbatch", 0))
        epochs = int(trainlog["epoch_seen"]) + (nbatch > 0 and position == nbatch)  # pass ran out
        monitored = [int(r["batch_seen"]) for r in trainlog["monitor"]]
        return int(trainlog["batch_seen"]), epochs, 0 < position < nbatch, monitored
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise RunError(f"{run.checkpoint_dir('last')}: trainlog.json / loop.json do not say where "
                       f"the run stands ({err})") from None


def plan_resume(run, max_updates=None, epochs=None, overrides=None):
    """Check that the run has updates left under its (possibly new) limits; record new limits
    and the ``overrides`` of :data:`RESUME_KEYS`.

    Reads only ``checkpoints/last``'s JSON files: nothing is built or compiled.

    Parameters
    ----------
    run : RunDir
    max_updates, epochs : int or None
        New limits (None: keep the run's).
    overrides : dict or None
        New values of keys of :data:`RESUME_KEYS` (typed, as ``configure.parse_overrides`` gives).

    Returns
    -------
    (RunDir, Limits): the run (re-read when config.json changed) and the limits to train to.

    Raises
    ------
    RunError
        When the checkpoint already reached a limit (the message says how to extend the run), or
        an override names a key outside :data:`RESUME_KEYS`.
    """
    overrides = dict(overrides or {})
    fixed = sorted(set(overrides) - set(RESUME_KEYS))
    if fixed:
        raise RunError(f"--resume cannot change {', '.join(fixed)} (the model or the optimizer's "
                       f"state depends on it); it may --set {', '.join(RESUME_KEYS)}")
    if overrides:
        run.config.replace(**overrides)  # checked (ConfigError) before anything is written
    done, epochs_done, mid_epoch, _ = _checkpoint_position(run)
    limits = Limits(run.record.get("max_updates") if max_updates is None else max_updates,
                    run.config.epoch if epochs is None else epochs)
    if limits.max_updates is not None and done >= limits.max_updates:
        raise RunError(f"{run.path} has nothing left to do: it has {done} updates and its limit is "
                       f"max_updates={limits.max_updates}; give --max-updates above {done} to extend it")
    if limits.epochs and epochs_done >= limits.epochs and not mid_epoch:
        raise RunError(f"{run.path} has nothing left to do: it has finished {epochs_done} epochs "
                       f"(epoch={limits.epochs}); give --epochs above {epochs_done} to extend it")
    changed = {k: v for k, v in overrides.items() if run.record["model"].get(k) != v}
    if changed or (limits.max_updates, limits.epochs) != (run.record.get("max_updates"), run.config.epoch):
        _write_limits(run, limits, changed)
        run = RunDir(run.path)
    return run, limits


def _write_limits(run, limits, overrides):
    record = dict(run.record)
    record["max_updates"] = limits.max_updates
    record["model"] = dict(record["model"], epoch=limits.epochs, **overrides)
    path = run.path / CONFIG_FILE
    tmp = run.path / f".{CONFIG_FILE}.tmp"
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def trim_log(run):
    """Drop the monitoring rows of ``log.jsonl`` that ``checkpoints/last`` does not hold.

    They were written after the checkpoint (the run was killed before saving) and the resumed run
    writes them again. The log is rewritten to a temporary file and renamed; returns the number
    of rows dropped (0: the file is left untouched).
    """
    if not run.log_path.is_file():
        return 0
    _, _, _, monitored = _checkpoint_position(run)
    last = max(monitored, default=-1)
    lines = run.log_path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    records = read_log(run.log_path)
    if len(records) != len([line for line in lines if line.strip()]):
        # A partly written last line: read_log skipped it; keep only the lines it parsed.
        lines = [json.dumps(r) + "\n" for r in records]
    keep, dropped = [], 0
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        if record.get("event") == "monitor" and record.get("batch_seen", -1) > last:
            dropped += 1
            continue
        keep.append(line if line.endswith("\n") else line + "\n")
    if dropped or len(keep) != len(lines):
        tmp = run.log_path.with_name(f".{run.log_path.name}.tmp")
        tmp.write_text("".join(keep), encoding="utf-8")
        os.replace(tmp, run.log_path)
    return dropped
