"""One trainer per run directory: an OS file lock on ``<run>/.lock``, released when the process ends.

The lock is ``flock(LOCK_EX | LOCK_NB)`` on the lock file: the kernel releases it when the holder
exits in any way (even SIGKILL), so a stale lock never needs removing by hand. The file holds the
holder's pid, for the message a second trainer gets.

Example
-------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as run, run_lock(run):
...     pass
"""
import contextlib
import fcntl
import os
from pathlib import Path

from nips2015_vrnn.models.app.rundir import LOCK_FILE, RunError

__all__ = ["run_lock", "RunLockedError", "LOCK_FILE"]


class RunLockedError(RunError):
    """Another process holds the run directory's lock."""


@contextlib.contextmanager
def run_lock(run_path):
    """Hold the lock of the run directory ``run_path`` for the ``with`` block.

    Raises
    ------
    RunLockedError
        When another process holds it (names the run and that process's pid).
    """
    path = Path(run_path) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise RunLockedError(f"{Path(run_path)}: another process (pid {holder}) is training this run; "
                           "wait for it to end, or stop it, before training or resuming it "
                           "again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock
