"""``softplus(x) = log(1 + exp(x))`` and its gradient ``g * sigmoid(x)`` as vectorised C loops.

PyTensor's C code for softplus calls the scalar ``exp`` and ``log1p`` per element, which the
compiler cannot vectorise; the decoder's sigma layer applies it to every (frame, unit) value of a
batch, so that loop is a visible part of a C-mode training step (benchmarks/README.md). In
float32 these ops compute::

    t = exp(-|x|)                        (Cephes' expf; 0 for |x| > 87.3365, where exp(-|x|) < 1.2e-38)
    softplus(x) = max(x, 0) + log1p(t)   (log1p(t) = log(u) t / (u - 1), u = 1 + t; t when u == 1)
    sigmoid(x)  = 1 / (1 + t) for x >= 0, t / (1 + t) otherwise

with the vectorisable ``vrnn_log`` of :mod:`cle.fused.cbase` (within a few ulp of the C library's
functions; NaN stays NaN, +inf gives +inf). float64 uses PyTensor's own formulas with the C
library, so float64 results are PyTensor's to round-off. NumPy ``perform`` and a JAX
implementation (``jax.nn.softplus`` / ``jax.nn.sigmoid``) cover the other modes.
"""
import functools

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply

from cle.fused.cbase import FusedCOp

__all__ = ["Softplus", "SoftplusGrad", "softplus", "register_jax"]

#: C templates of both ops (after :data:`cle.fused.cbase.MATH_CODE`).
SUPPORT_CODE = r"""
#ifndef VRNN_FUSED_SOFTPLUS
#define VRNN_FUSED_SOFTPLUS
static inline float vrnn_softplus(float x) {
    float t = vrnn_exp_nonpositive(-fabsf(x));
    float u = 1.0f + t;
    float l = vrnn_select(u == 1.0f, t, vrnn_log(u) * (t / (u - 1.0f)));
    float out = vrnn_select(x > 0.0f, x, 0.0f) + l;
    return vrnn_select(x == x, out, x);
}
static inline double vrnn_softplus(double x) {
    return x < -37.0 ? exp(x) : x < 18.0 ? log1p(exp(x)) : x < 33.3 ? x + exp(-x) : x;
}
static inline float vrnn_sigmoid(float x) {
    float t = vrnn_exp_nonpositive(-fabsf(x));
    float out = vrnn_select(x >= 0.0f, 1.0f, t) / (1.0f + t);
    return vrnn_select(x == x, out, x);
}
static inline double vrnn_sigmoid(double x) {
    return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

template <typename T>
static void vrnn_softplus_loop(const T* x, npy_intp n, T* out) {
    #pragma omp simd
    for (npy_intp i = 0; i < n; ++i) out[i] = vrnn_softplus(x[i]);
}

template <typename T>
static void vrnn_softplus_grad_loop(const T* x, const T* g, npy_intp n, T* out) {
    #pragma omp simd
    for (npy_intp i = 0; i < n; ++i) out[i] = g[i] * vrnn_sigmoid(x[i]);
}
#endif
"""

def _float_tensor(x):
    x = pt.as_tensor_variable(x)
    if x.dtype not in ("float32", "float64"):
        x = pt.cast(x, "float64" if x.dtype in ("int32", "int64", "uint32", "uint64") else "float32")
    return x


class _ElementwiseCOp(FusedCOp):
    """One C loop over the elements of same-shape inputs (made contiguous), into a new output."""

    support_code = SUPPORT_CODE
    #: name of the C template function (inputs..., n, out)
    c_function = None

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def c_code(self, node, name, inputs, outputs, sub):
        (out,) = outputs
        ctype, typenum = self.c_types(node)
        fail = sub["fail"]
        first = inputs[0]
        same_shape = "\n".join(
            f"""if (PyArray_NDIM({v}) != PyArray_NDIM({first}) || !PyArray_CompareLists(PyArray_DIMS({v}),
                PyArray_DIMS({first}), PyArray_NDIM({first}))) {{
                PyErr_SetString(PyExc_ValueError, "{type(self).__name__}: inputs of different shapes");
                {fail}
            }}""" for v in inputs[1:])
        call = f"{self.c_function}<{ctype}>({{data}}, PyArray_SIZE({first}), ({ctype}*)PyArray_DATA({out}))"
        return f"""
        {{
        {same_shape}
        if ({out} == NULL || PyArray_NDIM({out}) != PyArray_NDIM({first})
            || !PyArray_CompareLists(PyArray_DIMS({out}), PyArray_DIMS({first}), PyArray_NDIM({first}))
            || !PyArray_IS_C_CONTIGUOUS({out})) {{
            Py_XDECREF({out});
            {out} = (PyArrayObject*)PyArray_EMPTY(PyArray_NDIM({first}), PyArray_DIMS({first}), {typenum}, 0);
            if (!{out}) {{ {fail} }}
        }}
        {self.call_on_contiguous(inputs, ctype, call, fail)}
        }}
        """


class Softplus(_ElementwiseCOp):
    """``log(1 + exp(x))`` elementwise, any shape (module doc)."""

    c_function = "vrnn_softplus_loop"

    def make_node(self, x):
        x = _float_tensor(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        (x,) = inputs
        with np.errstate(over="ignore"):
            outputs[0][0] = np.asarray(np.logaddexp(x, 0), dtype=node.outputs[0].dtype)

    def pullback(self, inputs, outputs, output_grads):
        return [SoftplusGrad()(inputs[0], output_grads[0])]


class SoftplusGrad(_ElementwiseCOp):
    """``g * sigmoid(x)`` elementwise: the gradient of :class:`Softplus` (x and g of one shape)."""

    c_function = "vrnn_softplus_grad_loop"

    def make_node(self, x, g):
        x = _float_tensor(x)
        g = pt.cast(pt.as_tensor_variable(g), x.dtype)
        if g.ndim != x.ndim:
            raise TypeError(f"SoftplusGrad: x has {x.ndim} dimensions, g {g.ndim}")
        return Apply(self, [x, g], [x.type()])

    def perform(self, node, inputs, outputs):
        x, g = inputs
        with np.errstate(over="ignore"):
            sigmoid = np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))
        outputs[0][0] = np.asarray(g * sigmoid, dtype=node.outputs[0].dtype)


softplus = Softplus()


@functools.cache
def register_jax():
    """JAX implementations (``jax.nn``) of both ops; called by :func:`cle.fused.register_jax`."""
    import jax
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(Softplus)
    def _softplus(op, **kwargs):
        return jax.nn.softplus

    @jax_funcify.register(SoftplusGrad)
    def _softplus_grad(op, **kwargs):
        def softplus_grad_jax(x, g):
            return g * jax.nn.sigmoid(x)
        return softplus_grad_jax
