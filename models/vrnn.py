"""The VRNN family (VRNN-GMM, VRNN-Gauss, VRNN-I-Gauss; speech and handwriting): :func:`build_vrnn`.

One batch (names are the legacy layer names, L the stack depth; LEGACY.md):

1. x features for all frames at once: ``x_L = x_L(...x_1(x))``; also hoisted out of the scan, as
   big matrix products over all T: the x part of phi_1 (``x_L @ W_x_L__phi_1``) and of the LSTM
   input (``x_L @ W_x_L__rnn + b_rnn``).
2. scan over t with state s_{t-1} = [h, c]:
   ``q(z_t | .) = N(phi_mu, phi_sig^2)`` from phi on [x_L_t, h_{t-1}];
   ``z_t = phi_mu + phi_sig * eps_t``; ``z_L = z_L(...z_1(z_t))``; ``s_t = LSTM([x_L_t, z_L_t], s_{t-1})``.
3. outside the scan, on the shifted states ``[s_0, s_1 .. s_{T-1}]`` (nothing in the recurrence
   reads them, so each is one big product over all T): the prior
   ``p(z_t | .) = N(prior_mu, prior_sig^2)`` from prior on h_{t-1} (VRNN-I: N(0, I)), and the
   decoder theta on [z_L_t, h_{t-1}].
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

import pytensor.tensor as pt

from cle import cost
from cle.utils.scan import scan_keeping_products
from nips2015_vrnn.models.network import build_layers, stack_names
from nips2015_vrnn.models.outputs import HEAD_NAMES, output_nll, output_sample
from nips2015_vrnn.models.sequence_model import SequenceModel

__all__ = ["VRNN", "build_vrnn"]


class VRNN(SequenceModel):
    """A VRNN built from a :class:`~nips2015_vrnn.models.config.ModelConfig` (use :func:`build_vrnn`)."""

    family = "vrnn"

    def __init__(self, config, layers, dtype=None, backend=None):
        super().__init__(config, layers, dtype=dtype, backend=backend)
        depth = config.depth
        self.x_names = stack_names("x", depth)
        self.z_names = stack_names("z", depth)
        self.phi_names = stack_names("phi", depth)
        self.prior_names = stack_names("prior", depth) if config.prior == "learned" else []
        self.theta_names = stack_names("theta", depth)
        self.head_names = HEAD_NAMES[config.output]

    @property
    def latent_dim(self):
        """Width of z_t: ``config.z_dim``."""
        return self.config.z_dim

    # ------------------------------------------------------------------ pieces
    def _encoder(self, x_phi_t, s_tm1):
        """phi_mu, phi_sig (B, z_dim) given the hoisted x part of phi_1 (B, q_z_dim) and s_tm1."""
        phi_1 = self.layers["phi_1"]
        out = phi_1.finish(x_phi_t + phi_1.project_parents({"s_tm1": s_tm1}, self.params), self.params)
        for name in self.phi_names[1:]:
            out = self.layers[name].fprop([out], self.params)
        heads = self._heads(["phi_mu", "phi_sig"], out)
        return heads["phi_mu"], heads["phi_sig"]

    def _prior(self, s_tm1):
        """prior_mu, prior_sig (..., z_dim) on h_{t-1} (B, 2n) or all shifted states (T, B, 2n);
        None, None for the N(0, I) prior."""
        if not self.prior_names:
            return None, None
        heads = self._heads(["prior_mu", "prior_sig"], self._stack(self.prior_names, [s_tm1]))
        return heads["prior_mu"], heads["prior_sig"]

    def _lstm_step(self, x_rnn_t, z_feat, s_tm1):
        """s_t given the hoisted ``x_L_t @ W_x_L__rnn + b_rnn`` (B, 4n) and z_L_t."""
        rnn = self.layers["rnn"]
        preact = x_rnn_t + rnn.project_parents({self.z_names[-1]: z_feat}, self.params)
        return rnn.step_from_preact(preact, s_tm1, self.params)

    def _decoder(self, z_feat, s_prev):
        """Output heads (dict name -> tensor) from theta on [z_L, h_{t-1}]; 2-D or 3-D inputs."""
        return self._heads(self.head_names, self._stack(self.theta_names, [z_feat, s_prev]))

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
        x_feat = self._stack(self.x_names, [x])
        x_phi = self.layers["phi_1"].project_parents({self.x_names[-1]: x_feat}, self.params)
        x_rnn = self._rnn_input(x_feat)
        learned = bool(self.prior_names)

        def step(x_phi_t, x_rnn_t, eps_t, s_tm1):
            phi_mu, phi_sig = self._encoder(x_phi_t, s_tm1)
            z_t = phi_mu + phi_sig * eps_t
            z_feat = self._stack(self.z_names, [z_t])
            s_t = self._lstm_step(x_rnn_t, z_feat, s_tm1)
            return s_t, phi_mu, phi_sig, z_feat

        outs = scan_keeping_products(step, sequences=[x_phi, x_rnn, eps],
                                     outputs_info=[s_0, None, None, None], name="vrnn_scan")
        terms = OrderedDict(zip(["s", "phi_mu", "phi_sig", "z_feat"], outs))
        terms["z"] = terms["phi_mu"] + terms["phi_sig"] * eps
        s_prev = pt.concatenate([s_0[None, :, :], terms["s"][:-1]], axis=0)
        if learned:
            terms["prior_mu"], terms["prior_sig"] = self._prior(s_prev)
        terms.update(self._decoder(terms["z_feat"], s_prev))
        terms["recon"] = output_nll(self.config.output, x, terms)
        if learned:
            terms["kl"] = cost.KLGaussianGaussian(terms["phi_mu"], terms["phi_sig"], terms["prior_mu"],
                                                  terms["prior_sig"])
        else:
            terms["kl"] = cost.KLGaussianStdGaussian(terms["phi_mu"], terms["phi_sig"])
        return terms

    def _kl_dims(self, terms):
        if self.prior_names:
            return cost.KLGaussianGaussian(terms["phi_mu"], terms["phi_sig"], terms["prior_mu"],
                                           terms["prior_sig"], keep_dims=1)
        return cost.KLGaussianStdGaussian(terms["phi_mu"], terms["phi_sig"], keep_dims=1)

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

    # ------------------------------------------------------------------ particles (IWAE, FIVO)
    def _particle_sequences(self, x):
        """Per-frame inputs of :meth:`_particle_step` from x (T, B, x_dim): ``[x, x_phi, x_rnn]``
        (the x features hoisted out of the scan, as in :meth:`_forward`)."""
        x_feat = self._stack(self.x_names, [x])
        x_phi = self.layers["phi_1"].project_parents({self.x_names[-1]: x_feat}, self.params)
        return [x, x_phi, self._rnn_input(x_feat)]

    def _particle_step(self, x_t, x_phi_t, x_rnn_t, eps_t, s_tm1):
        """One frame of every particle row: ``(s_t, log p(x_t, z_t | .) - log q(z_t | .), recon_t, kl_t)``.

        The prior and the decoder run inside the step (a particle filter resamples the states
        between frames, so they cannot be hoisted as in :meth:`_forward`); same formulas.
        """
        phi_mu, phi_sig = self._encoder(x_phi_t, s_tm1)
        z_t = phi_mu + phi_sig * eps_t
        z_feat = self._stack(self.z_names, [z_t])
        terms = {"z": z_t, "phi_mu": phi_mu, "phi_sig": phi_sig}
        terms["prior_mu"], terms["prior_sig"] = self._prior(s_tm1)
        terms.update(self._decoder(z_feat, s_tm1))
        terms["recon"] = output_nll(self.config.output, x_t, terms)
        if self.prior_names:
            kl = cost.KLGaussianGaussian(phi_mu, phi_sig, terms["prior_mu"], terms["prior_sig"])
        else:
            kl = cost.KLGaussianStdGaussian(phi_mu, phi_sig)
        return (self._lstm_step(x_rnn_t, z_feat, s_tm1), self._log_weight_terms(terms, eps_t), terms["recon"], kl)

    # ------------------------------------------------------------------ generation
    def _generate_step(self, noise, s_tm1, bias):
        """Ancestral sampling: z_t from the prior on h_{t-1}, x_t from the decoder (sharpened by
        ``bias``; z_t is not), then the LSTM."""
        prior_mu, prior_sig = self._prior(s_tm1)
        z_t = noise["eps_z"] if prior_mu is None else prior_mu + prior_sig * noise["eps_z"]
        z_feat = self._stack(self.z_names, [z_t])
        x_t = output_sample(self.config.output, self._decoder(z_feat, s_tm1), noise, bias)
        x_feat = self._stack(self.x_names, [x_t])
        return x_t, self.layers["rnn"].fprop([[x_feat, z_feat], [s_tm1]], self.params)


def build_vrnn(config, dtype=None, backend=None):
    """A :class:`VRNN` for ``config`` with freshly initialised parameters (seed ``config.seed``).

    Every graph of the model is compiled by ``backend`` (default ``cle.backend.Backend()``, the C
    mode); parameters and graphs are in ``dtype`` (default: the backend's ``floatX``).
    """
    return VRNN(config, build_layers(config), dtype=dtype, backend=backend)
