"""The VRNN family (VRNN-GMM, VRNN-Gauss, VRNN-I-Gauss; speech and handwriting): :func:`build_vrnn`.

One batch (names are the legacy layer names, L the stack depth; LEGACY.md):

1. x features for all frames at once: ``x_L = x_L(...x_1(x))``; also hoisted out of the scan, as
   big matrix products over all T: the x part of phi_1 (``x_L @ W_x_L__phi_1``) and of the LSTM
   input (``x_L @ W_x_L__rnn + b_rnn``).
2. scan over t with state s_{t-1} = [h, c]:
   ``q(z_t | .) = N(phi_mu, phi_sig^2)`` from phi on [x_L_t, h_{t-1}];
   ``p(z_t | .) = N(prior_mu, prior_sig^2)`` from prior on h_{t-1} (VRNN-I: N(0, I));
   ``z_t = phi_mu + phi_sig * eps_t``; ``z_L = z_L(...z_1(z_t))``; ``s_t = LSTM([x_L_t, z_L_t], s_{t-1})``.
3. decoder outside the scan on the shifted states ``[s_0, s_1 .. s_{T-1}]``: theta on [z_L_t, h_{t-1}].
4. per frame: ``recon_t = -log p(x_t | z_<=t, x_<t)``, ``kl_t = KL(q || p)``; the training cost
   is ``recon_term + kl_term`` (normalised by ``config.cost_norm``).

Example
-------
>>> from nips2015_vrnn.models.presets import get_preset
>>> model = build_vrnn(get_preset('iamondb/vrnn_gmm', rnn_dim=4, z_dim=2, x2s_dim=3, z2s_dim=3,
...                               q_z_dim=3, p_z_dim=3, p_x_dim=3, num_k=2))
>>> model.param_names()[:4]
['W_x_1__rnn', 'W_z_1__rnn', 'U_rnn__rnn', 'b_rnn']
"""
from collections import OrderedDict

import pytensor
import pytensor.tensor as pt

from cle import cost
from nips2015_vrnn.models.base import Graph, SequenceModel
from nips2015_vrnn.models.network import build_layers, stack_names
from nips2015_vrnn.models.outputs import HEAD_NAMES, output_nll, output_sample

__all__ = ["VRNN", "build_vrnn"]


class VRNN(SequenceModel):
    """A VRNN built from a :class:`~nips2015_vrnn.models.config.ModelConfig` (use :func:`build_vrnn`)."""

    family = "vrnn"

    def __init__(self, config, layers):
        super().__init__(config, layers)
        depth = config.depth
        self.x_names = stack_names("x", depth)
        self.z_names = stack_names("z", depth)
        self.phi_names = stack_names("phi", depth)
        self.prior_names = stack_names("prior", depth) if config.prior == "learned" else []
        self.theta_names = stack_names("theta", depth)
        self.head_names = HEAD_NAMES[config.output]

    # ------------------------------------------------------------------ pieces
    def _encoder(self, x_phi_t, s_tm1):
        """phi_mu, phi_sig (B, z_dim) given the hoisted x part of phi_1 (B, q_z_dim) and s_tm1."""
        n = self.config.rnn_dim
        out = self._finish("phi_1", x_phi_t + pt.dot(s_tm1[:, :n], self._weight("phi_1", "s_tm1")))
        for name in self.phi_names[1:]:
            out = self.layers[name].fprop([out], self.params)
        return self.layers["phi_mu"].fprop([out], self.params), self.layers["phi_sig"].fprop([out], self.params)

    def _prior(self, s_tm1):
        """prior_mu, prior_sig (B, z_dim) on h_{t-1}; None, None for the N(0, I) prior."""
        if not self.prior_names:
            return None, None
        out = self._stack(self.prior_names, [s_tm1])
        return self.layers["prior_mu"].fprop([out], self.params), self.layers["prior_sig"].fprop([out], self.params)

    def _lstm_step(self, x_rnn_t, z_feat, s_tm1):
        """s_t given the hoisted ``x_L_t @ W_x_L__rnn + b_rnn`` (B, 4n) and z_L_t."""
        depth = self.config.depth
        preact = x_rnn_t + pt.dot(z_feat, self._weight("rnn", f"z_{depth}"))
        return self.layers["rnn"].step_from_preact(preact, s_tm1, self.params)

    def _decoder(self, z_feat, s_prev):
        """Output heads (dict name -> tensor) from theta on [z_L, h_{t-1}]; 2-D or 3-D inputs."""
        out = self._stack(self.theta_names, [z_feat, s_prev])
        return OrderedDict((name, self.layers[name].fprop([out], self.params)) for name in self.head_names)

    # ------------------------------------------------------------------ forward
    def _forward(self, x, eps, s_0):
        """Per-frame terms of a batch.

        Parameters
        ----------
        x : (T, B, x_dim)
        eps : (T, B, z_dim) standard normal noise
        s_0 : (B, 2 * rnn_dim)

        Returns
        -------
        dict: s (T, B, 2n) states after each step; phi_mu, phi_sig, prior_mu, prior_sig, z (T, B, z_dim);
        z_feat; the output heads (T, B, .); recon, kl (T, B)
        """
        depth = self.config.depth
        x_top = f"x_{depth}"
        x_feat = self._stack(self.x_names, [x])
        x_phi = pt.dot(x_feat, self._weight("phi_1", x_top))
        x_rnn = pt.dot(x_feat, self._weight("rnn", x_top)) + self.params["b_rnn"]
        learned = bool(self.prior_names)

        def step(x_phi_t, x_rnn_t, eps_t, s_tm1):
            phi_mu, phi_sig = self._encoder(x_phi_t, s_tm1)
            z_t = phi_mu + phi_sig * eps_t
            z_feat = self._stack(self.z_names, [z_t])
            s_t = self._lstm_step(x_rnn_t, z_feat, s_tm1)
            if learned:
                prior_mu, prior_sig = self._prior(s_tm1)
                return s_t, phi_mu, phi_sig, z_feat, prior_mu, prior_sig
            return s_t, phi_mu, phi_sig, z_feat

        n_out = 6 if learned else 4
        outs = pytensor.scan(step, sequences=[x_phi, x_rnn, eps], outputs_info=[s_0] + [None] * (n_out - 1),
                             name="vrnn_scan", return_updates=False)
        terms = OrderedDict(zip(["s", "phi_mu", "phi_sig", "z_feat", "prior_mu", "prior_sig"], outs))
        terms["z"] = terms["phi_mu"] + terms["phi_sig"] * eps
        s_prev = pt.concatenate([s_0[None, :, :], terms["s"][:-1]], axis=0)
        terms.update(self._decoder(terms["z_feat"], s_prev))
        terms["recon"] = output_nll(self.config.output, x, terms)
        if learned:
            terms["kl"] = cost.KLGaussianGaussian(terms["phi_mu"], terms["phi_sig"], terms["prior_mu"],
                                                  terms["prior_sig"])
        else:
            terms["kl"] = cost.KLGaussianStdGaussian(terms["phi_mu"], terms["phi_sig"])
        return terms

    def _log_weight_terms(self, terms, eps):
        """``log p(x_t | .) + log p(z_t | .) - log q(z_t | .)`` per frame (T, B).

        ``-log q(z_t)`` and ``-log p(z_t)`` are diagonal-Gaussian nlls of the drawn z_t
        (prior N(0, I) for VRNN-I).
        """
        z = terms["z"]
        if self.prior_names:
            neg_log_prior = cost.Gaussian(z, terms["prior_mu"], terms["prior_sig"])
        else:
            neg_log_prior = cost.Gaussian(z, pt.zeros_like(z), pt.ones_like(z))
        neg_log_q = cost.Gaussian(z, terms["phi_mu"], terms["phi_sig"])
        return -terms["recon"] - neg_log_prior + neg_log_q

    # ------------------------------------------------------------------ generation
    def _build_generate_graph(self):
        """Ancestral sampling: z_t from the prior on h_{t-1}, x_t from the decoder, then the LSTM."""
        noise = self._generation_inputs()
        names = list(noise)
        batch = noise["eps_z"].shape[1]
        s_0 = self._initial_state(carry=False, batch=batch)
        output = self.config.output

        def step(*args):
            step_noise = OrderedDict(zip(names, args[:-1]))
            s_tm1 = args[-1]
            eps_z = step_noise["eps_z"]
            prior_mu, prior_sig = self._prior(s_tm1)
            z_t = eps_z if prior_mu is None else prior_mu + prior_sig * eps_z
            z_feat = self._stack(self.z_names, [z_t])
            heads = self._decoder(z_feat, s_tm1)
            x_t = output_sample(output, heads, step_noise)
            x_feat = self._stack(self.x_names, [x_t])
            s_t = self.layers["rnn"].fprop([[x_feat, z_feat], [s_tm1]], self.params)
            return x_t, s_t

        x, _ = pytensor.scan(step, sequences=list(noise.values()), outputs_info=[None, s_0],
                             name="vrnn_generate", return_updates=False)
        return Graph(list(noise.values()), OrderedDict([("x", x)]), OrderedDict())


def build_vrnn(config):
    """A :class:`VRNN` for ``config`` with freshly initialised parameters (seed ``config.seed``).

    Parameters are created in the current ``floatX``; every graph of the model is built and
    compiled in that precision.
    """
    return VRNN(config, build_layers(config))
