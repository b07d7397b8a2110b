"""The layers of each model family, with their legacy names, in legacy parameter order.

Naming scheme (legacy, generalised to a stack depth ``L``; Blizzard L = 4, IAM-OnDB L = 1):

- x features ``x_1 .. x_L`` (relu, x2s_dim): ``x_1`` reads the frame labelled ``x_t``;
- z features ``z_1 .. z_L`` (relu, z2s_dim): ``z_1`` reads ``z_t``;
- encoder ``phi_1 .. phi_L`` (relu, q_z_dim): ``phi_1`` reads ``[x_L, s_tm1]``; heads ``phi_mu``
  (linear, z_dim) and ``phi_sig`` (softplus + 1e-4, z_dim) read ``phi_L``;
- prior ``prior_1 .. prior_L`` (relu, p_z_dim) on ``s_tm1``; heads ``prior_mu``, ``prior_sig``
  (absent for VRNN-I, whose prior is N(0, I));
- decoder ``theta_1 .. theta_L`` (relu, p_x_dim): ``theta_1`` reads ``[z_L, s_tm1]`` (VRNN) or
  ``[s_tm1]`` (RNN); output heads from :mod:`nips2015_vrnn.models.outputs`;
- the LSTM ``rnn`` (rnn_dim units) reads ``[x_L, z_L]`` (VRNN) or ``[x_L]`` (RNN).

``s_tm1`` layers declare parent width rnn_dim, so they read h of the state [h, c].
Order (the legacy ``nodes`` list): rnn, x stack, z stack, phi stack + heads, prior stack + heads,
theta stack + output heads. The RNN family has rnn, x stack, theta stack + heads.

Initialisation (legacy): W uniform(-0.08, 0.08), U four orthonormal blocks, biases zero, sigma
biases 0.6; drawn from ``np.random.default_rng(config.seed)`` in that order.
"""
import math
from collections import OrderedDict

import numpy as np

from cle.layers import InitCell
from cle.layers.feedforward import FullyConnectedLayer
from cle.layers.recurrent import LSTM, RecurrentLayer
from nips2015_vrnn.models.outputs import SIG_CONS, head_layers, sig_bias_init

__all__ = ["build_layers", "param_shapes", "count_params", "stack_names"]


def stack_names(prefix, depth):
    """``['<prefix>_1', ..., '<prefix>_<depth>']``."""
    return [f"{prefix}_{i}" for i in range(1, depth + 1)]


def _stack(prefix, first_parents, first_dims, width, depth, init_W):
    layers = []
    parents, dims = list(first_parents), list(first_dims)
    for name in stack_names(prefix, depth):
        layers.append(FullyConnectedLayer(name, parents, dims, width, unit="relu", init_W=init_W,
                                          init_b=InitCell("zeros")))
        parents, dims = [name], [width]
    return layers


def _gauss_heads(prefix, parent, parent_dim, z_dim, init_W):
    return [FullyConnectedLayer(f"{prefix}_mu", [parent], [parent_dim], z_dim, unit="linear", init_W=init_W,
                                init_b=InitCell("zeros")),
            FullyConnectedLayer(f"{prefix}_sig", [parent], [parent_dim], z_dim, unit="softplus", cons=SIG_CONS,
                                init_W=init_W, init_b=sig_bias_init())]


def build_layers(config, rng=None):
    """The model's layers by name, in legacy order.

    Parameters
    ----------
    config : ModelConfig
    rng : np.random.Generator, optional
        Source of the initial values (default ``default_rng(config.seed)``).

    Returns
    -------
    OrderedDict name -> layer
    """
    rng = rng if rng is not None else np.random.default_rng(config.seed)
    init_W = InitCell("rand", rng=rng)
    init_U = InitCell("ortho", rng=rng)
    c, depth = config, config.depth
    x_top, z_top = f"x_{depth}", f"z_{depth}"
    layers = []
    if c.family == "vrnn":
        layers.append(LSTM("rnn", [x_top, z_top], [c.x2s_dim, c.z2s_dim], c.rnn_dim, unit="tanh",
                           init_W=init_W, init_U=init_U, init_b=InitCell("zeros")))
    else:
        layers.append(LSTM("rnn", [x_top], [c.x2s_dim], c.rnn_dim, unit="tanh", init_W=init_W, init_U=init_U,
                           init_b=InitCell("zeros")))
    layers += _stack("x", ["x_t"], [c.x_dim], c.x2s_dim, depth, init_W)
    if c.family == "vrnn":
        layers += _stack("z", ["z_t"], [c.z_dim], c.z2s_dim, depth, init_W)
        layers += _stack("phi", [x_top, "s_tm1"], [c.x2s_dim, c.rnn_dim], c.q_z_dim, depth, init_W)
        layers += _gauss_heads("phi", f"phi_{depth}", c.q_z_dim, c.z_dim, init_W)
        if c.prior == "learned":
            layers += _stack("prior", ["s_tm1"], [c.rnn_dim], c.p_z_dim, depth, init_W)
            layers += _gauss_heads("prior", f"prior_{depth}", c.p_z_dim, c.z_dim, init_W)
        layers += _stack("theta", [z_top, "s_tm1"], [c.z2s_dim, c.rnn_dim], c.p_x_dim, depth, init_W)
    else:
        layers += _stack("theta", ["s_tm1"], [c.rnn_dim], c.p_x_dim, depth, init_W)
    layers += head_layers(c.output, f"theta_{depth}", c.p_x_dim, c.x_dim, c.num_k, init_W)
    return OrderedDict((layer.name, layer) for layer in layers)


def param_shapes(config):
    """Legacy parameter names -> shapes, in legacy order, without drawing any value.

    >>> from nips2015_vrnn.models.presets import get_preset
    >>> shapes = param_shapes(get_preset('iamondb/vrnn_gmm'))
    >>> shapes['W_x_t__x_1'], shapes['U_rnn__rnn']
    ((3, 250), (1200, 4800))
    """
    shapes = OrderedDict()
    for layer in build_layers(config, rng=np.random.default_rng(0)).values():
        for parent, dim in zip(layer.parent, layer.parent_dim):
            shapes[layer.weight_name(parent)] = (dim, layer.width)
        if isinstance(layer, RecurrentLayer):
            shapes[layer.recurrent_name] = (layer.nout, layer.width)
        shapes[layer.bias_name] = (layer.width,)
    return shapes


def count_params(config):
    """Total number of scalar parameters of ``config``'s model (no values drawn).

    >>> from nips2015_vrnn.models.presets import get_preset
    >>> count_params(get_preset('blizzard/vrnn_gmm')) > 10 ** 7
    True
    """
    return int(sum(math.prod(shape) for shape in param_shapes(config).values()))
