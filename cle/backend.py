"""The one place that decides how PyTensor graphs are compiled and in which precision.

PyTensor 3 defaults to its Numba backend, whose first call on a scan graph takes minutes.
This project compiles with the C backend (the CVM linker) unless the user asks for another
mode, by name, through :func:`set_mode`, the ``VRNN_MODE`` environment variable, or the
``mode=`` argument of :func:`function`.

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

import pytensor
from pytensor.compile.mode import Mode, get_mode

log = logging.getLogger(__name__)

#: Mode names a user may give, mapped to what PyTensor calls them.
MODES = ("c", "jax", "numba")

_state = {"mode": None}


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

    'c' is the C backend with the CVM linker and the fast_run rewrites; 'jax' and 'numba' are
    PyTensor's own JAX and NUMBA modes (JAX needs static input shapes).
    """
    name = (name or mode_name()).lower()
    if name == "c":
        return Mode(linker="cvm", optimizer="fast_run")
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
