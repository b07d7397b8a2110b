"""The one place that decides how PyTensor graphs are compiled and in which precision.

Importing this module (or ``cle``) changes nothing in PyTensor: no flag is set and no PyTensor
function is replaced. What a graph needs is set where the graph is built:

- **precision**: :func:`floatX` is the project's precision, float32 unless ``VRNN_FLOATX`` or a
  ``floatX`` in ``PYTENSOR_FLAGS`` says otherwise, or :func:`set_floatX` / :func:`precision`
  chose another. Graph builders run inside ``with precision(...)``, which sets PyTensor's
  ``config.floatX`` for the duration of the block only.
- **mode**: JAX when the jax package is installed, else the C backend (CVM linker)
  (:data:`DEFAULT_MODE_PREFERENCE`), unless the user picks one by name through :func:`set_mode`,
  the ``VRNN_MODE`` environment variable, or ``mode=`` of :func:`function`.
  :data:`MODES` is the one table of mode names; the command line derives its choices from it.
- **scan gradient**: gradients through ``scan`` are built inside :func:`scan_gradient`, which,
  for that block only, replaces PyTensor's ``forced_replace`` substitution by one that finds the
  forward outputs by identity and shares what it rebuilds (see there).

Environment variables read here: ``VRNN_MODE`` (c, jax, numba), ``VRNN_FLOATX`` (float32,
float64), ``VRNN_SCAN_FORCED_REPLACE`` (1 keeps PyTensor's scan-gradient substitution).

Example
-------
>>> import cle.backend as B
>>> B.mode_name() in B.MODES
True
>>> with B.precision('float64'):
...     B.floatX()
'float64'
"""
import contextlib
import importlib
import importlib.util
import logging
import os
import warnings
from collections import OrderedDict

import pytensor
from pytensor.compile.mode import Mode, get_mode

from cle.errors import UserError
from cle.finish import finish

log = logging.getLogger(__name__)

#: Compile modes a user may give: name -> (what it is, the pip package it needs or None).
MODES = OrderedDict([
    ("c", ("PyTensor's C backend with the CVM linker (no extra install)", None)),
    ("jax", ("PyTensor's JAX backend (XLA; CPU or GPU)", "jax")),
    ("numba", ("PyTensor's Numba backend", "numba")),
])
#: The mode used when none is chosen: the first of these whose package is installed. JAX first:
#: XLA compiles a training graph in well under a minute where the C backend's compiler takes
#: minutes cold, and trains faster on the CPU (benchmarks/README.md); C needs no extra install.
DEFAULT_MODE_PREFERENCE = ("jax", "c")
#: Modes whose compiled functions need static input shapes (the graphs are built once per shape)
#: and whose graphs cannot draw from numpy generators (the JAX linker draws from a copy of a
#: shared generator, so the noise is drawn on the host and fed as an input).
STATIC_SHAPE_MODES = ("jax",)
#: Float precisions a graph may be built in.
FLOATX_CHOICES = ("float32", "float64")
#: The project's precision when nothing else is chosen.
DEFAULT_FLOATX = "float32"

MODE_ENV = "VRNN_MODE"
FLOATX_ENV = "VRNN_FLOATX"
#: Set ``VRNN_SCAN_FORCED_REPLACE=1`` to keep PyTensor's own scan-gradient substitution.
FORCED_REPLACE_ENV = "VRNN_SCAN_FORCED_REPLACE"

#: Rewrites the C mode leaves out. ``local_dot22_to_dot22scalar`` folds a scalar factor into a
#: matrix product without checking the product's other uses: a gradient that is both clipped
#: (times 5 / max(5, norm)) and measured (for the norm) was computed by two separate products.
#: ``local_softmax_stabilize`` turns ``exp(x) / sum(exp(x))`` into PyTensor's Softmax op, which the
#: C backend runs through Python (55 ms a call on the benchmark's (40, 32, 20) mixture weights;
#: the elementwise C code it replaces takes well under 1 ms).
EXCLUDED_REWRITES = ("local_dot22_to_dot22scalar", "local_softmax_stabilize")

#: Rewrites the JAX mode leaves out. ``fusion`` builds PyTensor ``Composite`` ops out of
#: elementwise chains, which XLA fuses on its own: without it the demo's stored training function
#: loads in 2.8 s instead of 3.9 s and the main benchmark config's step is as fast (same cost to
#: the last digit; benchmarks/README.md).
JAX_EXCLUDED_REWRITES = ("fusion",)

_state = {"mode": None, "floatX": None}


class ModeError(UserError):
    """An unknown compile mode, or one whose package is not installed."""


# ---------------------------------------------------------------------- precision
def _default_floatX():
    env = os.environ.get(FLOATX_ENV)
    if env:
        return _checked_floatX(env)
    if "floatX" in os.environ.get("PYTENSOR_FLAGS", ""):
        return pytensor.config.floatX
    return DEFAULT_FLOATX


def _checked_floatX(dtype):
    if dtype not in FLOATX_CHOICES:
        raise UserError(f"floatX must be one of {', '.join(FLOATX_CHOICES)}; got {dtype!r}")
    return dtype


def floatX():
    """The float dtype of new parameters, casts and graphs ('float32' or 'float64')."""
    return _state["floatX"] or _default_floatX()


def set_floatX(dtype):
    """Select the project's float precision for graphs built from now on.

    Only the project's choice changes; PyTensor's ``config.floatX`` is set inside
    :func:`precision` blocks, where graphs are built.

    Parameters
    ----------
    dtype : {'float32', 'float64'}
    """
    _state["floatX"] = _checked_floatX(dtype)


@contextlib.contextmanager
def precision(dtype=None):
    """Context manager: build (and compile) graphs in ``dtype`` (default :func:`floatX`).

    Inside the block both :func:`floatX` and PyTensor's ``config.floatX`` are ``dtype``; both
    are restored on exit.
    """
    dtype = _checked_floatX(dtype or floatX())
    previous_state, previous_config = _state["floatX"], pytensor.config.floatX
    _state["floatX"] = dtype
    pytensor.config.floatX = dtype
    try:
        yield
    finally:
        _state["floatX"] = previous_state
        pytensor.config.floatX = previous_config


# ---------------------------------------------------------------------- scan gradient
def _replace_by_identity():
    """Stand-in for PyTensor's ``forced_replace(out, x, y)``: ``out`` with the variable ``x`` replaced
    by ``y``, found by identity (no search for structurally equal copies of ``x``).

    ``Scan``'s gradient calls it once per (differentiable input, forward output) pair, the outputs
    always in the same order. All calls share their tables, so the parts that the gradients of
    several inputs have in common are rebuilt once and stay shared (PyTensor's version clones them
    per input), and an output computed from an earlier one (a product of a product) is still
    found after the earlier substitution rebuilt it: its rebuilt copies are replaced as well.
    """
    tables = {}

    def replace(out, x, y):
        if out is None:
            return None
        table = tables.setdefault((x, y), {})
        images = {x}
        for key, earlier in tables.items():
            if key == (x, y):
                break
            images |= {earlier[v] for v in images if v in earlier}
        table.update((v, y) for v in images)
        stack = [out]
        while stack:
            var = stack[-1]
            if var in table:
                stack.pop()
                continue
            node = var.owner
            if node is None:
                table[var] = var
                stack.pop()
                continue
            pending = [i for i in node.inputs if i not in table]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            new_inputs = [table[i] for i in node.inputs]
            if all(new is old for new, old in zip(new_inputs, node.inputs)):
                table.update((o, o) for o in node.outputs)
            else:
                table.update(zip(node.outputs, node.clone_with_new_inputs(new_inputs).outputs))
        return table[out]

    return replace


def _static_length(s):
    """The value of the scalar shape element ``s`` when it is known without a graph rewrite: a
    constant, or dimension i of a variable whose type has that dimension (``x.shape[i]``)."""
    from pytensor.graph.basic import Constant
    from pytensor.tensor.shape import Shape, Shape_i
    from pytensor.tensor.subtensor import Subtensor

    if isinstance(s, Constant):
        return int(s.data)
    owner = s.owner
    if owner is None:
        return None
    if isinstance(owner.op, Shape_i):
        return owner.inputs[0].type.shape[owner.op.i]
    if (isinstance(owner.op, Subtensor) and owner.inputs[0].owner is not None
            and isinstance(owner.inputs[0].owner.op, Shape) and len(owner.inputs) == 2
            and isinstance(owner.inputs[1], Constant)):
        return owner.inputs[0].owner.inputs[0].type.shape[int(owner.inputs[1].data)]
    return None


def _shallow_static_shape(shape):
    """Stand-in for PyTensor's ``infer_static_shape`` (same arguments and result): the static
    shape from :func:`_static_length` of each element, without cloning the graph behind it."""
    from pytensor.tensor import as_tensor_variable
    from pytensor.tensor.type import integer_dtypes

    elements = [as_tensor_variable(s, ndim=0) for s in shape]
    for s in elements:
        if s.type.dtype not in integer_dtypes:
            raise TypeError(f"Shapes must be scalar integers; got {s}")
    return elements, tuple(_static_length(s) for s in elements)


@contextlib.contextmanager
def scan_gradient(forced_replace=None):
    """Context manager around the construction of gradients through ``scan``.

    ``Scan``'s gradient substitutes saved forward outputs into the backward step by calling
    ``forced_replace`` once per (differentiable input, forward output); each call clones the
    gradient graph, and the clones are not merged again. On the VRNN-GMM the backward step then
    held 235 matrix products, took 4-5 times longer, and its rewrites added a minute of compile
    time. Inside this block (only) the substitution is :func:`_replace_by_identity`: one shared
    rebuild that finds each forward output by identity, so the backward step reads every forward
    output back instead of recomputing it, with nothing duplicated. With the step's matrix products
    among those outputs (:func:`cle.utils.scan.scan_keeping_products`) the VRNN's backward step
    holds 18 products (its input gradients), against 35 when it recomputed the forward ones.
    Nothing outside the block is affected.

    Also inside the block, the static shape of every ``zeros`` / ``alloc`` the gradient creates
    is read off its shape elements (:func:`_shallow_static_shape`) instead of PyTensor's
    ``infer_static_shape``, which clones the whole graph behind each symbolic shape (the forward
    scan included) and runs the shape rewrites on the clone: 38 such calls made half of a
    gradient's build time. The graph is the same; only a static dimension that would have needed
    a rewrite to be known stays unknown in the type (the compile's rewrites still find it).

    Parameters
    ----------
    forced_replace : bool or None
        True keeps PyTensor's behaviour; None reads ``VRNN_SCAN_FORCED_REPLACE`` (default off).
    """
    if forced_replace is None:
        forced_replace = os.environ.get(FORCED_REPLACE_ENV, "0") == "1"
    tensor_basic = importlib.import_module("pytensor.tensor.basic")
    original_infer = tensor_basic.infer_static_shape
    tensor_basic.infer_static_shape = _shallow_static_shape
    scan_op = importlib.import_module("pytensor.scan.op")
    original = scan_op.forced_replace
    if not forced_replace:
        scan_op.forced_replace = _replace_by_identity()
    try:
        yield
    finally:
        scan_op.forced_replace = original
        tensor_basic.infer_static_shape = original_infer


# ---------------------------------------------------------------------- mode
def check_mode(name):
    """``name`` lower-cased when it is a mode of :data:`MODES` whose package is installed.

    Raises
    ------
    ModeError
        Unknown mode, or its package missing (the message gives the install command).
    """
    name = (name or default_mode()).lower()
    if name not in MODES:
        raise ModeError(f"unknown compile mode {name!r}; expected one of {', '.join(MODES)}")
    if not installed(name):
        package = MODES[name][1]
        raise ModeError(f"compile mode {name!r} needs the {package} package, which is not "
                        f"installed: pip install 'vrnn-pytensor[{package}]' (or pip install "
                        f"{package})")
    return name


def set_mode(name):
    """Select the compilation mode by name: 'c', 'jax' or 'numba' (see :func:`default_mode`)."""
    _state["mode"] = check_mode(name)


def installed(name):
    """True when mode ``name``'s package (:data:`MODES`) is importable."""
    package = MODES[name][1]
    return package is None or importlib.util.find_spec(package) is not None


def default_mode():
    """The mode when none was selected: ``VRNN_MODE`` if set, else the first installed mode of
    :data:`DEFAULT_MODE_PREFERENCE` ('jax' with the jax extra, else 'c')."""
    chosen = os.environ.get(MODE_ENV)
    if chosen:
        return chosen.lower()
    return next(name for name in DEFAULT_MODE_PREFERENCE if installed(name))


def mode_name():
    """The selected mode's name (:func:`set_mode`, else :func:`default_mode`)."""
    return _state["mode"] or default_mode()


def needs_static_shapes(name=None):
    """True when mode ``name`` (default: the selected mode) compiles for static input shapes."""
    return (name or mode_name()).lower() in STATIC_SHAPE_MODES


#: The warning JAX gives when a float32 graph's sum asks for PyTensor's float64 accumulator
#: (``acc_dtype``), or an index computation (argmax of a mixture component, a shape) for int64:
#: without x64 JAX accumulates in float32 and indexes in int32, which is what a float32 run means.
JAX_ACCUMULATOR_WARNING = "Explicitly requested dtype (float64|int64) requested in astype is not available"


#: XLA programs that compile faster than this are not kept in the persistent cache.
XLA_CACHE_MIN_COMPILE_S = 0.5


def _prepare_jax(dtype):
    """XLA's persistent cache on (see :func:`compiling`); float64 graphs switch on JAX's x64 mode
    (else JAX silently computes in float32); float32 graphs silence JAX's notice that sums
    accumulate in float32 and indices are int32 (see JAX_ACCUMULATOR_WARNING)."""
    jax = importlib.import_module("jax")
    from cle.fused import register_jax
    register_jax()
    cache = xla_cache_directory()
    if cache is not None and not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", str(cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", XLA_CACHE_MIN_COMPILE_S)
    if dtype == "float32":
        warnings.filterwarnings("ignore", message=JAX_ACCUMULATOR_WARNING, category=UserWarning)
    elif dtype == "float64":
        if not jax.config.jax_enable_x64:
            log.info("enabling JAX's x64 mode for a float64 graph")
            jax.config.update("jax_enable_x64", True)


@contextlib.contextmanager
def compiling(dtype=None, mode=None):
    """Context manager around compiling a function, or loading a stored compiled one, in ``dtype``
    (default :func:`floatX`) for ``mode`` (default: the selected mode); yields the mode's name.

    Inside the block the precision is ``dtype`` (:func:`precision`) and the mode is prepared:
    in JAX mode a float64 graph switches on JAX's x64 mode, a float32 one silences JAX's notice
    about float32 accumulators (PyTensor's JAX linker sets x64 from ``config.floatX`` when it is
    first imported, which may be while a stored function is unpickled: hence loading happens
    inside this block too), and XLA's persistent compilation cache is switched on in
    :func:`xla_cache_directory` unless the user set one (JAX's own ``jax_compilation_cache_dir``).
    """
    name = check_mode(mode or mode_name())
    with precision(dtype):
        if name == "jax":
            _prepare_jax(floatX())
        yield name


def xla_cache_directory():
    """Where XLA's compiled programs are kept between processes (JAX mode): ``xla`` in the folder
    of the compiled-function store (:func:`cle.function_store.default_directory`); None when that
    store is off."""
    from cle.function_store import default_directory
    directory = default_directory()
    return None if directory is None else directory / "xla"


def get_compile_mode(name=None):
    """The PyTensor ``Mode`` object for ``name`` (default: the selected mode).

    'c' is the C backend with the CVM linker and the fast_run rewrites less
    :data:`EXCLUDED_REWRITES`; 'jax' is PyTensor's JAX mode less :data:`JAX_EXCLUDED_REWRITES`,
    linked by :class:`cle.jax_linker.JAXLinkerWithOptions` (XLA options per function; it needs
    static input shapes); 'numba' is PyTensor's NUMBA mode.
    """
    name = check_mode(name or mode_name())
    if name == "c":
        return Mode(linker="cvm", optimizer="fast_run").excluding(*EXCLUDED_REWRITES)
    if name == "jax":
        from cle.jax_linker import JAXLinkerWithOptions
        return Mode(linker=JAXLinkerWithOptions(), optimizer=get_mode("JAX").provided_optimizer).excluding(
            *JAX_EXCLUDED_REWRITES)
    return get_mode(name.upper())


def function(inputs, outputs=None, updates=None, givens=None, mode=None, name=None, **kwargs):
    """``pytensor.function`` compiled in the project's mode and precision; same arguments.

    Every graph of the project is compiled through here, so the backend choice lives in one place.
    In a mode of :data:`STATIC_SHAPE_MODES` every input must have a static shape (see
    ``SequenceModel.static``); float64 graphs in JAX mode switch on JAX's x64 mode. The function
    is :func:`cle.finish.finish`-ed: the rewrites' bookkeeping dropped, and in JAX mode
    XLA-compiled now rather than at its first call.
    """
    with compiling(mode=mode) as name_of_mode:
        fn = pytensor.function(
            inputs,
            outputs,
            updates=updates,
            givens=givens,
            mode=get_compile_mode(name_of_mode),
            name=name,
            on_unused_input=kwargs.pop("on_unused_input", "ignore"),
            **kwargs,
        )
        return finish(fn)
