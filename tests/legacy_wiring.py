"""The legacy Blizzard VRNN-GMM wired from cle layers exactly as the legacy script did.

Not a test: a builder shared by the golden tests (forward pass here, training steps elsewhere).
Import it from any test as ``from legacy_wiring import build_legacy_vrnn_gmm`` (``tests/`` is on
``sys.path`` because pytest inserts the rootdir of ``tests/conftest.py``).

The wiring is the legacy Blizzard VRNN-GMM script's (``theano.scan`` ported as
``cle.utils.scan.scan``: PyTensor's scan, its gradient reading the forward step back), which
computed the golden files (``tests/golden/README.md``): x features for all frames, a scan over t
(eps as a sequence) holding the encoder, the prior, z features and the LSTM, then the decoder on
the SHIFTED state ``[s_0, s_1 .. s_{T-1}]``, a GMM reconstruction per frame (rows t*B + b) and
KL(q || p) per (t, b).
"""
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt

from cle.cost import GMM, KLGaussianGaussian
from cle.layers import InitCell
from cle.layers.feedforward import FullyConnectedLayer
from cle.layers.recurrent import LSTM
from cle.utils import init_tparams
from cle.utils.scan import scan

#: Added after softplus in every standard-deviation layer, so sigma stays > 0.
SIG_CONS = 1e-4
#: Legacy initial bias of every standard-deviation layer (softplus(0.6) is close to 1).
SIG_BIAS_INIT = 0.6

DIM_KEYS = ("x_dim", "z_dim", "rnn_dim", "q_z_dim", "p_z_dim", "p_x_dim", "x2s_dim", "z2s_dim", "k")


def _stack(prefix, first_parents, first_dims, width, depth=4):
    """``prefix_1 .. prefix_depth`` relu layers: the first on the given parents, each next on the previous."""
    init_W, init_b = InitCell("rand"), InitCell("zeros")
    layers = [FullyConnectedLayer(name=f"{prefix}_1", parent=first_parents, parent_dim=first_dims, nout=width,
                                  unit="relu", init_W=init_W, init_b=init_b)]
    for i in range(2, depth + 1):
        layers.append(FullyConnectedLayer(name=f"{prefix}_{i}", parent=[f"{prefix}_{i - 1}"], parent_dim=[width],
                                          nout=width, unit="relu", init_W=init_W, init_b=init_b))
    return layers


def _head(name, parent, parent_dim, nout, unit, sig=False):
    init_b = InitCell("const", mean=SIG_BIAS_INIT) if sig else InitCell("zeros")
    return FullyConnectedLayer(name=name, parent=[parent], parent_dim=[parent_dim], nout=nout, unit=unit,
                               cons=SIG_CONS if sig else 0.0, init_W=InitCell("rand"), init_b=init_b)


def legacy_layers(dims):
    """The legacy layers by name, in the legacy parameter order (rnn, x, z, phi, prior, theta, coeff)."""
    missing = [k for k in DIM_KEYS if k not in dims]
    if missing:
        raise ValueError(f"dims lacks {missing}; expected keys {DIM_KEYS}")
    d = dims
    rnn = LSTM(name="rnn", parent=["x_4", "z_4"], parent_dim=[d["x2s_dim"], d["z2s_dim"]], nout=d["rnn_dim"],
               unit="tanh", init_W=InitCell("rand"), init_U=InitCell("ortho"), init_b=InitCell("zeros"))
    layers = [rnn]
    layers += _stack("x", ["x_t"], [d["x_dim"]], d["x2s_dim"])
    layers += _stack("z", ["z_t"], [d["z_dim"]], d["z2s_dim"])
    layers += _stack("phi", ["x_4", "s_tm1"], [d["x2s_dim"], d["rnn_dim"]], d["q_z_dim"])
    layers += [_head("phi_mu", "phi_4", d["q_z_dim"], d["z_dim"], "linear"),
               _head("phi_sig", "phi_4", d["q_z_dim"], d["z_dim"], "softplus", sig=True)]
    layers += _stack("prior", ["s_tm1"], [d["rnn_dim"]], d["p_z_dim"])
    layers += [_head("prior_mu", "prior_4", d["p_z_dim"], d["z_dim"], "linear"),
               _head("prior_sig", "prior_4", d["p_z_dim"], d["z_dim"], "softplus", sig=True)]
    layers += _stack("theta", ["z_4", "s_tm1"], [d["z2s_dim"], d["rnn_dim"]], d["p_x_dim"])
    layers += [_head("theta_mu", "theta_4", d["p_x_dim"], d["x_dim"] * d["k"], "linear"),
               _head("theta_sig", "theta_4", d["p_x_dim"], d["x_dim"] * d["k"], "softplus", sig=True),
               _head("coeff", "theta_4", d["p_x_dim"], d["k"], "softmax")]
    return OrderedDict((layer.name, layer) for layer in layers)


def build_legacy_vrnn_gmm(dims, x, eps, s_0=None, params=None):
    """Symbolic legacy VRNN-GMM cost and intermediates.

    Parameters
    ----------
    dims : dict with x_dim, z_dim, rnn_dim, q_z_dim, p_z_dim, p_x_dim, x2s_dim, z2s_dim, k
    x : tensor (T, B, x_dim)
    eps : tensor (T, B, z_dim), the noise of z_t = phi_mu + phi_sig * eps[t]
    s_0 : tensor (B, 2*rnn_dim), optional (zeros)
    params : dict name -> ndarray or shared variable, optional (legacy init when None)

    Returns
    -------
    results : dict of symbolic tensors: nll_upper_bound, recon (T*B,), recon_term, kl (T, B), kl_term,
        s (T, B, 2*rnn_dim) scan states, s_shifted, phi_mu, phi_sig, prior_mu, prior_sig, z_feat,
        theta_mu, theta_sig (T*B, x_dim*k), coeff (T*B, k), x_in (T*B, x_dim)
    params : OrderedDict name -> shared variable in legacy order
    """
    layers = legacy_layers(dims)
    if params is None:
        values = OrderedDict()
        for layer in layers.values():
            values.update(layer.initialize())
        tparams = init_tparams(values)
    else:
        tparams = OrderedDict()
        for layer in layers.values():
            for name in layer.initialize():
                value = params[name]
                tparams[name] = value if isinstance(value, pytensor.compile.SharedVariable) else \
                    init_tparams({name: np.asarray(value)})[name]
    L = layers
    if s_0 is None:
        s_0 = L["rnn"].get_init_state(x.shape[1])

    x_feat = x
    for i in range(1, 5):
        x_feat = L[f"x_{i}"].fprop([x_feat], tparams)

    def step(x_t, eps_t, s_tm1):
        phi = L["phi_1"].fprop([x_t, s_tm1], tparams)
        for i in range(2, 5):
            phi = L[f"phi_{i}"].fprop([phi], tparams)
        phi_mu = L["phi_mu"].fprop([phi], tparams)
        phi_sig = L["phi_sig"].fprop([phi], tparams)
        prior = L["prior_1"].fprop([s_tm1], tparams)
        for i in range(2, 5):
            prior = L[f"prior_{i}"].fprop([prior], tparams)
        prior_mu = L["prior_mu"].fprop([prior], tparams)
        prior_sig = L["prior_sig"].fprop([prior], tparams)
        z_t = phi_mu + phi_sig * eps_t
        z_feat = z_t
        for i in range(1, 5):
            z_feat = L[f"z_{i}"].fprop([z_feat], tparams)
        s_t = L["rnn"].fprop([[x_t, z_feat], [s_tm1]], tparams)
        return s_t, phi_mu, phi_sig, prior_mu, prior_sig, z_feat

    (s, phi_mu, phi_sig, prior_mu, prior_sig, z_feat) = scan(
        step, sequences=[x_feat, eps], outputs_info=[s_0, None, None, None, None, None])

    s_shifted = pt.concatenate([s_0[None], s[:-1]], axis=0)
    theta = L["theta_1"].fprop([z_feat, s_shifted], tparams)
    for i in range(2, 5):
        theta = L[f"theta_{i}"].fprop([theta], tparams)
    theta_mu = L["theta_mu"].fprop([theta], tparams)
    theta_sig = L["theta_sig"].fprop([theta], tparams)
    coeff = L["coeff"].fprop([theta], tparams)

    x_in = x.reshape((x.shape[0] * x.shape[1], -1))
    theta_mu_in = theta_mu.reshape((x.shape[0] * x.shape[1], -1))
    theta_sig_in = theta_sig.reshape((x.shape[0] * x.shape[1], -1))
    coeff_in = coeff.reshape((x.shape[0] * x.shape[1], -1))

    recon = GMM(x_in, theta_mu_in, theta_sig_in, coeff_in)
    kl = KLGaussianGaussian(phi_mu, phi_sig, prior_mu, prior_sig)
    recon_term = recon.mean()
    kl_term = kl.mean()
    results = dict(
        nll_upper_bound=recon_term + kl_term, recon=recon, recon_term=recon_term, kl=kl, kl_term=kl_term,
        s=s, s_shifted=s_shifted, phi_mu=phi_mu, phi_sig=phi_sig, prior_mu=prior_mu, prior_sig=prior_sig,
        z_feat=z_feat, theta_mu=theta_mu_in, theta_sig=theta_sig_in, coeff=coeff_in, x_in=x_in)
    return results, tparams
