"""The building blocks of every model: parameter initialisers, units and the base layer.

- :class:`InitCell` draws a parameter array (the legacy ``cle.cle.layers.InitCell``);
- :data:`UNITS` maps a unit (nonlinearity) name to a function on tensors, see :func:`get_unit`;
- :class:`StemCell` is the base of all layers: a node with a ``name``, ``parent`` labels and
  their widths ``parent_dim``, whose :meth:`StemCell.initialize` returns its parameters by
  their legacy names and whose ``fprop(xs, params)`` builds the symbolic output.

Seeding: an :class:`InitCell` made with ``seed`` or ``rng`` draws from its own generator;
otherwise it draws from one module-level generator, which :func:`set_seed` resets, so two model
builds that follow the same ``set_seed(n)`` have identical parameters.
"""
import logging
from collections import OrderedDict

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad

from cle.backend import floatX
from cle.fused.softplus import softplus

log = logging.getLogger(__name__)

__all__ = [
    "InitCell",
    "StemCell",
    "leading_columns",
    "UNITS",
    "get_unit",
    "set_seed",
    "default_rng",
    "DEFAULT_SEED",
]

#: Seed of the module-level generator at import (the legacy code seeded from the clock).
DEFAULT_SEED = 1234

_default = {"rng": np.random.default_rng(DEFAULT_SEED)}


def set_seed(seed):
    """Reset the module-level generator used by every :class:`InitCell` without its own seed.

    Parameters
    ----------
    seed : int

    >>> set_seed(3); a = InitCell('randn').get((2,))
    >>> set_seed(3); b = InitCell('randn').get((2,))
    >>> bool((a == b).all())
    True
    """
    _default["rng"] = np.random.default_rng(seed)


def default_rng():
    """The module-level numpy generator that :func:`set_seed` resets."""
    return _default["rng"]


# ---------------------------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------------------------

#: Slope of ``hard_sigmoid`` = clip(0.2 z + 0.5, 0, 1), Theano's piecewise-linear sigmoid.
HARD_SIGMOID_SLOPE = 0.2
#: Gain of ``steeper_sigmoid`` = 1 / (1 + exp(-3.75 z)): a sigmoid whose slope at 0 (3.75 / 4)
#: is close to 1, as in the legacy cle.
STEEPER_SIGMOID_GAIN = 3.75


def _linear(z):
    return z


def _relu(z):
    return z * (z > 0)


def _softmax(z):
    # Written out rather than pt.special.softmax: PyTensor 3's C backend runs that op through
    # Python (cle.backend.EXCLUDED_REWRITES keeps it from coming back). The max is only a shift
    # for stability (softmax does not depend on it), so no gradient flows through it.
    shift = disconnected_grad(z.max(axis=-1, keepdims=True))
    e = pt.exp(z - shift)
    return e / e.sum(axis=-1, keepdims=True)


def _hard_tanh(z):
    return pt.clip(z, -1.0, 1.0)


def _hard_sigmoid(z):
    return pt.clip(HARD_SIGMOID_SLOPE * z + 0.5, 0.0, 1.0)


def _steeper_sigmoid(z):
    return 1.0 / (1.0 + pt.exp(-STEEPER_SIGMOID_GAIN * z))


#: Unit name -> function on tensors. softmax normalises over the LAST axis (2-D and 3-D alike);
#: relu is ``z * (z > 0)`` as in the legacy code; softplus is :data:`cle.fused.softplus.softplus`
#: (vectorised C); hard_tanh = clip(z, -1, 1);
#: hard_sigmoid = clip(0.2 z + 0.5, 0, 1); steeper_sigmoid = 1 / (1 + exp(-3.75 z)).
UNITS = OrderedDict(
    [
        ("linear", _linear),
        ("relu", _relu),
        ("sigmoid", pt.sigmoid),
        ("tanh", pt.tanh),
        ("softplus", softplus),
        ("softmax", _softmax),
        ("hard_tanh", _hard_tanh),
        ("hard_sigmoid", _hard_sigmoid),
        ("steeper_sigmoid", _steeper_sigmoid),
    ]
)


def get_unit(name):
    """The function of the unit called ``name`` (a key of :data:`UNITS`).

    >>> get_unit('linear')(3)
    3
    """
    if name not in UNITS:
        raise ValueError(f"unknown unit {name!r}; expected one of {', '.join(UNITS)}")
    return UNITS[name]


# ---------------------------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------------------------

class InitCell:
    """A recipe for drawing a parameter array (the legacy ``InitCell``).

    Parameters
    ----------
    init_type : {'rand', 'randn', 'zeros', 'ones', 'const', 'ortho'}
        'rand': uniform(low, high); 'randn': normal(mean, stddev); 'zeros'; 'ones';
        'const': every entry equals ``mean``; 'ortho': an orthonormal basis of a
        normal(mean, stddev) matrix (its Q factor, :meth:`_ortho`). For a square (n, n) request
        the result is orthogonal; for (n, m) with n > m its m columns are orthonormal; for n < m
        its n rows are orthonormal (the transpose of the n > m case). 'ortho' needs a 2-D shape.
    mean, stddev : float
        Of 'randn' (and of the matrix 'ortho' orthonormalises); ``mean`` is the value of 'const'.
    low, high : float
        Range of 'rand'.
    seed : int, optional
        Gives this cell its own generator ``np.random.default_rng(seed)``.
    rng : np.random.Generator or np.random.RandomState, optional
        A generator to draw from (takes precedence over ``seed``).
        With neither, draws come from the module generator reset by :func:`set_seed`.

    Examples
    --------
    >>> InitCell('const', mean=0.5).get((2, 3)).tolist()
    [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
    >>> w = InitCell('ortho', seed=0).get((4, 4)).astype('float64')
    >>> bool(np.allclose(w @ w.T, np.eye(4), atol=1e-5))
    True
    """

    INIT_TYPES = ("rand", "randn", "zeros", "ones", "const", "ortho")

    def __init__(self, init_type="randn", mean=0.0, stddev=0.01, low=-0.08, high=0.08, seed=None, rng=None):
        if init_type not in self.INIT_TYPES:
            raise ValueError(f"unknown init_type {init_type!r}; expected one of {', '.join(self.INIT_TYPES)}")
        if init_type in ("randn", "ortho") and stddev <= 0:
            raise ValueError(f"InitCell({init_type!r}): stddev must be > 0, got {stddev}")
        if init_type == "rand" and not low < high:
            raise ValueError(f"InitCell('rand'): need low < high, got low={low}, high={high}")
        self.init_type = init_type
        self.mean = mean
        self.stddev = stddev
        self.low = low
        self.high = high
        if rng is not None:
            self.rng = rng
        elif seed is not None:
            self.rng = np.random.default_rng(seed)
        else:
            self.rng = None

    def __repr__(self):
        return f"InitCell({self.init_type!r})"

    def _generator(self):
        return self.rng if self.rng is not None else default_rng()

    def get(self, shape):
        """A new array of ``shape`` in floatX drawn by this recipe."""
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        if self.init_type == "zeros":
            value = np.zeros(shape)
        elif self.init_type == "ones":
            value = np.ones(shape)
        elif self.init_type == "const":
            value = np.full(shape, self.mean)
        elif self.init_type == "rand":
            value = self._generator().uniform(self.low, self.high, size=shape)
        elif self.init_type == "randn":
            value = self._generator().normal(self.mean, self.stddev, size=shape)
        else:
            value = self._ortho(shape)
        return np.asarray(value, dtype=floatX())

    def _ortho(self, shape):
        """The Q factor of a normal(mean, stddev) matrix, each column's sign that of R's diagonal.

        With mean 0 (the paper's) this draws from the Haar distribution of orthogonal matrices
        (Mezzadri 2007, "How to generate random matrices from the classical compact groups").
        The legacy recipe, ``scipy.linalg.orth`` (the left singular vectors of the same matrix),
        is orthogonal too but not quite Haar: LAPACK's sign convention biases its diagonal (n = 4:
        means -0.24, -0.12, -0.13, +0.22 where Haar has 0). The QR costs a fifth of the SVD: a
        4000 x 4000 block of the paper's Blizzard LSTM takes 5 s against 24 s on 2 cores, and
        there are four before every run's first update.
        """
        if len(shape) != 2:
            raise ValueError(f"InitCell('ortho') needs a 2-D shape, got {shape}")
        n_rows, n_cols = shape
        tall = n_rows >= n_cols
        raw = self._generator().normal(self.mean, self.stddev, size=(n_rows, n_cols) if tall else (n_cols, n_rows))
        q, r = np.linalg.qr(raw)
        q *= np.where(np.diag(r) < 0, -1.0, 1.0)
        return q if tall else q.T


# ---------------------------------------------------------------------------------------------
# Base layer
# ---------------------------------------------------------------------------------------------

def leading_columns(x, stop):
    """``x[..., :stop]`` with the static width ``stop`` in its type.

    A product ``leading_columns(h, n) @ W`` inside ``scan`` then has a weight gradient
    ``h.T @ g`` whose static shape matches ``W``'s, so PyTensor adds no ``SpecifyShape``
    around it and its ``scan_pushout_add`` rewrite can move the per-step accumulation
    ``acc + h_t.T @ g_t`` out of the backward scan as one product over all T * B rows.

    Parameters
    ----------
    x : tensor (..., >= stop)
    stop : int

    Returns
    -------
    tensor (..., stop), same values as ``x[..., :stop]``
    """
    cols = x[..., :stop]
    if cols.type.shape[-1] is None:
        cols = pt.specify_shape(cols, (None,) * (cols.ndim - 1) + (stop,))
    return cols


class StemCell:
    """Base of all layers: a named node fed by labelled parents of given widths.

    Parameters
    ----------
    name : str
        The layer's name; its parameters are named ``W_<parent>__<name>`` and ``b_<name>``.
    parent : list of str
        Labels of the inputs, in the order ``fprop`` receives them.
    parent_dim : list of int
        Width used from each parent: an input wider than its ``parent_dim`` contributes only
        its first ``parent_dim`` columns, ``x[..., :parent_dim]``.
    nout : int
        Output width.
    init_W, init_b : InitCell
        Recipes for the weights (default ``InitCell('randn')``) and the bias (``InitCell('zeros')``).
    cons : float
        Constant added after the unit.
    unit : str
        A key of :data:`UNITS`.
    """

    def __init__(self, name, parent=None, parent_dim=None, nout=None, init_W=None, init_b=None, cons=0.0,
                 unit="linear"):
        parent = list(parent) if parent is not None else []
        parent_dim = list(parent_dim) if parent_dim is not None else []
        if len(parent) != len(parent_dim):
            raise ValueError(
                f"layer {name!r}: parent has {len(parent)} entries ({parent}) but parent_dim has "
                f"{len(parent_dim)} ({parent_dim}); they must have the same length")
        for label, dim in zip(parent, parent_dim):
            if int(dim) <= 0:
                raise ValueError(f"layer {name!r}: parent_dim of {label!r} must be a positive int, got {dim}")
        if nout is not None and int(nout) <= 0:
            raise ValueError(f"layer {name!r}: nout must be a positive int, got {nout}")
        get_unit(unit)
        self.name = name
        self.parent = parent
        self.parent_dim = [int(d) for d in parent_dim]
        self.nout = None if nout is None else int(nout)
        self.init_W = init_W if init_W is not None else InitCell("randn")
        self.init_b = init_b if init_b is not None else InitCell("zeros")
        self.cons = cons
        self.unit = unit

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, parent={self.parent}, nout={self.nout})"

    @property
    def nonlin(self):
        """The unit's function."""
        return get_unit(self.unit)

    def weight_name(self, parent):
        """Legacy name of the weight from ``parent``: ``W_<parent>__<name>``."""
        return f"W_{parent}__{self.name}"

    @property
    def bias_name(self):
        """Legacy name of the bias: ``b_<name>``."""
        return f"b_{self.name}"

    def initialize(self):
        """Parameters by legacy name: ``W_<parent>__<name>`` (parent_dim, nout) per parent, ``b_<name>`` (nout,).

        Returns
        -------
        OrderedDict of str -> ndarray (floatX)
        """
        params = OrderedDict()
        for label, dim in zip(self.parent, self.parent_dim):
            params[self.weight_name(label)] = self.init_W.get((dim, self.nout))
        params[self.bias_name] = self.init_b.get((self.nout,))
        return params

    @property
    def width(self):
        """Columns of each weight and of the bias (``nout``; recurrent layers: blocks * nout)."""
        return self.nout

    def project_parents(self, inputs, params):
        """``sum_p inputs[p][..., :dim_p] @ W_p`` over the parents named in ``inputs`` only.

        Parameters
        ----------
        inputs : dict parent label -> tensor (B, >= dim_p) or (T, B, >= dim_p)
        params : dict name -> tensor
        """
        dims = dict(zip(self.parent, self.parent_dim))
        unknown = [label for label in inputs if label not in dims]
        if unknown:
            raise ValueError(f"layer {self.name!r}: {unknown} are not parents of it ({self.parent})")
        terms = [pt.dot(leading_columns(x, dims[label]), params[self.weight_name(label)])
                 for label, x in inputs.items()]
        return terms[0] if len(terms) == 1 else sum(terms[1:], terms[0])

    def project(self, xs, params):
        """``sum_p xs[p][..., :dim_p] @ W_p`` over the parents (no bias).

        Parameters
        ----------
        xs : list of tensors, aligned with ``parent``, each (B, >= dim_p) or (T, B, >= dim_p)
        params : dict name -> tensor

        Returns
        -------
        tensor (..., n) where n is the weights' output width
        """
        xs = list(xs) if isinstance(xs, (list, tuple)) else [xs]
        if len(xs) != len(self.parent):
            raise ValueError(f"layer {self.name!r}: got {len(xs)} inputs for {len(self.parent)} parents {self.parent}")
        return self.project_parents(dict(zip(self.parent, xs)), params)

    def fprop(self, xs, params):
        """The symbolic output for inputs ``xs`` (implemented by each layer)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement fprop")
