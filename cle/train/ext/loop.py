"""Extensions of the loop itself: when to stop (EpochCount) and when to save (Checkpoint)."""
from cle.train.ext.base import Extension

__all__ = ["EpochCount", "Checkpoint"]


class EpochCount(Extension):
    """Stop after ``num_epoch`` epochs (checked at the end of every epoch); 0: no epoch limit
    (another limit, e.g. ``max_updates``, ends the run). The stop request names the limit."""

    name = "ext_term"

    def __init__(self, num_epoch):
        if int(num_epoch) != num_epoch or num_epoch < 0:
            raise ValueError(f"EpochCount: num_epoch must be an integer >= 0 (0: no limit), got {num_epoch}")
        self.num_epoch = int(num_epoch)

    def exec(self, mainloop):
        if self.num_epoch and mainloop.trainlog.epoch_seen >= self.num_epoch:
            mainloop.request_stop(f"epoch={self.num_epoch} reached ({mainloop.trainlog.epoch_seen} epochs)")
            mainloop.endloop = 1


class Checkpoint(Extension):
    """Write the training state to ``<path>/last`` every ``freq`` updates and at the end.

    Replaces the legacy Picklize: the checkpoint is a directory of ``.npz`` and JSON files
    (see :mod:`cle.train.checkpoint`), written atomically. ``path`` None uses the
    training's ``run_dir/checkpoints``.
    """

    name = "ext_save"

    def __init__(self, path=None, freq=1000):
        if int(freq) != freq or freq < 1:
            raise ValueError(f"Checkpoint: freq must be an integer >= 1, got {freq}")
        self.path = path
        self.freq = int(freq)

    def exec(self, mainloop):
        batch_seen = mainloop.trainlog.batch_seen
        if mainloop.endloop or (batch_seen > 0 and batch_seen % self.freq == 0):
            mainloop.save_checkpoint(which="last")
