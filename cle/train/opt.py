"""Optimizers: turn gradients into shared-variable updates (the legacy ``cle.cle.train.opt``).

Every optimizer takes ``lr`` (a number or a shared variable; schedules change its value),
builds its updates with :meth:`Optimizer.get_updates` from an OrderedDict param -> gradient,
and exposes its state (learning rate, moments, counter) by name in :attr:`Optimizer.state`
so checkpoints can save and restore it. Update order follows the legacy code: per parameter
its slots then the parameter, then the counter (Adam).
"""
import logging
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt

from cle.utils import sharedX

log = logging.getLogger(__name__)

__all__ = ["Optimizer", "Adam", "Adam2", "RMSProp", "Momentum"]


class Optimizer:
    """Base class: the learning rate, per-parameter scalers and the state registry.

    Parameters
    ----------
    lr : float or shared scalar
        Learning rate; stored as a shared floatX scalar named ``lr``.
    lr_scalers : dict parameter name -> float, optional
        Multiplies the step of the named parameters (absent: 1).
    """

    def __init__(self, lr, lr_scalers=None):
        if isinstance(lr, pytensor.compile.sharedvalue.SharedVariable):
            self.lr = lr
        else:
            if not np.isscalar(lr) or not lr > 0:
                raise ValueError(f"{type(self).__name__}: lr must be a positive number, got {lr!r}")
            self.lr = sharedX(lr, name="lr")
        self.lr_scalers = dict(lr_scalers or {})
        self.state = OrderedDict([("lr", self.lr)])

    def get_updates(self, grads):
        """OrderedDict shared -> new value for one step, from OrderedDict param -> gradient."""
        raise NotImplementedError

    def settings(self):
        """The hyper-parameters as a dict of floats (for logs and checkpoints)."""
        return {"lr": float(self.lr.get_value())}

    def monitor(self):
        """Log the settings (the legacy monitoring hook); returns them as a dict."""
        values = self.settings()
        for key, value in values.items():
            log.info("\t%s: %g", key, value)
        return values

    def _slot(self, kind, param):
        """A zero shared variable shaped like ``param``, registered in the state as ``kind__name``.

        A second graph of the same parameters (another input shape) gets the same slot.
        """
        name = f"{kind}__{param.name or len(self.state)}"
        owners = self.__dict__.setdefault("_slot_owners", {})
        if name in self.state:
            if owners.get(name, param) is not param:
                raise ValueError(f"{type(self).__name__}: two parameters share the name {param.name!r}")
            owners[name] = param
            return self.state[name]
        var = pytensor.shared(np.zeros_like(param.get_value()), name=name)
        self.state[name] = var
        owners[name] = param
        return var

    def _counter(self):
        """The step counter (a shared floatX scalar, 0 before the first step): the state's, when a
        graph of the same parameters made it already."""
        counter = self.state.get("counter")
        return sharedX(0.0, name="counter") if counter is None else counter

    def _scaler(self, param):
        return self.lr_scalers.get(param.name, 1.0)


class Adam(Optimizer):
    """Adam as the legacy code wrote it (with the decayed beta1 of the first Adam paper draft).

    With the counter i (0 before the first step)::

        b1_i  = b1 * lambd**i
        m     = b1_i m + (1 - b1_i) g
        v     = b2 v + (1 - b2) g**2
        m_hat = m / (1 - b1**(i + 1)),   v_hat = v / (1 - b2**(i + 1))
        p    -= lr * m_hat / (sqrt(v_hat) + eps)
        i    += 1

    Parameters
    ----------
    lr : float or shared scalar
    b1, b2 : float in (0, 1)
    lambd : float in (0, 1]
        Decay of b1 per step (1 - 1e-8 in the legacy code).
    eps : float > 0
    """

    def __init__(self, lr, b1=0.9, b2=0.999, lambd=1 - 1e-8, eps=1e-8, lr_scalers=None):
        super().__init__(lr, lr_scalers)
        _check_unit("Adam", b1=b1, b2=b2)
        if not 0 < lambd <= 1 or not eps > 0:
            raise ValueError(f"Adam: need 0 < lambd <= 1 and eps > 0, got lambd={lambd}, eps={eps}")
        self.b1, self.b2, self.lambd, self.eps = b1, b2, lambd, eps
        self.counter = None

    def get_updates(self, grads):
        updates = OrderedDict()
        counter = self._counter()
        b1_i = self.b1 * self.lambd ** counter
        m_correction = 1.0 - self.b1 ** (counter + 1)
        v_correction = 1.0 - self.b2 ** (counter + 1)
        for param, grad in grads.items():
            m = self._slot("adam_m", param)
            v = self._slot("adam_v", param)
            m_t = b1_i * m + (1.0 - b1_i) * grad
            v_t = self.b2 * v + (1.0 - self.b2) * grad ** 2
            step = (m_t / m_correction) / (pt.sqrt(v_t / v_correction) + self.eps)
            updates[m] = m_t
            updates[v] = v_t
            updates[param] = param - self._scaler(param) * self.lr * step
        updates[counter] = counter + 1.0
        self.counter = counter
        self.state["counter"] = counter
        return updates

    def settings(self):
        return {**super().settings(), "b1": self.b1, "b2": self.b2}


class Adam2(Optimizer):
    """Adam in the final paper's efficient form (no beta1 decay), t = number of steps taken::

        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g**2
        p -= lr * sqrt(1 - b2**t) / (1 - b1**t) * m / (sqrt(v) + eps)
    """

    def __init__(self, lr, b1=0.9, b2=0.999, eps=1e-8, lr_scalers=None):
        super().__init__(lr, lr_scalers)
        _check_unit("Adam2", b1=b1, b2=b2)
        self.b1, self.b2, self.eps = b1, b2, eps
        self.counter = None

    def get_updates(self, grads):
        updates = OrderedDict()
        counter = self._counter()
        t = counter + 1.0
        lr_t = self.lr * pt.sqrt(1.0 - self.b2 ** t) / (1.0 - self.b1 ** t)
        for param, grad in grads.items():
            m = self._slot("adam_m", param)
            v = self._slot("adam_v", param)
            m_t = self.b1 * m + (1.0 - self.b1) * grad
            v_t = self.b2 * v + (1.0 - self.b2) * grad ** 2
            updates[m] = m_t
            updates[v] = v_t
            updates[param] = param - self._scaler(param) * lr_t * m_t / (pt.sqrt(v_t) + self.eps)
        updates[counter] = t
        self.counter = counter
        self.state["counter"] = counter
        return updates

    def settings(self):
        return {**super().settings(), "b1": self.b1, "b2": self.b2}


class RMSProp(Optimizer):
    """RMSProp with momentum, centred (Graves 2013), as in the legacy code::

        a = sec_mom a + (1 - sec_mom) g,      r = sec_mom r + (1 - sec_mom) g**2
        u = mom u - lr * g / sqrt(r - a**2 + e)
        p += u
    """

    def __init__(self, lr, mom=0.9, sec_mom=0.95, e=1e-4, lr_scalers=None):
        super().__init__(lr, lr_scalers)
        _check_unit("RMSProp", sec_mom=sec_mom)
        if not 0 <= mom < 1 or not e > 0:
            raise ValueError(f"RMSProp: need 0 <= mom < 1 and e > 0, got mom={mom}, e={e}")
        self.mom, self.sec_mom, self.e = mom, sec_mom, e

    def get_updates(self, grads):
        updates = OrderedDict()
        for param, grad in grads.items():
            avg = self._slot("rms_avg", param)
            sqr = self._slot("rms_sqr", param)
            velocity = self._slot("rms_u", param)
            avg_t = self.sec_mom * avg + (1.0 - self.sec_mom) * grad
            sqr_t = self.sec_mom * sqr + (1.0 - self.sec_mom) * grad ** 2
            direction = grad / pt.sqrt(sqr_t - avg_t ** 2 + self.e)
            velocity_t = self.mom * velocity - self._scaler(param) * self.lr * direction
            updates[avg] = avg_t
            updates[sqr] = sqr_t
            updates[velocity] = velocity_t
            updates[param] = param + velocity_t
        return updates

    def settings(self):
        return {**super().settings(), "mom": self.mom, "sec_mom": self.sec_mom}


class Momentum(Optimizer):
    """SGD with (optionally Nesterov) momentum::

        u_t = mom u - lr g
        nesterov: u_t = mom u_t - lr g      (the look-ahead step)
        p += u_t

    The legacy code stores the look-ahead ``u_t`` as the velocity when ``nesterov`` is on
    (``store_lookahead=True``, the default); ``store_lookahead=False`` stores
    ``mom u - lr g`` instead (the usual Nesterov bookkeeping) while ``p`` moves the same way.
    """

    def __init__(self, lr, mom=0.9, nesterov=False, store_lookahead=True, lr_scalers=None):
        super().__init__(lr, lr_scalers)
        if not 0 <= mom < 1:
            raise ValueError(f"Momentum: mom must be in [0, 1), got {mom}")
        self.mom, self.nesterov, self.store_lookahead = mom, bool(nesterov), bool(store_lookahead)

    def get_updates(self, grads):
        updates = OrderedDict()
        for param, grad in grads.items():
            velocity = self._slot("mom_u", param)
            step = self._scaler(param) * self.lr * grad
            velocity_t = self.mom * velocity - step
            move = velocity_t
            if self.nesterov:
                move = self.mom * velocity_t - step
            updates[velocity] = move if self.store_lookahead else velocity_t
            updates[param] = param + move
        return updates

    def settings(self):
        return {**super().settings(), "mom": self.mom}


def _check_unit(owner, **values):
    for key, value in values.items():
        if not 0 < value < 1:
            raise ValueError(f"{owner}: {key} must be in (0, 1), got {value}")
