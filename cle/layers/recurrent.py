"""Recurrent layers (the legacy ``cle.cle.layers.recurrent``): one step at a time, for ``scan``.

Every recurrent layer is called once per time step inside ``pytensor.scan``::

    s_t = layer.fprop([[x_1_t, ..., x_P_t], [s_tm1]], params)

The input part ``sum_p x_p @ W_p + b`` does not depend on the state, so a model may compute it
for all frames before the scan with :meth:`RecurrentLayer.input_preact` (3-D inputs work) and
call :meth:`RecurrentLayer.step_from_preact` inside the scan; the result is the same.

Optional ``mask`` (B,) in the step: where the mask is 0 the state is carried over unchanged
(padded steps of variable-length batches).
"""
from collections import OrderedDict

import numpy as np
import pytensor.tensor as pt

from cle.backend import floatX
from cle.layers import InitCell, StemCell, leading_columns

__all__ = ["RecurrentLayer", "SimpleRecurrent", "LSTM", "GRU"]


class RecurrentLayer(StemCell):
    """Base of the recurrent layers: input weights per parent, a recurrent weight, a bias.

    Parameters
    ----------
    name : str
    parent : list of str
        Labels of the per-step inputs (they name the input weights ``W_<parent>__<name>``).
    parent_dim : list of int
    nout : int
        Number of hidden units n.
    unit : str
        The unit of the candidate / hidden activation (default tanh).
    init_W, init_U, init_b : InitCell
        Recipes of the input weights, of each (n, n) block of the recurrent weight, and of the bias.

    Subclasses set ``n_blocks`` (how many n-wide column blocks the pre-activation has) and
    ``state_mult`` (state width = state_mult * n).
    """

    n_blocks = 1
    state_mult = 1

    def __init__(self, name, parent, parent_dim, nout, unit="tanh", init_W=None, init_U=None, init_b=None):
        if nout is None:
            raise ValueError(f"layer {name!r}: nout is required, got None")
        super().__init__(name, parent=parent, parent_dim=parent_dim, nout=nout,
                         init_W=init_W if init_W is not None else InitCell("randn"),
                         init_b=init_b if init_b is not None else InitCell("zeros"),
                         unit=unit)
        self.init_U = init_U if init_U is not None else InitCell("ortho")

    @property
    def recurrent_name(self):
        """Legacy name of the recurrent weight: ``U_<name>__<name>``."""
        return f"U_{self.name}__{self.name}"

    @property
    def state_dim(self):
        """Width of the state tensor."""
        return self.state_mult * self.nout

    @property
    def width(self):
        """Columns of the pre-activation, of each weight and of the bias: ``n_blocks * nout``."""
        return self.n_blocks * self.nout

    def initialize(self):
        """``W_<p>__<name>`` (dim_p, n_blocks*n) per parent, ``U_<name>__<name>`` (n, n_blocks*n)
        made of ``n_blocks`` independent (n, n) draws of ``init_U`` side by side, ``b_<name>`` (n_blocks*n,).
        """
        width = self.width
        params = OrderedDict()
        for label, dim in zip(self.parent, self.parent_dim):
            params[self.weight_name(label)] = self.init_W.get((dim, width))
        blocks = [self.init_U.get((self.nout, self.nout)) for _ in range(self.n_blocks)]
        params[self.recurrent_name] = np.concatenate(blocks, axis=1).astype(floatX())
        params[self.bias_name] = self.init_b.get((width,))
        return params

    def get_init_state(self, batch_size):
        """Zeros (batch_size, state_dim) in floatX: the state before the first step."""
        return pt.zeros((batch_size, self.state_dim), dtype=floatX())

    def input_preact(self, xs, params):
        """``sum_p xs[p][..., :dim_p] @ W_p + b``: (B, n_blocks*n) or, for 3-D inputs, (T, B, n_blocks*n)."""
        return self.project(xs, params) + params[self.bias_name]

    def step_from_preact(self, preact_x, s_tm1, params, mask=None):
        """One step given the input pre-activation (implemented by each layer)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step_from_preact")

    def fprop(self, xs, params, mask=None):
        """One step: ``xs = [[x_1, ..., x_P], [s_tm1]]`` -> ``s_t`` (B, state_dim).

        Parameters
        ----------
        xs : pair of lists
            The per-step inputs aligned with ``parent`` (each (B, >= dim_p)) and ``[s_tm1]``.
        params : dict name -> tensor
        mask : tensor (B,), optional
            1 for real steps, 0 for padding (the state is carried over).
        """
        if len(xs) != 2:
            raise ValueError(f"layer {self.name!r}: fprop expects [[inputs...], [s_tm1]], got {len(xs)} entries")
        inputs, states = xs
        s_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        return self.step_from_preact(self.input_preact(inputs, params), s_tm1, params, mask=mask)

    @staticmethod
    def _apply_mask(s_t, s_tm1, mask):
        if mask is None:
            return s_t
        m = mask[:, None]
        return m * s_t + (1 - m) * s_tm1


class SimpleRecurrent(RecurrentLayer):
    """An Elman recurrent layer: ``h_t = unit(sum_p x_p W_p + h_{t-1} U + b)``; state h (B, n).

    Examples
    --------
    >>> rnn = SimpleRecurrent('h', ['x'], [3], 4)
    >>> {k: v.shape for k, v in rnn.initialize().items()}
    {'W_x__h': (3, 4), 'U_h__h': (4, 4), 'b_h': (4,)}
    """

    def step_from_preact(self, preact_x, s_tm1, params, mask=None):
        """``h_t = unit(preact_x + h_{t-1} @ U)``; preact_x (B, n), s_tm1 (B, n) -> (B, n)."""
        h_t = self.nonlin(preact_x + pt.dot(leading_columns(s_tm1, self.nout), params[self.recurrent_name]))
        return self._apply_mask(h_t, s_tm1, mask)


class LSTM(RecurrentLayer):
    """The legacy LSTM: state ``s = [h, c]`` of width 2n, no peepholes, no forget-gate offset.

    ``a = sum_p x_p[..., :dim_p] @ W_p + h_{t-1} @ U + b`` (B, 4n), column blocks in order
    ``[g | i | f | o]``: g = unit(a[:, :n]) (tanh), i, f, o = sigmoid of the next blocks;
    ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``, returns ``concat([h_t, c_t], axis=1)``.
    ``U_<name>__<name>`` (n, 4n) is four (n, n) ``init_U`` blocks (default ortho) side by side.

    Examples
    --------
    >>> lstm = LSTM('rnn', ['x', 'z'], [3, 2], 4)
    >>> {k: v.shape for k, v in lstm.initialize().items()}
    {'W_x__rnn': (3, 16), 'W_z__rnn': (2, 16), 'U_rnn__rnn': (4, 16), 'b_rnn': (16,)}
    """

    n_blocks = 4
    state_mult = 2

    def step_from_preact(self, preact_x, s_tm1, params, mask=None):
        """The rest of one step given ``preact_x = sum_p x_p @ W_p + b`` (B, 4n); s_tm1 (B, 2n) -> (B, 2n)."""
        n = self.nout
        h_tm1 = leading_columns(s_tm1, n)
        c_tm1 = s_tm1[:, n:2 * n]
        a = preact_x + pt.dot(h_tm1, params[self.recurrent_name])
        g = self.nonlin(a[:, :n])
        i = pt.sigmoid(a[:, n:2 * n])
        f = pt.sigmoid(a[:, 2 * n:3 * n])
        o = pt.sigmoid(a[:, 3 * n:4 * n])
        c_t = f * c_tm1 + i * g
        h_t = o * pt.tanh(c_t)
        s_t = pt.concatenate([h_t, c_t], axis=1)
        return self._apply_mask(s_t, s_tm1, mask)


class GRU(RecurrentLayer):
    """A gated recurrent unit (Cho et al., 2014); state h (B, n).

    Column blocks of W, U and b, in order ``[r | u | candidate]``:
    ``r = sigmoid(x W_r + h_{t-1} U_r + b_r)`` (reset gate),
    ``u = sigmoid(x W_u + h_{t-1} U_u + b_u)`` (update gate),
    ``h~ = unit(x W_h + (r * h_{t-1}) U_h + b_h)`` (tanh by default),
    ``h_t = u * h_{t-1} + (1 - u) * h~``.

    Examples
    --------
    >>> gru = GRU('g', ['x'], [3], 4)
    >>> {k: v.shape for k, v in gru.initialize().items()}
    {'W_x__g': (3, 12), 'U_g__g': (4, 12), 'b_g': (12,)}
    """

    n_blocks = 3
    state_mult = 1

    def step_from_preact(self, preact_x, s_tm1, params, mask=None):
        """The rest of one step given ``preact_x = sum_p x_p @ W_p + b`` (B, 3n); s_tm1 (B, n) -> (B, n)."""
        n = self.nout
        U = params[self.recurrent_name]
        s_tm1 = leading_columns(s_tm1, n)
        gates = preact_x[:, :2 * n] + pt.dot(s_tm1, U[:, :2 * n])
        r = pt.sigmoid(gates[:, :n])
        u = pt.sigmoid(gates[:, n:2 * n])
        candidate = self.nonlin(preact_x[:, 2 * n:] + pt.dot(r * s_tm1, U[:, 2 * n:]))
        h_t = u * s_tm1 + (1 - u) * candidate
        return self._apply_mask(h_t, s_tm1, mask)
