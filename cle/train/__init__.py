"""The training loop (the legacy ``cle.cle.train``): :class:`Training`, optimizers in
:mod:`cle.train.opt`, extensions in :mod:`cle.train.ext`, checkpoints in
:mod:`cle.train.checkpoint`."""
from cle.train.checkpoint import CheckpointError
from cle.train.log import TrainLog
from cle.train.training import Training, TrainingInterrupted

__all__ = ["Training", "TrainingInterrupted", "TrainLog", "CheckpointError"]
