"""Where sampling and evaluation write in a run directory, and what they say about a checkpoint.

Every ``vrnn-sample`` call writes into its own folder ``samples/<checkpoint>-seed<seed>/`` (with
``-bias<b>`` after it when sampled with a bias b != 0);
every ``vrnn-eval`` into ``eval_<split>_<checkpoint>.json`` (``eval_<split>_<checkpoint>_fivo<K>-<resample>.json``
when it also ran FIVO's particle filter with K particles). An existing output is never
overwritten silently: :func:`claim` refuses it unless asked to replace it. Outputs stay inside the
run directory: a symbolic link in their place (``samples`` or the output itself) is refused, never
followed or deleted through. A folder of samples is written by :func:`staged_folder`: under the
output's lock (a second sampler of the same checkpoint and seed refuses), into a temporary folder
that replaces the output only when complete, so an interrupted or failed call leaves the earlier
samples as they were and no half-written folder.

Example
-------
>>> from pathlib import Path
>>> samples_name('best', 3), samples_name('best', 0, bias=1.5), eval_name('test', 'last')
('best-seed3', 'best-seed0-bias1.5', 'eval_test_last.json')
>>> eval_name('test', 'best', particles=40, resample='ess')
'eval_test_best_fivo40-ess.json'
"""
import contextlib
import glob
import json
import os
import shutil
from pathlib import Path

from nips2015_vrnn.models.app.rundir import RunError

__all__ = ["samples_name", "eval_name", "samples_dir", "eval_path", "claim", "staged_folder",
           "output_lock", "checkpoint_updates", "untrained_warning"]


def samples_name(checkpoint, seed, bias=0.0):
    """Folder name of one sampling call: ``<checkpoint>-seed<seed>``, then ``-bias<bias>``
    (shortest form, ``%g``) when the sampling bias is not 0."""
    return f"{checkpoint}-seed{seed}" + (f"-bias{bias:g}" if bias else "")


def eval_name(split, checkpoint, particles=None, resample=None):
    """File name of one evaluation: ``eval_<split>_<checkpoint>.json``, or with FIVO (``particles``
    K, ``resample`` its criterion) ``eval_<split>_<checkpoint>_fivo<K>-<resample>.json``: evaluations
    with other estimator settings never replace each other."""
    fivo = f"_fivo{int(particles)}-{resample}" if particles else ""
    return f"eval_{split}_{checkpoint}{fivo}.json"


def samples_dir(run, checkpoint, seed, bias=0.0):
    """``RUN_DIR/samples/<checkpoint>-seed<seed>[-bias<bias>]`` (see :func:`samples_name`)."""
    return run.samples_dir / samples_name(checkpoint, seed, bias)


def output_lock(path):
    """Context manager: hold the lock of the output ``path`` (see
    :func:`~nips2015_vrnn.models.app.runlock.output_lock`); a symbolic link ``path`` is refused."""
    from nips2015_vrnn.models.app.runlock import output_lock as lock

    _refuse_links(Path(path))
    return lock(path)


def eval_path(run, split, checkpoint, particles=None, resample=None):
    """``RUN_DIR/`` :func:`eval_name` ``(split, checkpoint, particles, resample)``."""
    return run.path / eval_name(split, checkpoint, particles, resample)


def claim(path, force=False, option="--force"):
    """Make sure writing ``path`` (a file or a folder) overwrites nothing unasked.

    With ``force`` an existing ``path`` is removed; without it a :class:`RunError` names it and
    ``option``. A missing or empty folder is fine.
    """
    _refuse_links(path)
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


def _refuse_links(path):
    """RunError when ``path`` or its folder (``samples``) is a symbolic link."""
    for candidate in (path.parent, path):
        if candidate.is_symlink():
            raise RunError(f"{candidate} is a symbolic link (to {os.readlink(candidate)}); expected "
                           f"a real folder or file inside the run directory: remove the link")


def _write_error(path, err):
    where = err.filename or path
    return RunError(f"{where}: cannot write ({err.strerror or err}); expected a folder with space "
                    f"this user can write (nothing was written to {path})")


@contextlib.contextmanager
def staged_folder(path, force=False, option="--force"):
    """Write the output folder ``path`` (``samples/<checkpoint>-seed<seed>``) whole or not at all.

    Under the output's lock (:func:`~nips2015_vrnn.models.app.runlock.output_lock`): refuses a
    symbolic link and an existing non-empty ``path`` unless ``force`` (:func:`claim`, before
    anything is computed); yields a temporary sibling folder to write into; when the block ends
    normally it replaces ``path`` (an earlier folder is removed only then). On any exception the
    temporary folder is removed and ``path`` is left as it was; an OSError (disk full, read-only
    folder) becomes a RunError naming the folder.
    """
    path = Path(path)
    _refuse_links(path)
    try:
        path.parent.mkdir(exist_ok=True)
    except OSError as err:
        raise _write_error(path.parent, err) from None
    from nips2015_vrnn.models.app.runlock import output_lock as lock

    with lock(path):
        if not force:
            claim(path, force, option)
        _refuse_links(path)
        staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        try:
            # Under the lock, any temporary of this output is a killed writer's: removed.
            for leftover in path.parent.glob(f".{glob.escape(path.name)}.*-*"):
                if leftover.name.split(".")[-1].split("-")[0] not in ("tmp", "old"):
                    continue
                if leftover.is_symlink() or leftover.is_file():
                    leftover.unlink()
                elif leftover.exists():
                    shutil.rmtree(leftover)
            staging.mkdir()
            yield staging
            replaced = path.exists()
            if replaced:
                os.rename(path, old)
            try:
                os.rename(staging, path)
            except OSError:
                if replaced:
                    os.rename(old, path)  # the earlier folder back in place
                raise
        except OSError as err:
            raise _write_error(path, err) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)


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
