"""A run logged to an experiment tracker as well as to ``log.jsonl``: TensorBoard event files.

``vrnn-train --log-to tensorboard`` writes ``RUN_DIR/tensorboard/events.out.tfevents.*`` through
tensorboardX (the ``tensorboard`` extra: it needs neither TensorFlow nor PyTorch): every monitored
channel of each monitoring record under its own name at step ``batch_seen`` (``valid_nll_upper_bound``,
``nll_upper_bound`` (the training means), ``opt_lr`` ...), and the training cost's channels of every
update under ``update/<channel>``. A resumed run writes a new event file into the same folder;
TensorBoard shows them as one run (``tensorboard --logdir RUN_DIR/tensorboard``).

:func:`read_scalars` reads the scalars back (no TensorBoard needed).
"""
import struct
from pathlib import Path

from cle.errors import UserError

__all__ = ["LOG_TARGETS", "TENSORBOARD_DIR", "open_loggers", "TensorBoardLog", "read_scalars"]

#: The trackers ``--log-to`` knows.
LOG_TARGETS = ("tensorboard",)
#: The folder of a run's TensorBoard event files.
TENSORBOARD_DIR = "tensorboard"
#: Record fields that are the record's position, not channels.
_POSITION = ("batch_seen", "epoch_seen")


def open_loggers(run_dir, targets):
    """One logger per name of ``targets`` (of :data:`LOG_TARGETS`) for the run in ``run_dir``."""
    loggers = []
    for target in targets:
        if target not in LOG_TARGETS:
            raise UserError(f"--log-to {target!r}: expected one of {', '.join(LOG_TARGETS)}")
        loggers.append(TensorBoardLog(Path(run_dir) / TENSORBOARD_DIR))
    return loggers


class TensorBoardLog:
    """Scalars of a run into a TensorBoard event file in ``folder``.

    Parameters
    ----------
    folder : str or Path
    """

    def __init__(self, folder):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise UserError("--log-to tensorboard needs tensorboardX: pip install -e \".[tensorboard]\" "
                            "(or pip install tensorboardX)") from None
        self.folder = Path(folder)
        self.writer = SummaryWriter(logdir=str(self.folder))

    def monitor(self, record):
        """Every numeric channel of a monitoring record, at step ``batch_seen``."""
        step = int(record["batch_seen"])
        for name, value in record.items():
            if name not in _POSITION and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(name, float(value), step)
        self.writer.flush()

    def update(self, step, values):
        """The training function's outputs of update ``step`` (name -> value)."""
        for name, value in values.items():
            self.writer.add_scalar(f"update/{name}", float(value), int(step))

    def close(self):
        self.writer.close()


def read_scalars(folder):
    """The scalars of every event file in ``folder``: {tag: [(step, value), ...]} in file order."""
    from tensorboardX.proto import event_pb2

    scalars = {}
    for path in sorted(Path(folder).glob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            record = data[at + 12:at + 12 + length]  # after the length and its CRC
            at += 12 + length + 4                      # the record and its CRC
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((int(event.step), float(value.simple_value)))
    return scalars
