"""What a compiled function keeps, and when XLA compiles it.

:func:`finish` is applied to every function :func:`cle.backend.function` compiles and to every
function :class:`cle.function_store.FunctionStore` loads:

1. **The graph rewrites' bookkeeping is dropped.** A compiled ``pytensor`` function keeps its
   rewritten ``FunctionGraph`` (``fn.maker.fgraph``), and with it the features the rewrites
   attached: the history of every replacement, every node they removed, the symbolic shape of
   every variable ever seen, the merge tables, and ``clients`` entries of variables no longer in
   the graph. For a model's training function these objects (nodes of graphs long replaced)
   outnumber the graph's own nodes many times over, and they are kept as long as the function
   lives and pickled with it into the compiled-function store. Running, re-linking and copying a
   function need none of it; the in-place ordering (``DestroyHandler``) is kept.
2. **A JAX-mode function is XLA-compiled now**, for the static shapes of its inputs, instead of
   at its first call: the compile time is part of "compiling" (where progress and logs report
   it), not of the first training step. The first call finds the traced and compiled program
   in JAX's caches (JAX's compile events show no trace and no compile during calls).
3. **The memory XLA's compiler freed is handed back to the operating system**
   (:func:`cle.heap.release_freed_memory`): compiling leaves freed memory in the C library's
   per-thread arenas, which would otherwise stay in the process (RSS) for its whole life and sit
   under every later peak.

Nothing global is changed: each step acts on the function it is given (and the C library's free
lists).
"""
from pytensor.compile.aliasing import Supervisor
from pytensor.graph.features import FullHistory, History, NoOutputFromInplace, PreserveVariableAttributes, Validator
from pytensor.graph.rewriting.basic import MergeFeature
from pytensor.link.jax.linker import JAXLinker
from pytensor.scan.op import Scan
from pytensor.tensor.rewriting.shape import ShapeFeature

from cle.heap import release_freed_memory

__all__ = ["finish", "shed_rewrite_state", "lowered", "compile_ahead", "REWRITE_ONLY_FEATURES"]

#: Features of a FunctionGraph that only the graph rewrites use (ReplaceValidate is a History and
#: a Validator). AssumptionFeature (PyTensor 3's value assumptions) is matched by name below, as
#: older PyTensor versions do not have it.
REWRITE_ONLY_FEATURES = (History, FullHistory, Validator, Supervisor, PreserveVariableAttributes,
                         NoOutputFromInplace, MergeFeature, ShapeFeature)
_REWRITE_ONLY_FEATURE_NAMES = ("AssumptionFeature",)


def _rewrite_only(feature):
    return isinstance(feature, REWRITE_ONLY_FEATURES) or type(feature).__name__ in _REWRITE_ONLY_FEATURE_NAMES


def shed_rewrite_state(fgraph):
    """Detach the rewrite-only features (:data:`REWRITE_ONLY_FEATURES`) from ``fgraph`` and from
    the inner graphs of its ``Scan`` nodes, and forget the ``clients`` of variables that are no
    longer in the graph; returns the number of features detached."""
    detached = 0
    for feature in [f for f in fgraph._features if _rewrite_only(f)]:
        fgraph.remove_feature(feature)
        detached += 1
    for variable in [v for v in fgraph.clients if v not in fgraph.variables]:
        del fgraph.clients[variable]
    for node in fgraph.apply_nodes:
        if isinstance(node.op, Scan):
            detached += shed_rewrite_state(node.op.fgraph)
    return detached


def _is_jax_function(fn):
    return isinstance(getattr(getattr(fn, "maker", None), "linker", None), JAXLinker)


def lowered(fn):
    """JAX's lowered (traced, not yet XLA-compiled) program of the JAX-mode function ``fn`` for the
    static shapes of its inputs (shared variables: their current values); None for a function of
    another mode, or one with an input of unknown shape (JAX compiles it per value at its calls)."""
    if not _is_jax_function(fn):
        return None
    import jax

    thunk = fn.vm
    jitted = getattr(thunk, "jit_fn", None)
    if not hasattr(jitted, "lower"):  # inputs used as static shapes: JAX compiles per value
        return None
    arguments = []
    for cell, variable in zip(thunk.inputs, fn.maker.fgraph.inputs, strict=True):
        value = cell[0]
        if value is None:
            shape = getattr(variable.type, "shape", None)
            if shape is None or any(dim is None for dim in shape):
                return None
            value = jax.ShapeDtypeStruct(shape, variable.type.dtype)
        arguments.append(value)
    return jitted.lower(*arguments)


def compile_ahead(fn):
    """XLA-compile the JAX-mode function ``fn`` (its :func:`lowered` program), then
    :func:`release_freed_memory`. True when compiled; False for a function of another mode, or
    one with an input of unknown shape (it compiles at its first call, as before)."""
    program = lowered(fn)
    if program is None:
        return False
    program.compile()
    release_freed_memory()
    return True


def finish(fn):
    """:func:`shed_rewrite_state` of ``fn``'s graph, then :func:`compile_ahead`; returns ``fn``."""
    shed_rewrite_state(fn.maker.fgraph)
    compile_ahead(fn)
    return fn
