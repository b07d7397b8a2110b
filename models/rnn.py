"""The RNN family (RNN-GMM, RNN-Gauss; speech and handwriting): :func:`build_rnn`.

No latent variable: ``x_L = x_L(...x_1(x))`` for all frames (hoisted, with the LSTM input
projection ``x_L @ W_x_L__rnn + b_rnn``), the LSTM ``rnn`` reads x_L only, and the decoder
``theta_1 .. theta_L`` (widths p_x_dim) reads h_{t-1} of the shifted state ``[s_0, s_1 .. s_{T-1}]``
only, so ``p(x_t | x_<t)`` is exact: ``log p(x) = -sum_t recon_t``. The lower bound and the
importance-sampled estimate both equal log p(x); the monitor channel ``nll_upper_bound`` equals
``recon_term`` (``kl_term`` is 0) so every model reports the same channel names.

Parameter names: rnn (``W_x_L__rnn``, ``U_rnn__rnn``, ``b_rnn``), x_1..x_L (``W_x_t__x_1`` ...),
theta_1..theta_L (``W_s_tm1__theta_1`` ...) and the output heads.

Example
-------
>>> from nips2015_vrnn.models.presets import get_preset
>>> model = build_rnn(get_preset('blizzard/rnn_gauss', x_dim=2, rnn_dim=3, x2s_dim=2, p_x_dim=2, depth=1))
>>> model.param_names()  # doctest: +NORMALIZE_WHITESPACE
['W_x_1__rnn', 'U_rnn__rnn', 'b_rnn', 'W_x_t__x_1', 'b_x_1', 'W_s_tm1__theta_1', 'b_theta_1',
 'W_theta_1__theta_mu', 'b_theta_mu', 'W_theta_1__theta_sig', 'b_theta_sig']
"""
from collections import OrderedDict

import pytensor.tensor as pt

from cle.utils.scan import scan_keeping_products
from nips2015_vrnn.models.network import build_layers, stack_names
from nips2015_vrnn.models.outputs import HEAD_NAMES, output_nll, output_sample
from nips2015_vrnn.models.sequence_model import SequenceModel

__all__ = ["RNN", "build_rnn"]


class RNN(SequenceModel):
    """An LSTM with a GMM / Gaussian output (use :func:`build_rnn`)."""

    family = "rnn"

    def __init__(self, config, layers, dtype=None, backend=None):
        super().__init__(config, layers, dtype=dtype, backend=backend)
        self.x_names = stack_names("x", config.depth)
        self.theta_names = stack_names("theta", config.depth)
        self.head_names = HEAD_NAMES[config.output]

    def _decoder(self, s_prev):
        """Output heads from theta on h_{t-1}; (B, 2n) or (T, B, 2n) input."""
        return self._heads(self.head_names, self._stack(self.theta_names, [s_prev]))

    def _forward(self, x, eps, s_0):
        """Per-frame terms: s (T, B, 2n), the heads (T, B, .), recon (T, B), kl = 0 (T, B)."""
        x_rnn = self._rnn_input(self._stack(self.x_names, [x]))
        rnn = self.layers["rnn"]

        def step(x_rnn_t, s_tm1):
            return rnn.step_from_preact(x_rnn_t, s_tm1, self.params)

        s = scan_keeping_products(step, sequences=[x_rnn], outputs_info=[s_0], name="rnn_scan")
        s_prev = pt.concatenate([s_0[None, :, :], s[:-1]], axis=0)
        terms = OrderedDict([("s", s)])
        terms.update(self._decoder(s_prev))
        terms["recon"] = output_nll(self.config.output, x, terms)
        terms["kl"] = pt.zeros_like(terms["recon"])
        return terms

    def _log_weight_terms(self, terms, eps):
        """``log p(x_t | x_<t)`` per frame (T, B): exact."""
        return -terms["recon"]

    def _generate_step(self, noise, s_tm1, bias):
        """Ancestral sampling: x_t from the decoder on h_{t-1} (sharpened by ``bias``), then the LSTM on x_L(x_t)."""
        x_t = output_sample(self.config.output, self._decoder(s_tm1), noise, bias)
        x_feat = self._stack(self.x_names, [x_t])
        return x_t, self.layers["rnn"].fprop([[x_feat], [s_tm1]], self.params)


def build_rnn(config, dtype=None, backend=None):
    """An :class:`RNN` for ``config`` with freshly initialised parameters (seed ``config.seed``),
    compiled by ``backend`` (default ``cle.backend.Backend()``, the C mode), in ``dtype``
    (default: the backend's ``floatX``)."""
    return RNN(config, build_layers(config), dtype=dtype, backend=backend)
