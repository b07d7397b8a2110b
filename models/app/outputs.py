"""Where sampling and evaluation write in a run directory, and what they say about a checkpoint.

Every ``vrnn-sample`` call writes into its own folder ``samples/<checkpoint>-seed<seed>/``;
every ``vrnn-eval`` into ``eval_<split>_<checkpoint>.json``. An existing output is never
overwritten silently: :func:`claim` refuses it unless asked to replace it.

Example
-------
>>> from pathlib import Path
>>> samples_name('best', 3), eval_name('test', 'last')
('best-seed3', 'eval_test_last.json')
"""
import json
import shutil

from nips2015_vrnn.models.app.rundir import RunError

__all__ = ["samples_name", "eval_name", "samples_dir", "eval_path", "claim", "checkpoint_updates",
           "untrained_warning"]


def samples_name(checkpoint, seed):
    """Folder name of one sampling call: ``<checkpoint>-seed<seed>``."""
    return f"{checkpoint}-seed{seed}"


def eval_name(split, checkpoint):
    """File name of one evaluation: ``eval_<split>_<checkpoint>.json``."""
    return f"eval_{split}_{checkpoint}.json"


def samples_dir(run, checkpoint, seed):
    """``RUN_DIR/samples/<checkpoint>-seed<seed>``."""
    return run.samples_dir / samples_name(checkpoint, seed)


def eval_path(run, split, checkpoint):
    """``RUN_DIR/eval_<split>_<checkpoint>.json``."""
    return run.path / eval_name(split, checkpoint)


def claim(path, force=False, option="--force"):
    """Make sure writing ``path`` (a file or a folder) overwrites nothing unasked.

    With ``force`` an existing ``path`` is removed; without it a :class:`RunError` names it and
    ``option``. A missing or empty folder is fine.
    """
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return path
    if not force:
        raise RunError(f"{path} already exists; give {option} to replace it (or another seed / "
                       f"checkpoint)")
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    return path


def checkpoint_updates(run, checkpoint):
    """The number of updates the checkpoint ``checkpoints/<checkpoint>`` was saved at (None when
    its trainlog.json does not say)."""
    path = run.checkpoint_dir(checkpoint) / "trainlog.json"
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["batch_seen"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def untrained_warning(run, checkpoint):
    """A warning when ``checkpoints/<checkpoint>`` holds the untrained model (update 0), else None."""
    if checkpoint_updates(run, checkpoint) != 0:
        return None
    return (f"Warning: checkpoints/{checkpoint} of {run.path} is from update 0: the untrained "
            f"model (train the run further: vrnn-train --resume {run.path} --max-updates N)")
