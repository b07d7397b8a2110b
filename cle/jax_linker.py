"""PyTensor's JAX linker with the project's XLA compile options, given per function, no copies of
the shared values, and the buffers of updated shared variables donated to their updates.

XLA on a CPU hands matrix products (and the elementwise work fused into them) to YNNPACK by
default, and generates elementwise code with its newer "fusion emitters". At the VRNN's main
configuration the training step is faster with neither (the same cost to the last bit; the
timings are in benchmarks/README.md): :data:`XLA_CPU_OPTIONS` turns both off. The options travel
with each compiled function (``jax.jit(..., compiler_options=...)``), so nothing in JAX or XLA is
set for the process, and they are part of XLA's cache key.

PyTensor's conversion of a graph to a Python function also stores, in that function's globals, a
JAX copy of the value of every variable whose storage holds one when it converts (its own
comment: "This is converting shared variables ... doubling the memory footprint"): every shared
variable, though each is a parameter of the function and never read from its globals (for a
training step, a second copy of the parameters and Adam's moments), kept as long as the function lives.
:func:`drop_shadowed_globals` removes them.

A function whose updates overwrite shared variables (a training step: parameters, Adam's
moments, the recurrent state) **donates** those variables' buffers to XLA (``jax.jit(...,
donate_argnums=...)``): the updated values are written where the old ones were, instead of into
new arrays while the old ones are still alive (with several threads such new arrays also come from
the C library's per-thread arenas, and stay there): a lower peak memory for a small share of a
step's time (benchmarks/README.md). The old value of a donated variable is deleted by the call: a
value got with ``get_value(borrow=True)`` is valid until the next call that updates the variable
(``get_value()`` returns a copy). PyTensor gives each shared variable a buffer of its own
(``set_value`` copies a JAX array into a NumPy one; the updates' outputs are distinct arrays), so
no buffer is both donated and read in one call, which XLA would refuse.
"""
from pytensor.link.jax.linker import JAXLinker

__all__ = ["XLA_CPU_OPTIONS", "JAXLinkerWithOptions", "PreciseJit", "drop_shadowed_globals", "updated_inputs"]

#: XLA debug options of every JAX-mode function compiled for a CPU: no YNNPACK fusions, XLA's
#: older elementwise code generator.
XLA_CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "", "xla_cpu_use_fusion_emitters": False}


def drop_shadowed_globals(function):
    """Remove from ``function``'s globals every name that is also one of its local variables
    (a parameter or an assigned name), which the function can therefore never read from there;
    returns the removed names. For a function made by PyTensor's conversion, whose globals are
    a dict of its own."""
    names = [name for name in function.__code__.co_varnames if name in function.__globals__]
    for name in names:
        del function.__globals__[name]
    return names


def updated_inputs(fgraph):
    """Positions, in ``fgraph.inputs``, of the shared variables that the function's updates
    overwrite (PyTensor's ``fgraph.update_mapping``: output position -> input position)."""
    return tuple(sorted(set(getattr(fgraph, "update_mapping", {}).values())))


class PreciseJit:
    """A ``jax.jit``-ed function traced, lowered and called with JAX's default matrix-product
    precision set to ``precision`` (``jax.default_matmul_precision``): the products of the program
    it compiles run in that precision whatever the process's default ('highest': full float32,
    where JAX's own default lets GPU tensor cores use TF32). The precision is part of JAX's cache
    key, so a call finds the program :meth:`lower` compiled."""

    def __init__(self, jitted, precision):
        self.jitted, self.precision = jitted, precision
        #: The converted Python function, as ``jax.jit`` exposes it.
        self.__wrapped__ = getattr(jitted, "__wrapped__", None)

    def __call__(self, *args):
        import jax

        with jax.default_matmul_precision(self.precision):
            return self.jitted(*args)

    def lower(self, *args):
        """``jitted.lower(*args)`` in the products' precision."""
        import jax

        with jax.default_matmul_precision(self.precision):
            return self.jitted.lower(*args)


class JAXLinkerWithOptions(JAXLinker):
    """``JAXLinker`` whose ``jax.jit`` carries :data:`XLA_CPU_OPTIONS` when JAX's backend is the
    CPU, runs its products in ``matmul_precision`` (JAX's name: 'highest', 'tensorfloat32',
    'bfloat16'; :class:`PreciseJit`) and donates the buffers of the updated shared variables
    (:func:`updated_inputs`), and whose converted graph keeps no copies of the shared values
    (:func:`drop_shadowed_globals`); a function with inputs used as static shapes
    (``scalar_shape_inputs``) is jitted as PyTensor does."""

    def __init__(self, *args, matmul_precision="highest", **kwargs):
        super().__init__(*args, **kwargs)
        self.matmul_precision = matmul_precision

    def fgraph_convert(self, fgraph, input_storage, storage_map, **kwargs):
        function = super().fgraph_convert(fgraph, input_storage=input_storage, storage_map=storage_map, **kwargs)
        drop_shadowed_globals(function)
        return function

    def jit_compile(self, fn):
        import jax

        if self.scalar_shape_inputs:
            return super().jit_compile(fn)
        options = XLA_CPU_OPTIONS if jax.default_backend() == "cpu" else {}
        jitted = jax.jit(fn, donate_argnums=updated_inputs(self.fgraph), compiler_options=dict(options))
        return PreciseJit(jitted, getattr(self, "matmul_precision", "highest"))
