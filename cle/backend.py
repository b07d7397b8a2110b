"""How PyTensor graphs are compiled: one :class:`Backend` value, made once and handed down.

A :class:`Backend` says in which **mode** a graph is compiled (PyTensor's C backend, its JAX
backend, or Numba), in which **precision** its floats are (``floatX``), in which precision its
float32 **matrix products** run (``matmul_precision``: full float32 unless asked), and where the
**store** of compiled functions is (:mod:`cle.function_store`). A program makes it once (the
commands: from the command line or the run's ``config.json``, :meth:`Backend.for_program`) and
passes it explicitly to model building, compiled functions and ``cle.train.Training``. Nothing
here holds a mode or a precision for the process, and importing this module (or ``cle``) changes
nothing in PyTensor or JAX.

- The library's default, ``Backend()``, is the C mode in float32 with full-float32 products and
  no store: the C backend compiles any graph, including the dynamic-shape graphs of a ported
  legacy script. The commands choose JAX when it is installed (:data:`DEFAULT_MODE_PREFERENCE`),
  for their static-shape models.
- A graph whose inputs have unknown shapes cannot be compiled by JAX (its linker needs static
  shapes): :func:`function` compiles it in C instead, and logs one line saying so.
- What JAX only has per process, its x64 switch, is set once at the program's start
  (:func:`start_jax`); a float64 graph in JAX mode with x64 off (or a float32 one with it on) is
  refused with a clear error, never switched inside a library call.
- Where a PyTensor flag must change for a block, :func:`precision` scopes it with
  ``pytensor.config.change_flags``.

Example
-------
>>> b = Backend()
>>> b.mode, b.floatX, b.matmul_precision, b.store
('c', 'float32', 'highest', None)
>>> with precision('float64'):
...     floatX()
'float64'
>>> b.replace(floatX='float64').floatX
'float64'
"""
import contextlib
import dataclasses
import importlib
import importlib.util
import logging
import os
import warnings
from collections import OrderedDict
from pathlib import Path

import pytensor
from pytensor.compile.mode import Mode, get_mode

from cle.errors import UserError
from cle.finish import finish

log = logging.getLogger(__name__)

__all__ = ["Backend", "ModeError", "MODES", "MATMUL_PRECISIONS", "FLOATX_CHOICES", "function",
           "precision", "floatX", "start_jax", "check_mode", "installed", "program_default_mode",
           "get_compile_mode", "has_static_shapes"]

#: Compile modes a user may give: name -> (what it is, the pip package it needs or None).
MODES = OrderedDict([
    ("c", ("PyTensor's C backend with the CVM linker (no extra install)", None)),
    ("jax", ("PyTensor's JAX backend (XLA; CPU or GPU)", "jax")),
    ("numba", ("PyTensor's Numba backend", "numba")),
])
#: The mode a *command* uses when none is chosen: the first of these whose package is installed.
#: JAX first: XLA compiles a training graph in well under a minute where the C backend's compiler
#: takes minutes cold, and trains faster on the CPU (benchmarks/README.md). The library's own
#: default (``Backend()``) is C, which compiles any graph.
DEFAULT_MODE_PREFERENCE = ("jax", "c")
#: Modes whose compiled functions need static input shapes (the graphs are built once per shape)
#: and whose graphs cannot draw from numpy generators (the JAX linker draws from a copy of a
#: shared generator, so the noise is drawn on the host and fed as an input).
STATIC_SHAPE_MODES = ("jax",)
#: Float precisions a graph may be built in.
FLOATX_CHOICES = ("float32", "float64")
#: The project's precision when nothing else is chosen.
DEFAULT_FLOATX = "float32"
#: Precisions of float32 matrix products: name -> (what it is, JAX's name for it). Only JAX mode
#: on a GPU computes anything but full float32 (its tensor cores); XLA on a CPU and the C mode
#: always compute full float32.
MATMUL_PRECISIONS = OrderedDict([
    ("highest", ("full float32 products (Theano's, the paper's and PyTorch's default)", "highest")),
    ("tf32", ("TensorFloat-32 on GPU tensor cores (10-bit mantissa; JAX mode)", "tensorfloat32")),
    ("bfloat16", ("bfloat16 products on GPUs (8-bit mantissa; JAX mode)", "bfloat16")),
])
DEFAULT_MATMUL_PRECISION = "highest"
#: The environment variable that gives the commands' default mode (``--mode`` wins).
MODE_ENV = "VRNN_MODE"

#: Rewrites the C mode leaves out. ``local_dot22_to_dot22scalar`` folds a scalar factor into a
#: matrix product without checking the product's other uses: a gradient that is both clipped
#: (times 5 / max(5, norm)) and measured (for the norm) was computed by two separate products.
#: ``local_softmax_stabilize`` turns ``exp(x) / sum(exp(x))`` into PyTensor's Softmax op, which the
#: C backend runs through Python, far slower than the elementwise C code it replaces.
EXCLUDED_REWRITES = ("local_dot22_to_dot22scalar", "local_softmax_stabilize")
#: Rewrites the JAX mode leaves out. ``fusion`` builds PyTensor ``Composite`` ops out of
#: elementwise chains, which XLA fuses on its own: stored functions load faster without them, and
#: the step is as fast (benchmarks/README.md).
JAX_EXCLUDED_REWRITES = ("fusion",)
#: The warning JAX gives when a float32 graph's sum asks for PyTensor's float64 accumulator
#: (``acc_dtype``), or an index computation (argmax of a mixture component, a shape) for int64:
#: without x64 JAX accumulates in float32 and indexes in int32, which is what a float32 run means.
JAX_ACCUMULATOR_WARNING = "Explicitly requested dtype (float64|int64) requested in astype is not available"
#: XLA programs that compile faster than this are not kept in XLA's persistent cache.
XLA_CACHE_MIN_COMPILE_S = 0.5


class ModeError(UserError):
    """An unknown compile mode, one whose package is not installed, or a process whose JAX
    settings disagree with the backend."""


# ---------------------------------------------------------------------- names
def installed(name):
    """True when mode ``name``'s package (:data:`MODES`) is importable."""
    package = MODES[name][1]
    return package is None or importlib.util.find_spec(package) is not None


def check_mode(name):
    """``name`` lower-cased when it is a mode of :data:`MODES` whose package is installed.

    Raises
    ------
    ModeError
        Unknown mode, or its package missing (the message gives the install command).
    """
    name = str(name).lower()
    if name not in MODES:
        raise ModeError(f"unknown compile mode {name!r}; expected one of {', '.join(MODES)}")
    if not installed(name):
        package = MODES[name][1]
        raise ModeError(f"compile mode {name!r} needs the {package} package, which is not "
                        f"installed: pip install 'vrnn-pytensor[{package}]' (or pip install "
                        f"{package})")
    return name


def program_default_mode():
    """The mode of a command that was given none: ``VRNN_MODE`` if set, else the first installed
    mode of :data:`DEFAULT_MODE_PREFERENCE` ('jax' with the jax extra, else 'c')."""
    chosen = os.environ.get(MODE_ENV)
    if chosen:
        return check_mode(chosen)
    return next(name for name in DEFAULT_MODE_PREFERENCE if installed(name))


def _checked(value, choices, what):
    if value not in choices:
        raise UserError(f"{what} must be one of {', '.join(choices)}; got {value!r}")
    return value


# ---------------------------------------------------------------------- the value
@dataclasses.dataclass(frozen=True)
class Backend:
    """How graphs are compiled: mode, precision, matrix-product precision, function store.

    Parameters
    ----------
    mode : {'c', 'jax', 'numba'}
        PyTensor backend (:data:`MODES`); its package must be installed.
    floatX : {'float32', 'float64'}
        Precision of parameters, inputs and every graph.
    matmul_precision : {'highest', 'tf32', 'bfloat16'}
        Precision of float32 matrix products (:data:`MATMUL_PRECISIONS`); anything but 'highest'
        needs JAX mode (it matters on GPUs only).
    store : cle.function_store.FunctionStore or None
        The persistent store of compiled functions; None compiles every function in every
        process (:func:`cle.function_store.compile_with_store`).
    """

    mode: str = "c"
    floatX: str = DEFAULT_FLOATX
    matmul_precision: str = DEFAULT_MATMUL_PRECISION
    store: object = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "mode", check_mode(self.mode))
        _checked(self.floatX, FLOATX_CHOICES, "floatX")
        _checked(self.matmul_precision, tuple(MATMUL_PRECISIONS), "matmul_precision")
        if self.matmul_precision != DEFAULT_MATMUL_PRECISION and self.mode not in STATIC_SHAPE_MODES:
            raise UserError(f"matmul_precision {self.matmul_precision!r} needs JAX mode (GPU "
                            f"tensor cores); the {self.mode} mode computes full float32 products")

    @classmethod
    def for_program(cls, mode=None, floatX=None, matmul_precision=None, source_roots=()):
        """The backend of a command: ``mode`` or :func:`program_default_mode`, ``floatX`` or
        float32, ``matmul_precision`` or 'highest', and the store at
        :func:`cle.function_store.default_directory` (``VRNN_FUNCTION_CACHE``; none when off),
        keyed by the source under the folders ``source_roots``."""
        from cle.function_store import FunctionStore, default_directory

        directory = default_directory()
        store = None if directory is None else FunctionStore(directory, source_roots=source_roots)
        return cls(mode=mode or program_default_mode(), floatX=floatX or DEFAULT_FLOATX,
                   matmul_precision=matmul_precision or DEFAULT_MATMUL_PRECISION, store=store)

    def replace(self, **changes):
        """A copy with ``changes`` (field name -> value)."""
        return dataclasses.replace(self, **changes)

    @property
    def static_shapes(self):
        """True when this mode compiles for static input shapes (JAX)."""
        return self.mode in STATIC_SHAPE_MODES

    def start_process(self):
        """At a program's start, once: what JAX only has per process, set for this backend (JAX
        mode: :func:`start_jax` with XLA's persistent cache beside the store), and in every mode
        the BLAS PyTensor's C code links to (:func:`cle.blas.link_at_program_start`: the
        ``scipy-openblas32`` OpenBLAS when installed, unless the user gave ``blas__ldflags``).
        Returns ``self``."""
        from cle.blas import link_at_program_start

        link_at_program_start()
        if self.mode == "jax":
            directory = getattr(self.store, "directory", None) if self.store is not None else None
            start_jax(self.floatX, xla_cache=None if directory is None else Path(directory) / "xla")
        return self

    def describe(self):
        """One line for a user: ``jax, float32, matmul precision highest``."""
        return f"{self.mode}, {self.floatX}, matmul precision {self.matmul_precision}"

    def spec(self):
        """What of this backend decides a compiled function (JSON-ready; no store)."""
        return {"mode": self.mode, "floatX": self.floatX, "matmul_precision": self.matmul_precision}

    @contextlib.contextmanager
    def compiling(self):
        """Context manager around compiling (or loading a stored compiled) function of this
        backend: :func:`precision` ``(floatX)``, and in JAX mode the process checked
        (:func:`check_jax_process`), the fused ops' JAX implementations registered and JAX's
        notice about float32 accumulators silenced for the block (JAX_ACCUMULATOR_WARNING)."""
        with precision(self.floatX), warnings.catch_warnings():
            if self.mode == "jax":
                check_jax_process(self.floatX)
                from cle.fused import register_jax
                register_jax()
                warnings.filterwarnings("ignore", message=JAX_ACCUMULATOR_WARNING, category=UserWarning)
            yield self


# ---------------------------------------------------------------------- precision
@contextlib.contextmanager
def precision(dtype):
    """Context manager: PyTensor's ``config.floatX`` is ``dtype`` inside the block (graphs built
    and compiled there use it), as ``pytensor.config.change_flags`` scopes it."""
    with pytensor.config.change_flags(floatX=_checked(dtype, FLOATX_CHOICES, "floatX")):
        yield


def floatX():
    """PyTensor's ``config.floatX``: the legacy ``theano.config.floatX``, which layers and
    ``castX`` read (inside :func:`precision` blocks, the block's dtype)."""
    return pytensor.config.floatX


# ---------------------------------------------------------------------- JAX's process switches
def start_jax(floatX, xla_cache=None):
    """At a program's start, before any JAX-mode graph: JAX's x64 mode on exactly when
    ``floatX`` is float64, and XLA's persistent cache in ``xla_cache`` (a folder) unless the user
    set JAX's ``jax_compilation_cache_dir``. The only function here that changes JAX for the
    process; library calls only check (:func:`check_jax_process`).

    ``xla_cache`` is made 0700 and used only when it and everything in it is the user's own
    (:func:`cle.private_dir.unsafe_tree`: XLA loads machine code from it); otherwise one warning
    line, and XLA compiles every program afresh."""
    jax = importlib.import_module("jax")
    # PyTensor's JAX dispatch sets x64 from config.floatX when it is first imported: import it
    # first, so that it cannot undo the setting later.
    importlib.import_module("pytensor.link.jax.dispatch")
    jax.config.update("jax_enable_x64", floatX == "float64")
    if xla_cache is not None and not jax.config.jax_compilation_cache_dir:
        from cle.private_dir import private_folder, unsafe_tree
        try:
            # XLA's programs are machine code: used only from a folder no other user could write
            # (cle.private_dir); XLA writes its files by the umask, which a private folder makes moot.
            reason = unsafe_tree(private_folder(xla_cache), repair_files=True)
        except OSError as err:
            reason = f"{xla_cache} cannot be made ({err.strerror})"
        if reason:
            log.warning("XLA's persistent cache %s refused: %s; XLA compiles afresh (another user "
                        "could have written its programs: remove it, or set VRNN_FUNCTION_CACHE "
                        "to a folder of your own)", xla_cache, reason)
            return
        jax.config.update("jax_compilation_cache_dir", str(xla_cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", XLA_CACHE_MIN_COMPILE_S)


def check_jax_process(floatX):
    """ModeError unless JAX's x64 mode fits a ``floatX`` graph: on for float64 (else JAX
    silently computes in float32), off for float32 (else scan carries turn float64)."""
    jax = importlib.import_module("jax")
    wanted = floatX == "float64"
    if bool(jax.config.jax_enable_x64) != wanted:
        state = "off" if wanted else "on"
        raise ModeError(f"JAX's x64 mode is {state} in this process, and a {floatX} graph in JAX "
                        f"mode needs it {'on' if wanted else 'off'}; set it once at the program's "
                        f"start: cle.backend.start_jax({floatX!r}) (x64 is per process in JAX, and "
                        f"PyTensor sets it from config.floatX when it first imports its JAX backend)")


# ---------------------------------------------------------------------- compiling
def get_compile_mode(name="c", matmul_precision=DEFAULT_MATMUL_PRECISION):
    """The PyTensor ``Mode`` object for mode ``name``.

    'c' is the C backend with the CVM linker and the fast_run rewrites less
    :data:`EXCLUDED_REWRITES`; 'jax' is PyTensor's JAX mode less :data:`JAX_EXCLUDED_REWRITES`,
    linked by :class:`cle.jax_linker.JAXLinkerWithOptions` (XLA options and the products'
    precision per function; it needs static input shapes); 'numba' is PyTensor's NUMBA mode.
    """
    name = check_mode(name)
    if name == "c":
        return Mode(linker="cvm", optimizer="fast_run").excluding(*EXCLUDED_REWRITES)
    if name == "jax":
        from cle.jax_linker import JAXLinkerWithOptions
        linker = JAXLinkerWithOptions(matmul_precision=MATMUL_PRECISIONS[matmul_precision][1])
        return Mode(linker=linker, optimizer=get_mode("JAX").provided_optimizer).excluding(
            *JAX_EXCLUDED_REWRITES)
    return get_mode(name.upper())


def has_static_shapes(inputs):
    """True when every input variable's type has a known shape (what JAX mode compiles)."""
    return all(None not in getattr(v.type, "shape", ()) for v in inputs)


def _floatX_of(inputs, outputs):
    """'float64' when a float64 tensor is among ``inputs`` and ``outputs``, else 'float32'."""
    listed = list(inputs) + (list(outputs) if isinstance(outputs, (list, tuple)) else
                             [] if outputs is None else [outputs])
    return "float64" if any(getattr(v, "dtype", None) == "float64" for v in listed) else "float32"


def function(inputs, outputs=None, updates=None, givens=None, backend=None, mode=None, name=None,
             **kwargs):
    """``pytensor.function`` compiled by ``backend``; same arguments.

    The default backend is the C mode in the graph's own precision (float64 when an input or
    output is float64, else float32).

    ``mode`` (a name) overrides the backend's mode for this function. In a mode of
    :data:`STATIC_SHAPE_MODES`, a graph with an input of unknown shape is compiled in C instead,
    with one log line saying why. The function is :func:`cle.finish.finish`-ed: the rewrites'
    bookkeeping dropped, and in JAX mode XLA-compiled now rather than at its first call.
    """
    backend = backend or Backend(floatX=_floatX_of(inputs, outputs))
    if mode is not None:
        backend = backend.replace(mode=mode, matmul_precision=backend.matmul_precision
                                  if mode in STATIC_SHAPE_MODES else DEFAULT_MATMUL_PRECISION)
    if backend.static_shapes and not has_static_shapes(inputs):
        unknown = [v.name or str(v) for v in inputs if None in getattr(v.type, "shape", ())]
        log.warning("compiling %s in C: the %s mode needs static input shapes, and %s %s an "
                    "unknown dimension", name or "a function", backend.mode, ", ".join(unknown),
                    "has" if len(unknown) == 1 else "have")
        backend = backend.replace(mode="c", matmul_precision=DEFAULT_MATMUL_PRECISION)
    with backend.compiling():
        fn = pytensor.function(
            inputs,
            outputs,
            updates=updates,
            givens=givens,
            mode=get_compile_mode(backend.mode, backend.matmul_precision),
            name=name,
            on_unused_input=kwargs.pop("on_unused_input", "ignore"),
            **kwargs,
        )
        return finish(fn)
