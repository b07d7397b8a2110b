"""Output models p(x_t | decoder features): their head layers, negative log-likelihood and sampler.

Each output model owns the decoder's head layers (legacy names) that read the last decoder
layer ``theta_<depth>``:

=========  ==========================================================================================
output     heads (unit, width)
=========  ==========================================================================================
gauss      theta_mu (linear, D), theta_sig (softplus + 1e-4, D)
gmm        theta_mu (linear, D*K), theta_sig (softplus + 1e-4, D*K), coeff (softmax, K)
bigauss    theta_mu (linear, 2), theta_sig (softplus + 1e-4, 2), corr (tanh, 1), binary (sigmoid, 1)
bigmm      theta_mu (linear, 2K), theta_sig (softplus + 1e-4, 2K), coeff (softmax, K), corr (tanh, K),
           binary (sigmoid, 1)
bernoulli  theta_mu (sigmoid, D): the probability of a 1 in each dimension
categorical theta_mu (softmax, V): the probability of each of V symbols (one-hot frames, text)
=========  ==========================================================================================

Costs from :mod:`cle.cost` (Gaussian, GMM, BiGauss, BiGMM, NllBin, NllMul), samplers from
:mod:`cle.utils.op` (the Bernoulli draw is ``u < p`` with injected uniform noise ``u``).

The categorical draw is Gumbel-max with injected uniform noise u (V,): the symbol
``argmax_v log p_v + g_v``, ``g_v = -log(-log u_v)``. A caller sets the temperature tau by
drawing ``u_v`` as ``exp(-(-log u_v)^tau)`` (then ``g_v`` is tau times a Gumbel draw: the
symbol follows ``p^(1/tau)``) and forces a symbol c by giving u = 1 at c and 0 elsewhere
(g finite at c, -inf elsewhere): see :mod:`nips2015_vrnn.models.app.characters`.

Biased sampling (Graves 2013, "Generating sequences with recurrent neural networks", section
5.2): a scalar bias b >= 0 (any b > -1 is accepted; b < 0 is hotter) sharpens every output kind
the same way, inside the graph (one compiled generator serves every bias):

- mixture weights: ``softmax(logits * (1 + b))``, i.e. ``coeff^(1+b)`` renormalised;
- standard deviations (Gaussian, GMM, BiGauss, BiGMM): ``sigma * exp(-b)``;
- Bernoulli probabilities: ``sigmoid(logit(p) * (1 + b))``;
- categorical: ``log p * (1 + b)`` in the Gumbel-max draw (the temperature ``1 / (1 + b)``: the
  same symbols as tempering the noise with tau = 1 / (1 + b), since
  ``argmax(log p + tau g) = argmax(log p / tau + g)``).

The correlations and the handwriting pen bit are not biased (as in Graves). At b = 0 every head
is passed through untouched, so the samples are bit for bit those of the unbiased sampler.
"""
import numpy as np
import pytensor.tensor as pt

from cle import cost
from cle.layers import InitCell
from cle.layers.feedforward import FullyConnectedLayer
from cle.utils import op

__all__ = ["SIG_CONS", "SIG_BIAS", "HEAD_NAMES", "head_layers", "output_nll", "output_sample",
           "sample_noise_shapes", "biased_heads", "check_bias"]

#: Constant added after softplus in every standard-deviation layer (keeps sigma away from 0).
SIG_CONS = 1e-4
#: Initial bias of every standard-deviation layer, so softplus starts near 1 (legacy 'const' 0.6).
SIG_BIAS = 0.6


#: Output model -> names of its head layers, in legacy order.
HEAD_NAMES = {
    "gauss": ("theta_mu", "theta_sig"),
    "gmm": ("theta_mu", "theta_sig", "coeff"),
    "bigauss": ("theta_mu", "theta_sig", "corr", "binary"),
    "bigmm": ("theta_mu", "theta_sig", "coeff", "corr", "binary"),
    "bernoulli": ("theta_mu",),
    "categorical": ("theta_mu",),
}
#: The Bernoulli probabilities are kept in [BERNOULLI_EPS, 1 - BERNOULLI_EPS] so that the cost
#: of a frame stays finite when the sigmoid saturates in float32.
BERNOULLI_EPS = 1e-6
#: The categorical draw reads its uniform noise as at most the largest float32 below 1, so a draw
#: that rounds to 1.0 stays a finite Gumbel value; only u = 0 elsewhere (a forced symbol) is infinite.
U_MAX = 1.0 - 2.0 ** -24


def sig_bias_init():
    """The InitCell of sigma-layer biases (const 0.6)."""
    return InitCell("const", mean=SIG_BIAS)


def head_layers(output, parent, parent_dim, x_dim, num_k, init_W):
    """The head layers of ``output`` reading ``parent`` (width ``parent_dim``), in legacy order.

    Parameters
    ----------
    output : {'gauss', 'gmm', 'bigauss', 'bigmm', 'bernoulli'}
    parent : str, e.g. 'theta_4'
    parent_dim : int
    x_dim : int
        Frame width D (3 for handwriting, of which 2 are modelled by the Gaussians).
    num_k : int
    init_W : InitCell

    Returns
    -------
    list of FullyConnectedLayer
    """
    zeros = InitCell("zeros")

    def fc(name, nout, unit, cons=0.0, init_b=zeros):
        return FullyConnectedLayer(name, [parent], [parent_dim], nout, unit=unit, cons=cons,
                                   init_W=init_W, init_b=init_b)

    if output == "gauss":
        return [fc("theta_mu", x_dim, "linear"), fc("theta_sig", x_dim, "softplus", SIG_CONS, sig_bias_init())]
    if output == "gmm":
        return [fc("theta_mu", x_dim * num_k, "linear"),
                fc("theta_sig", x_dim * num_k, "softplus", SIG_CONS, sig_bias_init()),
                fc("coeff", num_k, "softmax")]
    if output == "bigauss":
        return [fc("theta_mu", 2, "linear"), fc("theta_sig", 2, "softplus", SIG_CONS, sig_bias_init()),
                fc("corr", 1, "tanh"), fc("binary", 1, "sigmoid")]
    if output == "bigmm":
        return [fc("theta_mu", 2 * num_k, "linear"),
                fc("theta_sig", 2 * num_k, "softplus", SIG_CONS, sig_bias_init()),
                fc("coeff", num_k, "softmax"), fc("corr", num_k, "tanh"), fc("binary", 1, "sigmoid")]
    if output == "bernoulli":
        return [fc("theta_mu", x_dim, "sigmoid")]
    if output == "categorical":
        return [fc("theta_mu", x_dim, "softmax")]
    raise ValueError(f"unknown output model {output!r}; expected gauss, gmm, bigauss, bigmm, bernoulli or categorical")


def output_nll(output, y, heads):
    """Per-frame negative log-likelihood ``-log p(y | heads)``.

    Parameters
    ----------
    output : str
    y : tensor (T, B, D) (handwriting: D = 3, [pen, dx, dy])
    heads : dict head name -> tensor (T, B, width)

    Returns
    -------
    tensor (T, B)
    """
    if output == "bernoulli":
        return cost.NllBin(y, pt.clip(heads["theta_mu"], BERNOULLI_EPS, 1.0 - BERNOULLI_EPS))
    if output == "categorical":
        return cost.NllMul(y, pt.clip(heads["theta_mu"], BERNOULLI_EPS, 1.0))
    mu, sig = heads["theta_mu"], heads["theta_sig"]
    if output == "gauss":
        return cost.Gaussian(y, mu, sig)
    if output == "gmm":
        return cost.GMM(y, mu, sig, heads["coeff"])
    if output == "bigauss":
        return cost.BiGauss(y, mu, sig, heads["corr"], heads["binary"])
    return cost.BiGMM(y, mu, sig, heads["coeff"], heads["corr"], heads["binary"])


def sample_noise_shapes(output, x_dim):
    """Noise one generation step needs per sequence: name -> (trailing shape, 'normal' | 'uniform').

    ``eps_x`` feeds the Gaussian part, ``u`` picks the mixture component, ``u_pen`` the pen bit.
    """
    if output == "gauss":
        return {"eps_x": ((x_dim,), "normal")}
    if output in ("bernoulli", "categorical"):
        return {"u_x": ((x_dim,), "uniform")}
    if output == "gmm":
        return {"eps_x": ((x_dim,), "normal"), "u": ((), "uniform")}
    return {"eps_x": ((2,), "normal"), "u": ((), "uniform"), "u_pen": ((), "uniform")}


def check_bias(bias):
    """Return ``bias`` as a float after checking it is a finite number > -1 (at -1 every mixture
    weight and probability flattens to uniform; below, the sharpening reverses).

    >>> check_bias(1.5)
    1.5
    """
    try:
        value = float(bias)
    except (TypeError, ValueError):
        raise ValueError(f"the sampling bias must be a number > -1; got {bias!r}") from None
    if not (value > -1 and np.isfinite(value)):
        raise ValueError(f"the sampling bias must be a finite number > -1; got {bias!r}")
    return value


def biased_heads(output, heads, bias):
    """The heads of ``output`` sharpened by the sampling bias (Graves 2013, section 5.2).

    Parameters
    ----------
    output : str
    heads : dict head name -> tensor (B, width)
    bias : scalar tensor b > -1; b = 0 returns the heads unchanged (bit for bit)

    Returns
    -------
    dict head name -> tensor (B, width): ``coeff`` as ``softmax(log coeff * (1 + b))``,
    ``theta_sig`` as ``theta_sig * exp(-b)``, Bernoulli ``theta_mu`` as
    ``sigmoid(logit(theta_mu) * (1 + b))``; other heads (and categorical ones, biased in the
    draw itself) as given

    Example
    -------
    >>> b = pt.dscalar('b')
    >>> coeff = pt.as_tensor_variable(np.array([[0.75, 0.25]]))
    >>> sharp = biased_heads('gmm', {'coeff': coeff, 'theta_sig': coeff, 'theta_mu': coeff}, b)
    >>> sharp['coeff'].eval({b: 1.0}).round(3).tolist()     # 0.75^2 / (0.75^2 + 0.25^2)
    [[0.9, 0.1]]
    """
    out = dict(heads)
    unbiased = pt.eq(bias, 0)
    if "theta_sig" in heads:
        out["theta_sig"] = heads["theta_sig"] * pt.exp(-bias)
    if "coeff" in heads:
        # The untouched weights at b = 0: softmax(log coeff) rounds differently from coeff.
        sharp = pt.special.softmax(pt.log(heads["coeff"]) * (1 + bias), axis=-1)
        out["coeff"] = pt.switch(unbiased, heads["coeff"], sharp)
    if output == "bernoulli":
        p = pt.clip(heads["theta_mu"], BERNOULLI_EPS, 1.0 - BERNOULLI_EPS)
        sharp = pt.sigmoid((pt.log(p) - pt.log1p(-p)) * (1 + bias))
        out["theta_mu"] = pt.switch(unbiased, heads["theta_mu"], sharp)
    return out


def output_sample(output, heads, noise, bias=None):
    """One frame drawn from the output model with injected noise (see :func:`sample_noise_shapes`).

    Parameters
    ----------
    output : str
    heads : dict head name -> tensor (B, width)
    noise : dict name -> tensor (B, ...) for this step
    bias : scalar tensor or None
        The sampling bias b > -1 (see :func:`biased_heads`); None (or b = 0): the model's own
        distribution.

    Returns
    -------
    tensor (B, D); handwriting frames are [pen, dx, dy] with pen in {0, 1}; Bernoulli frames
    are 1 where ``u_x < p`` (probability p), else 0; categorical frames one-hot (Gumbel-max)
    """
    if bias is not None:
        heads = biased_heads(output, heads, bias)
    if output == "bernoulli":
        return pt.cast(pt.lt(noise["u_x"], heads["theta_mu"]), heads["theta_mu"].dtype)
    if output == "categorical":
        p = heads["theta_mu"]
        gumbel = -pt.log(-pt.log(pt.minimum(noise["u_x"], U_MAX)))
        log_p = pt.log(pt.clip(p, BERNOULLI_EPS, 1.0))
        if bias is not None:
            log_p = log_p * (1 + bias)
        symbol = pt.argmax(log_p + gumbel, axis=-1)
        return pt.cast(pt.eq(pt.arange(p.shape[-1])[None, :], symbol[:, None]), p.dtype)
    mu, sig = heads["theta_mu"], heads["theta_sig"]
    if output == "gauss":
        return op.Gaussian_sample(mu, sig, eps=noise["eps_x"])[0]
    if output == "gmm":
        return op.GMM_sample(mu, sig, heads["coeff"], eps=noise["eps_x"], u=noise["u"])[0]
    if output == "bigauss":
        # A bivariate Gaussian is the one-component BiGMM: mu / sig (B, 2) read as (2, 1).
        coeff = pt.ones_like(heads["corr"])
        return op.BiGMM_sample(mu, sig, coeff, heads["corr"], heads["binary"], eps=noise["eps_x"],
                               u=noise["u"], u_pen=noise["u_pen"])[0]
    return op.BiGMM_sample(mu, sig, heads["coeff"], heads["corr"], heads["binary"], eps=noise["eps_x"],
                           u=noise["u"], u_pen=noise["u_pen"])[0]
