"""Extensions of the training loop (the legacy ``cle.cle.train.ext``), one module per kind:
``base`` (Extension), ``gradient`` (clipping, weight norm, decay), ``monitoring`` (Monitoring,
EarlyStopping), ``schedule`` (learning rates), ``loop`` (EpochCount, Checkpoint).

An extension has a ``name`` saying where :class:`cle.train.Training` calls it and an
``exec(mainloop)`` method. Graph-time hooks change the training graph while it is built;
run-time hooks act between batches:

=========================== =========================================================
``ext_regularize_pre_grad`` before the gradients: may add terms to ``mainloop.cost``
``ext_grad``                on ``mainloop.grads`` (OrderedDict param -> gradient)
``ext_regularize_post_grad`` on ``mainloop.updates`` after the optimizer
``ext_monitor``             before every batch (Monitoring, EarlyStopping)
``ext_schedule``            after every batch and every epoch (learning-rate schedules)
``ext_save``                after every batch and at the end (Checkpoint)
``ext_term``                after every epoch (EpochCount)
=========================== =========================================================

Besides its hook, every extension receives each new monitoring record through
:meth:`Extension.on_record` (called by :meth:`cle.train.Training.record_monitor` right after
the record is made, in list order), in the spirit of Keras's callbacks: extensions that react to
a monitored quantity (EarlyStopping, a run's progress echo) share :class:`MonitoredQuantity`,
which answers "is this record an improvement" once for all of them.

Extensions with state that a resumed run needs (a schedule's initial rate, the best value
so far) return it from ``state_dict()`` as JSON-ready values.
"""
from cle.train.ext.base import Extension
from cle.train.ext.gradient import NAN_FALLBACK_SCALE, WEIGHT_NORM_EPSILON, GradientClipping, WeightDecay, WeightNorm
from cle.train.ext.loop import Checkpoint, EpochCount
from cle.train.ext.monitoring import EXPLOSION_THRESHOLD, EarlyStopping, MonitoredQuantity, Monitoring, MonitoringError
from cle.train.ext.schedule import LrExponentialDecay, LrLinearDecay

__all__ = [
    "Extension", "GradientClipping", "EpochCount", "Monitoring", "WeightNorm", "WeightDecay",
    "LrLinearDecay", "LrExponentialDecay", "MonitoredQuantity", "EarlyStopping", "Checkpoint", "MonitoringError",
    "EXPLOSION_THRESHOLD", "NAN_FALLBACK_SCALE", "WEIGHT_NORM_EPSILON",
]
