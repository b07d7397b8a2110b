"""Extensions that change the training graph: gradient clipping, weight norm, weight decay."""
from collections import OrderedDict

import pytensor.tensor as pt

from cle.train.ext.base import Extension
from cle.utils import tolist

__all__ = ["GradientClipping", "WeightNorm", "WeightDecay", "NAN_FALLBACK_SCALE", "WEIGHT_NORM_EPSILON"]


#: WeightNorm divides by (norm + this) so a zero column stays zero (legacy 1e-7).
WEIGHT_NORM_EPSILON = 1e-7


#: With check_nan, a non-finite gradient is replaced by this fraction of the parameter (legacy 0.1).
NAN_FALLBACK_SCALE = 0.1


class GradientClipping(Extension):
    """Divide every gradient by ``batch_size``, then clip the global norm to ``scaler``::

        g <- g / batch_size                       (legacy quirk: the cost is already a mean)
        n  = sqrt(sum over all params of sum(g**2))
        g <- g * scaler / max(scaler, n)
        check_nan and n not finite:  g <- 0.1 * p

    Parameters
    ----------
    scaler : float > 0
    batch_size : int >= 1
    check_nan : bool
    divide_by_batch_size : bool
        The legacy division (True, default); False clips the gradients of the cost as they are.
    """

    name = "ext_grad"

    def __init__(self, scaler=5, batch_size=1, check_nan=0, divide_by_batch_size=True):
        if not scaler > 0:
            raise ValueError(f"GradientClipping: scaler must be > 0, got {scaler}")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"GradientClipping: batch_size must be an integer >= 1, got {batch_size}")
        self.scaler = scaler
        self.batch_size = int(batch_size)
        self.check_nan = bool(check_nan)
        self.divide_by_batch_size = bool(divide_by_batch_size)

    def exec(self, mainloop):
        grads = OrderedDict()
        for param, grad in mainloop.grads.items():
            grads[param] = grad / self.batch_size if self.divide_by_batch_size else grad
        norm_sq = sum((g ** 2).sum() for g in grads.values())
        norm = pt.sqrt(norm_sq)
        scale = self.scaler / pt.maximum(self.scaler, norm)
        not_finite = pt.or_(pt.isnan(norm_sq), pt.isinf(norm_sq))
        for param, grad in grads.items():
            clipped = grad * scale
            if self.check_nan:
                clipped = pt.switch(not_finite, NAN_FALLBACK_SCALE * param, clipped)
            grads[param] = clipped
        mainloop.grads = grads
        mainloop.grad_norm = norm


def _matches(name, keys, waivers):
    name = name or ""
    return any(k in name for k in keys) and not any(w in name for w in waivers)


class WeightNorm(Extension):
    """Cap the L2 norm of each column (``is_vector``) or of the whole matrix after every update::

        norm = sqrt(sum(p**2, axis=0))            (one per output unit)
        p   <- p * clip(norm, 0, weight_norm) / (1e-7 + norm)

    Applied to the updated value of every parameter whose name contains one of ``keys``
    and none of ``waivers`` (legacy: all ``W_*``). Only model parameters are touched, never the
    optimizer's slots.
    """

    name = "ext_regularize_post_grad"

    def __init__(self, weight_norm=1.9365, keys=("W",), waivers=(), is_vector=1):
        if not weight_norm > 0:
            raise ValueError(f"WeightNorm: weight_norm must be > 0, got {weight_norm}")
        self.weight_norm = weight_norm
        self.keys = tolist(keys) if not isinstance(keys, tuple) else list(keys)
        self.waivers = list(waivers)
        self.is_vector = bool(is_vector)

    def exec(self, mainloop):
        params = set(mainloop.model.params)
        for var, new_value in list(mainloop.updates.items()):
            if var not in params or not _matches(var.name, self.keys, self.waivers):
                continue
            if self.is_vector:
                norm = pt.sqrt(pt.sqr(new_value).sum(axis=0))
            else:
                norm = pt.sqrt(pt.sqr(new_value).sum())
            desired = pt.clip(norm, 0, self.weight_norm)
            mainloop.updates[var] = new_value * (desired / (WEIGHT_NORM_EPSILON + norm))


class WeightDecay(Extension):
    """Add ``lambd / 2 * sum(p**2)`` to the cost for every parameter named by ``keys``."""

    name = "ext_regularize_pre_grad"

    def __init__(self, lambd=0.0002, keys=("W",), waivers=()):
        if not lambd >= 0:
            raise ValueError(f"WeightDecay: lambd must be >= 0, got {lambd}")
        self.lambd = lambd
        self.keys = list(tolist(keys) if not isinstance(keys, tuple) else keys)
        self.waivers = list(waivers)

    def exec(self, mainloop):
        for param in mainloop.model.params:
            if _matches(param.name, self.keys, self.waivers):
                mainloop.cost = mainloop.cost + self.lambd * 0.5 * pt.sqr(param).sum()
