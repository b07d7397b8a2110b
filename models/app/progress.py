"""What a command shows while the user waits: compile stages and training speed.

:class:`CompileProgress` shows the current compile stage and the elapsed time; :class:`TrainProgress`
shows updates/s, frames/s and the time to the next monitoring step and to the end of the run.
On a terminal both keep one line up to date (rewritten in place, about twice a second); when
stdout is not a terminal (a log file, a pipe, a batch job) they print a plain, complete line at a
steady interval (:data:`PLAIN_EVERY_S`) instead, never bare progress-bar labels.

Example
-------
>>> import io
>>> out = io.StringIO()
>>> with CompileProgress(stream=out, terminal=False) as progress:
...     progress.stage("the generator")
>>> out.getvalue().splitlines()[0]
'compiling the generator ...'
"""
import sys
import threading
import time
from collections import deque

import numpy as np

__all__ = ["CompileProgress", "TrainProgress", "PLAIN_EVERY_S", "frames_per_sequence", "format_seconds"]

#: Seconds between plain progress lines when stdout is not a terminal.
PLAIN_EVERY_S = 30.0
#: Seconds between rewrites of the progress line on a terminal.
TERMINAL_EVERY_S = 0.5
#: Updates the speed is averaged over.
SPEED_WINDOW = 20


def format_seconds(seconds):
    """``'42 s'``, ``'3 min 05 s'`` or ``'1 h 02 min'``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _is_terminal(stream):
    return hasattr(stream, "isatty") and stream.isatty()


class _Line:
    """One progress line: rewritten in place on a terminal, else printed every ``every`` s."""

    def __init__(self, stream, terminal, every):
        self.stream = stream or sys.stdout
        self.terminal = _is_terminal(self.stream) if terminal is None else bool(terminal)
        self.every = TERMINAL_EVERY_S if self.terminal else every
        self.last = None
        self.shown = False

    def show(self, text, force=False):
        now = time.perf_counter()
        if not force and self.last is not None and now - self.last < self.every:
            return
        self.last = now
        if self.terminal:
            self.stream.write(f"\r{text}\033[K")
            self.shown = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def end(self):
        """Leave the terminal line (the next output starts on a new line)."""
        if self.terminal and self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False


class CompileProgress:
    """Context manager: the compile stage and its elapsed time while the block runs.

    A background thread refreshes the line (the compile itself blocks the main thread); on a
    terminal the line is updated in place, otherwise a plain line is printed when a stage starts
    and every ``every`` seconds.

    Parameters
    ----------
    stream : file or None
        Default stdout.
    terminal : bool or None
        None: whether ``stream`` is a terminal.
    every : float
        Seconds between plain lines.
    """

    def __init__(self, stream=None, terminal=None, every=PLAIN_EVERY_S):
        self.line = _Line(stream, terminal, every)
        self.name = "graphs"
        self.began = self.stage_began = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = None
        self.stages = []

    def start(self):
        """Start the clock and the refreshing thread; returns self."""
        self.began = self.stage_began = time.perf_counter()
        self._thread = threading.Thread(target=self._tick, daemon=True, name="compile-progress")
        self._thread.start()
        return self

    __enter__ = start

    def stage(self, name):
        """A new stage begins (e.g. 'the training function')."""
        now = time.perf_counter()
        with self._lock:
            if self.stages:
                self.stages[-1] = (self.stages[-1][0], now - self.stage_began)
            self.name, self.stage_began = name, now
            self.stages.append((name, None))
            self.line.show(self._text(now), force=True)

    def _text(self, now):
        if self.line.terminal:
            return f"compiling {self.name} ... {now - self.stage_began:.0f} s (total {now - self.began:.0f} s)"
        if now - self.stage_began < 1:
            return f"compiling {self.name} ..."
        return (f"still compiling {self.name}: {format_seconds(now - self.stage_began)} "
                f"(total {format_seconds(now - self.began)})")

    def _tick(self):
        while not self._done.wait(min(self.line.every, TERMINAL_EVERY_S)):
            with self._lock:
                self.line.show(self._text(time.perf_counter()))

    def stop(self):
        """Stop the thread and clear the line (idempotent); ``seconds`` is the time since start."""
        if self._thread is None or self._done.is_set():
            return
        self._done.set()
        self._thread.join()
        now = time.perf_counter()
        with self._lock:
            if self.stages:
                self.stages[-1] = (self.stages[-1][0], now - self.stage_began)
            self.line.end()
        self.seconds = now - self.began

    def __exit__(self, *exc):
        self.stop()
        return False


def frames_per_sequence(data, probe=64):
    """Mean frames per sequence of a dataset, from its first ``probe`` sequences (mask or T)."""
    n = min(getattr(data, "batch_size", None) or probe, data.num_examples())  # one aligned batch
    batch = data.slices(0, n)
    if len(batch) > 1:
        return float(np.asarray(batch[1]).sum() / n)
    return float(np.asarray(batch[0]).shape[0])


class TrainProgress:
    """Training speed and time left, in the interface of :class:`cle.train.log.Progress`.

    ``update(...)`` is called by the training loop after every update; :meth:`attach` gives it
    the training (for the update count) before the loop starts.

    Parameters
    ----------
    monitoring_freq : int
    frames_per_update : float
        Frames one update trains on (batch_size x frames per sequence).
    total_updates : int or None
        Where the run stops (None: unknown).
    stream, terminal, every : as :class:`CompileProgress`
    """

    def __init__(self, monitoring_freq, frames_per_update=0.0, total_updates=None, stream=None,
                 terminal=None, every=PLAIN_EVERY_S):
        self.frames_per_update = frames_per_update
        self.monitoring_freq = monitoring_freq
        self.total_updates = total_updates
        self.line = _Line(stream, terminal, every)
        self.training = None
        self._stamps = deque(maxlen=SPEED_WINDOW + 1)

    def attach(self, training, total_updates=None, frames_per_update=None):
        """Follow ``training`` (its update count); set the run's end and frames per update."""
        self.training = training
        if total_updates is not None:
            self.total_updates = total_updates
        if frames_per_update is not None:
            self.frames_per_update = frames_per_update

    def clear(self):
        """Clear the terminal line before other output (it comes back with the next update)."""
        self.line.end()

    def update(self, epoch, batch, nbatch, values):
        if self.training is None:
            return
        now = time.perf_counter()
        self._stamps.append(now)
        if len(self._stamps) < 2:
            return
        self.line.show(self.text(self.training.trainlog.batch_seen, epoch, batch, nbatch, values))

    def speed(self):
        """Updates per second over the last :data:`SPEED_WINDOW` updates (wall clock)."""
        if len(self._stamps) < 2:
            return None
        return (len(self._stamps) - 1) / max(self._stamps[-1] - self._stamps[0], 1e-9)

    def text(self, done, epoch, batch, nbatch, values):
        rate = self.speed()
        total = f"/{self.total_updates}" if self.total_updates else ""
        parts = [f"update {done}{total} (epoch {epoch + 1}, batch {batch}/{nbatch})",
                 f"{rate:.2f} updates/s", f"{rate * self.frames_per_update:,.0f} frames/s"]
        to_monitor = self.monitoring_freq - done % self.monitoring_freq
        to_end = max(self.total_updates - done, 0) if self.total_updates else None
        if to_end is not None and to_end <= to_monitor:   # a run is always monitored at its end
            parts.append(f"monitoring and end in {format_seconds(to_end / rate)}")
        else:
            parts.append(f"next monitoring in {format_seconds(to_monitor / rate)}")
            if to_end is not None:
                parts.append(f"end in {format_seconds(to_end / rate)}")
        cost = next(iter(values.items()), None)
        if cost is not None:
            parts.append(f"{cost[0]} {cost[1]:.4g}")
        if "kl_term" in values:  # a KL near 0 is a collapsed posterior: shown as training goes
            parts.append(f"kl_term {values['kl_term']:.4g}")
        return ", ".join(parts)

    def close(self):
        self.line.end()
