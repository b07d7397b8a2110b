"""The one place that decides how PyTensor graphs are compiled and in which precision.

PyTensor 3 defaults to its Numba backend, whose first call on a scan graph takes minutes.
This project compiles with the C backend (the CVM linker) unless the user asks for another
mode, by name, through :func:`set_mode`, the ``VRNN_MODE`` environment variable, or the
``mode=`` argument of :func:`function`.

Speed settings of the C mode (each measured on the Blizzard VRNN-GMM, see benchmarks/README.md):

- the rewrite ``local_dot22_to_dot22scalar`` is left out (:data:`EXCLUDED_REWRITES`);
- the gradient of ``scan`` does not run PyTensor's ``forced_replace`` substitution
  (:func:`set_scan_grad_forced_replace`).

Precision: float32 is the training default; float64 works everywhere (the golden tests use it).
``floatX`` follows PyTensor's ``config.floatX``; on import ``cle`` sets it to float32 unless
``PYTENSOR_FLAGS`` names ``floatX`` or ``VRNN_FLOATX`` is set.

Example
-------
>>> import cle.backend as B
>>> B.mode_name()
'c'
"""
import contextlib
import logging
import os
import sys

import pytensor
import pytensor.scan.op  # noqa: F401  (the module whose forced_replace the scan gradient calls)
from pytensor.compile.mode import Mode, get_mode

log = logging.getLogger(__name__)

#: Mode names a user may give, mapped to what PyTensor calls them.
MODES = ("c", "jax", "numba")

_state = {"mode": None}

#: Rewrites the C mode leaves out. ``local_dot22_to_dot22scalar`` folds a scalar factor into a
#: matrix product without checking the product's other uses: a gradient that is both clipped
#: (times 5 / max(5, norm)) and measured (for the norm) was computed by two separate products.
#: ``local_softmax_stabilize`` turns ``exp(x) / sum(exp(x))`` into PyTensor's Softmax op, which the
#: C backend runs through Python (55 ms a call on the benchmark's (40, 32, 20) mixture weights;
#: the elementwise C code it replaces takes well under 1 ms).
EXCLUDED_REWRITES = ("local_dot22_to_dot22scalar", "local_softmax_stabilize")

#: Set ``VRNN_SCAN_FORCED_REPLACE=1`` to keep PyTensor's own scan-gradient substitution.
FORCED_REPLACE_ENV = "VRNN_SCAN_FORCED_REPLACE"

_scan_op_module = sys.modules["pytensor.scan.op"]
_pytensor_forced_replace = _scan_op_module.forced_replace


def _keep_graph(out, x, y):
    """Stand-in for PyTensor's ``forced_replace``: leave the gradient graph as it is."""
    return out


def set_scan_grad_forced_replace(enabled):
    """Choose whether the gradient of ``scan`` runs PyTensor's ``forced_replace`` (default: no).

    ``Scan``'s gradient substitutes saved forward outputs into the backward step by calling
    ``forced_replace`` once per differentiable input; each call clones the gradient graph, and the
    clones are not merged again. On the VRNN-GMM the backward step then held 235 matrix products
    instead of 35, took 4-5 times longer, and its rewrites added a minute of compile time. Without
    it, the backward step recomputes those forward outputs from its inputs (same values).
    Affects gradients built after the call.

    Parameters
    ----------
    enabled : bool
        True restores PyTensor's behaviour.
    """
    _scan_op_module.forced_replace = _pytensor_forced_replace if enabled else _keep_graph


def apply_defaults():
    """Set float32 and the C backend unless the user chose otherwise (called on ``import cle``)."""
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    env_floatx = os.environ.get("VRNN_FLOATX")
    if env_floatx:
        set_floatX(env_floatx)
    elif "floatX" not in flags:
        pytensor.config.floatX = "float32"
    env_mode = os.environ.get("VRNN_MODE")
    if env_mode:
        set_mode(env_mode)
    set_scan_grad_forced_replace(os.environ.get(FORCED_REPLACE_ENV, "0") == "1")


def floatX():
    """The float dtype of new shared variables and casts ('float32' or 'float64')."""
    return pytensor.config.floatX


def set_floatX(dtype):
    """Select the float precision for graphs built from now on.

    Parameters
    ----------
    dtype : {'float32', 'float64'}
    """
    if dtype not in ("float32", "float64"):
        raise ValueError(f"floatX must be 'float32' or 'float64', got {dtype!r}")
    pytensor.config.floatX = dtype


@contextlib.contextmanager
def precision(dtype):
    """Context manager: build (and compile) graphs in ``dtype``, then restore the previous one."""
    previous = floatX()
    set_floatX(dtype)
    try:
        yield
    finally:
        set_floatX(previous)


def set_mode(name):
    """Select the compilation mode by name: 'c' (default), 'jax' or 'numba'."""
    name = (name or "c").lower()
    if name not in MODES:
        raise ValueError(f"unknown compile mode {name!r}; expected one of {', '.join(MODES)}")
    _state["mode"] = name


def mode_name():
    """The selected mode's name ('c' unless set otherwise)."""
    return _state["mode"] or "c"


def get_compile_mode(name=None):
    """The PyTensor ``Mode`` object for ``name`` (default: the selected mode).

    'c' is the C backend with the CVM linker and the fast_run rewrites less
    :data:`EXCLUDED_REWRITES`; 'jax' and 'numba' are PyTensor's own JAX and NUMBA modes (JAX needs
    static input shapes).
    """
    name = (name or mode_name()).lower()
    if name == "c":
        return Mode(linker="cvm", optimizer="fast_run").excluding(*EXCLUDED_REWRITES)
    if name == "jax":
        return get_mode("JAX")
    if name == "numba":
        return get_mode("NUMBA")
    raise ValueError(f"unknown compile mode {name!r}; expected one of {', '.join(MODES)}")


def function(inputs, outputs=None, updates=None, givens=None, mode=None, name=None, **kwargs):
    """``pytensor.function`` compiled in the project's mode; same arguments.

    Every graph of the project is compiled through here, so the backend choice lives in one place.
    """
    return pytensor.function(
        inputs,
        outputs,
        updates=updates,
        givens=givens,
        mode=get_compile_mode(mode),
        name=name,
        on_unused_input=kwargs.pop("on_unused_input", "ignore"),
        **kwargs,
    )
