"""What every command shares: the user-error boundary, logging setup, progress display, options.

A :class:`cle.errors.UserError` (bad input, a run or checkpoint not as expected) is printed as one
line ``Error: ...`` with exit status 1. So are faults of the machine rather than of the code: an
OSError of :data:`MACHINE_FAULTS` (a full disk, a read-only or forbidden folder, an I/O error,
too many open files: the line names the file) and a MemoryError. Anything else is a bug and
keeps its traceback. ``--verbose`` (or ``VRNN_DEBUG=1``) also shows the traceback of these.
"""
import contextlib
import errno
import functools
import logging
import os
import signal
import sys
import threading
import warnings

import click

from cle.backend import DEFAULT_MODE_PREFERENCE, MODES
from cle.errors import UserError

__all__ = ["user_errors", "setup_logging", "verbose_option", "progress_bar", "EXIT_INTERRUPTED",
           "DEBUG_ENV", "MACHINE_FAULTS", "FiniteFloatRange", "FRACTION", "Signals", "sigterm_as_interrupt",
           "interruptible"]

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: ``VRNN_DEBUG=1`` shows tracebacks of user errors too.
DEBUG_ENV = "VRNN_DEBUG"


def _debug(kwargs):
    return bool(kwargs.get("verbose")) or os.environ.get(DEBUG_ENV, "") not in ("", "0")


#: errno values of OSErrors that are faults of the machine or its files, not of the code.
MACHINE_FAULTS = frozenset(getattr(errno, name) for name in (
    "ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EIO", "EFBIG", "EMFILE", "ENFILE", "ENOMEM")
    if hasattr(errno, name))


#: What to do about a machine fault, by errno.
_ADVICE = {**{getattr(errno, n): "; expected room on the disk: free some space" for n in ("ENOSPC", "EDQUOT", "EFBIG")
              if hasattr(errno, n)},
           **{getattr(errno, n): "; expected a folder this user can write" for n in ("EROFS", "EACCES", "EPERM")}}


def _one_line(text):
    return " ".join(line.strip() for line in str(text).strip().splitlines())


def user_errors(func):
    """Turn the :class:`UserError` of a command (and a machine fault: see the module doc) into
    a one-line message and exit status 1."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except UserError as err:
            if _debug(kwargs):
                raise
            raise click.ClickException(_one_line(err) or type(err).__name__) from None
        except OSError as err:
            if err.errno not in MACHINE_FAULTS or _debug(kwargs):
                raise
            where = f"{err.filename}: " if err.filename else ""
            raise click.ClickException(f"{where}{err.strerror or _one_line(err)}"
                                       f"{_ADVICE.get(err.errno, '')}") from None
        except MemoryError as err:
            if _debug(kwargs):
                raise
            detail = f" ({_one_line(err)})" if str(err) else ""
            raise click.ClickException(f"out of memory{detail}; expected a smaller model, batch or "
                                       "--n, or more memory") from None
    return wrapper


def setup_logging(verbose):
    """Library logging to stderr: warnings, or everything at INFO with ``--verbose``."""
    # PyTensor warns on every compile that it found no BLAS to link; it then uses numpy's
    # (the same notice comes as a warning and as a log record).
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(level)
    if not verbose:
        logging.getLogger("pytensor.tensor.blas").setLevel(logging.ERROR)


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange that also refuses nan and infinities (nan passes every comparison)."""

    def convert(self, value, param, ctx):
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


#: A fraction of a corpus held out: 0 <= x < 1, finite.
FRACTION = FiniteFloatRange(0, 1, max_open=True)


verbose_option = click.option("-v", "--verbose", is_flag=True,
                              help="Log library messages (INFO) and show tracebacks.")


class progress_bar:  # noqa: N801  (used like click.progressbar)
    """A click progress bar on stderr driven by ``callback(done, total)``.

    >>> with progress_bar('demo') as progress:
    ...     progress(1, 2); progress(2, 2)
    """

    def __init__(self, label, total=1):
        # Off a terminal click would print the bare label: show nothing there instead.
        self._bar = click.progressbar(length=total, label=label, file=sys.stderr,
                                      hidden=not sys.stderr.isatty())

    def __enter__(self):
        self._bar.__enter__()
        return self

    def __call__(self, done, total):
        self._bar.length = total
        self._bar.update(done - self._bar.pos)

    def __exit__(self, *exc):
        return self._bar.__exit__(*exc)


class Signals:
    """The SIGTERM that :func:`sigterm_as_interrupt` received, kept until it is acted on.

    The handler raises KeyboardInterrupt where the signal lands; when that is inside a callback
    whose exceptions Python only prints (JAX's garbage-collection callback, a ``__del__``), the
    interrupt is lost there. :meth:`check`, called at safe points (each compile stage, the end
    of compiling), raises it again, so a SIGTERM is never lost.
    """

    def __init__(self):
        self.received = None

    def check(self):
        """KeyboardInterrupt when a signal was received (and not yet acted on)."""
        if self.received is not None:
            name, self.received = self.received, None
            raise KeyboardInterrupt(name)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM acts as Ctrl-C for the ``with`` block (e.g. while compiling, before the training
    loop installs its own handler), so the same clean-up runs; yields the :class:`Signals`."""
    signals = Signals()
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return

    def handler(signum, frame):
        signals.received = "SIGTERM"  # kept: the interrupt below may be swallowed (see Signals)
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield signals
        signals.check()  # a SIGTERM swallowed after the last safe point
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def interruptible(what_is_left):
    """For a command's work: SIGTERM acts as Ctrl-C (:func:`sigterm_as_interrupt`), and an
    interrupt ends the command with EXIT_INTERRUPTED after saying ``what_is_left`` (the block's
    own clean-up, temporaries removed, has run by then)."""
    try:
        with sigterm_as_interrupt() as signals:
            yield signals
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted; {what_is_left}", err=True)
        sys.exit(EXIT_INTERRUPTED)


#: How ``--mode`` defaults for a new run, derived from ``cle.backend.DEFAULT_MODE_PREFERENCE``.
DEFAULT_MODE_HELP = "default: $VRNN_MODE, else " + ", else ".join(
    f"{name} when installed" if MODES[name][1] else name for name in DEFAULT_MODE_PREFERENCE)

#: ``--mode`` of the commands that use a trained run: its backend for this command only.
mode_option = click.option("--mode", type=click.Choice(list(MODES)), default=None,
                           help="PyTensor backend for this command (default: the run's, from its "
                                "config.json; checkpoints are backend-neutral).")


def compiled_line(what, function, seconds):
    """The line that says how a command got its compiled function: compiled, or loaded from the
    persistent store (``function.loaded``), and how long it took."""
    if getattr(function, "loaded", False):
        return f"loaded {what} from the compiled-function cache in {seconds:.1f} s"
    return f"compiled {what} in {seconds:.1f} s"
