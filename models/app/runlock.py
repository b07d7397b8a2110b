"""One writer per folder: OS file locks, released when the holding process ends.

A trainer holds ``<run>/.lock`` (:func:`run_lock`); a sweep's driver holds ``<sweep>/.lock``; a
command writing one output of a run (a ``samples/<checkpoint>-seed<seed>`` folder, an
``eval_<split>_<checkpoint>.json``) holds ``.<name>.lock`` beside it while it writes
(:func:`output_lock`; the file is removed after), so two
samplers of one run and seed refuse instead of mixing their files, while sampling beside a
running trainer stays possible.

Each lock is ``flock(LOCK_EX | LOCK_NB)`` on its file: the kernel releases it when the holder
exits in any way (even SIGKILL), so a stale lock never needs removing by hand. The file holds the
holder's pid, for the message a second process gets; :func:`lock_holder` asks without taking it.

Example
-------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as run, run_lock(run):
...     lock_holder(run) == os.getpid()
True
"""
import contextlib
import fcntl
import os
from pathlib import Path

from nips2015_vrnn.models.app.rundir import LOCK_FILE, RunError

__all__ = ["run_lock", "output_lock", "folder_lock", "lock_holder", "RunLockedError", "LOCK_FILE"]


class RunLockedError(RunError):
    """Another process holds the lock of a run, a sweep or an output."""


def _holder_pid(fd):
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


#: Locks this process holds: real path of the lock file -> how many blocks hold it (re-entrant:
#: a command that locks its run before calling a library function that locks it too).
_HELD = {}


@contextlib.contextmanager
def _locked(lock_path, refusal, remove=False):
    """Hold the flock of ``lock_path`` for the block; RunLockedError ``refusal(pid)`` when held.

    ``remove``: the lock file is deleted when released (while still held). A process that
    opened it before then finds, once it holds the lock, that the name no longer leads to its
    file, and starts again with a new one; so the lock stays exclusive.
    """
    key = os.path.realpath(lock_path)
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield Path(lock_path)
        finally:
            _HELD[key] -= 1
        return
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as err:
            raise RunError(f"{lock_path}: cannot make the lock file ({err.strerror}); expected a "
                           f"folder this user can write") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder_pid(fd)
            os.close(fd)
            raise RunLockedError(refusal(pid or "?")) from None
        if not remove or _same_file(fd, lock_path):
            break
        os.close(fd)  # its holder removed it meanwhile: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD[key] = 1
        yield Path(lock_path)
    finally:
        if _HELD.get(key) == 1:
            del _HELD[key]
        if remove:
            with contextlib.suppress(OSError):
                os.unlink(lock_path)
        os.close(fd)  # releases the lock


def _same_file(fd, path):
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)


def run_lock(run_path):
    """Context manager: hold the lock of the run directory ``run_path`` for the ``with`` block.

    Raises
    ------
    RunLockedError
        When another process holds it (names the run and that process's pid).
    """
    return _locked(Path(run_path) / LOCK_FILE, lambda pid: (
        f"{Path(run_path)}: another process (pid {pid}) is training this run; wait for it to end, "
        "or stop it, before training or resuming it again"))


def folder_lock(path, what):
    """Context manager: hold ``path/.lock`` (a sweep directory, ...), ``what`` naming the holder
    in the refusal (e.g. 'vrnn-sweep')."""
    return _locked(Path(path) / LOCK_FILE, lambda pid: (
        f"{Path(path)}: another {what} (pid {pid}) is using this folder; wait for it to end, or "
        "stop it, first"))


def output_lock(path):
    """Context manager: hold ``.<name>.lock`` beside the output ``path`` (a file or folder)."""
    path = Path(path)
    return _locked(path.parent / f".{path.name}.lock", lambda pid: (
        f"{path}: another process (pid {pid}) is writing it; wait for it to end, or choose "
        "another seed / checkpoint"), remove=True)


def lock_holder(path):
    """The pid of the process holding ``path/.lock`` (a run or sweep directory), or None when no
    process holds it (the lock is not taken)."""
    if os.path.realpath(Path(path) / LOCK_FILE) in _HELD:
        return os.getpid()
    try:
        fd = os.open(Path(path) / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
