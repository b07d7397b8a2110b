"""What the training loop remembers and shows: the TrainLog, the JSON-lines file, progress."""
import json
import logging
import math
import sys
import time
from collections import OrderedDict

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["TrainLog", "JsonLinesWriter", "Progress"]


class TrainLog:
    """Counters and histories of one training run.

    Attributes
    ----------
    batch_seen, epoch_seen : int
        Updates and completed epochs so far.
    batches : list of list of float
        The training function's outputs, one row per update.
    times : list of float
        Seconds per update.
    monitor : list of OrderedDict
        One record per monitoring step (``batch_seen``, ``epoch_seen``, channels...).
    nonfinite_batches : list of int
        Indices (0-based update numbers) of updates whose gradient norm was NaN or inf.
    """

    def __init__(self):
        self.batch_seen = 0
        self.epoch_seen = 0
        self.batches = []
        self.times = []
        self.monitor = []
        self.nonfinite_batches = []

    @property
    def channels(self):
        """OrderedDict channel -> list of its monitored values (in monitoring order)."""
        out = OrderedDict()
        for record in self.monitor:
            for key, value in record.items():
                out.setdefault(key, []).append(value)
        return out

    # Legacy attribute names (the legacy extensions read these).
    _batch_seen = property(lambda self: self.batch_seen)
    _epoch_seen = property(lambda self: self.epoch_seen)
    _batches = property(lambda self: self.batches)
    _times = property(lambda self: self.times)

    def to_arrays(self):
        """The per-update histories as arrays (for ``trainlog.npz``)."""
        width = len(self.batches[0]) if self.batches else 0
        batches = np.asarray(self.batches, dtype=np.float64).reshape(len(self.batches), width)
        return {"batches": batches,
                "times": np.asarray(self.times, dtype=np.float64)}

    def to_json(self):
        """Counters and monitoring records (for ``trainlog.json``)."""
        return {"batch_seen": self.batch_seen, "epoch_seen": self.epoch_seen,
                "monitor": [dict(r) for r in self.monitor],
                "nonfinite_batches": list(self.nonfinite_batches)}

    @classmethod
    def from_saved(cls, arrays, document):
        """Rebuild a TrainLog from :meth:`to_arrays` and :meth:`to_json` output."""
        trainlog = cls()
        trainlog.batch_seen = int(document["batch_seen"])
        trainlog.epoch_seen = int(document["epoch_seen"])
        trainlog.monitor = [OrderedDict(r) for r in document["monitor"]]
        trainlog.nonfinite_batches = [int(i) for i in document["nonfinite_batches"]]
        trainlog.batches = [list(map(float, row)) for row in arrays["batches"]]
        trainlog.times = [float(t) for t in arrays["times"]]
        if len(trainlog.batches) != trainlog.batch_seen:
            raise ValueError(f"train log holds {len(trainlog.batches)} batches but says "
                             f"batch_seen={trainlog.batch_seen}")
        return trainlog


def _jsonable(value):
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


class JsonLinesWriter:
    """Append one JSON object per line to ``path`` (flushed at once, so others can tail it).

    Non-finite floats are written as the strings "nan", "inf", "-inf" so every line is
    strict JSON.
    """

    def __init__(self, path):
        self.path = path

    def write(self, event, **fields):
        record = {"event": event, "time": time.time()}
        record.update((k, _jsonable(v)) for k, v in fields.items())
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


class Progress:
    """A one-line progress display on a terminal; silent when the stream is not a TTY."""

    def __init__(self, stream=None, enabled=None):
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.enabled = bool(enabled)

    def update(self, epoch, batch, nbatch, values):
        if not self.enabled:
            return
        shown = "  ".join(f"{k} {v:.4g}" for k, v in values.items())
        self.stream.write(f"\repoch {epoch + 1}  batch {batch}/{nbatch}  {shown}\033[K")
        self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
