"""``softplus(x) = log(1 + exp(x))`` and its gradient ``g * sigmoid(x)`` as vectorised C loops.

PyTensor's C code for softplus calls the scalar ``exp`` and ``log1p`` per element; on the
decoder's sigma layer of the main benchmark config (1280 x 4000 values) that loop was about a
tenth of a C-mode training step. In float32 these ops compute::

    t = exp(-|x|)                        (Cephes' expf; 0 for |x| > 87.3365, where exp(-|x|) < 1.2e-38)
    softplus(x) = max(x, 0) + log1p(t)   (log1p(t) = log(u) t / (u - 1), u = 1 + t; t when u == 1)
    sigmoid(x)  = 1 / (1 + t) for x >= 0, t / (1 + t) otherwise

with the vectorisable ``vrnn_log`` of :mod:`cle.fused.gmm` (within a few ulp of the C library's
functions; NaN stays NaN, +inf gives +inf). float64 uses PyTensor's own formulas with the C
library, so float64 results are PyTensor's to round-off. NumPy ``perform`` and a JAX
implementation (``jax.nn.softplus`` / ``jax.nn.sigmoid``) cover the other modes.
"""
import functools
import hashlib
from pathlib import Path

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp

from cle.fused.gmm import SUPPORT_CODE as GMM_SUPPORT_CODE

__all__ = ["Softplus", "SoftplusGrad", "softplus", "register_jax"]

SUPPORT_CODE = GMM_SUPPORT_CODE + r"""
#ifndef VRNN_FUSED_SOFTPLUS
#define VRNN_FUSED_SOFTPLUS
#include <math.h>

/* exp(x) for x <= 0 (Cephes' expf); 0 below log(FLT_MIN) = -87.3365, where exp(x) is no longer a normal float. */
static inline float vrnn_select(int c, float a, float b) {    /* c ? a : b, branch-free */
    uint32_t ab, bb, m = (uint32_t)(-(int32_t)c);
    memcpy(&ab, &a, 4);
    memcpy(&bb, &b, 4);
    uint32_t r = (ab & m) | (bb & ~m);
    float out;
    memcpy(&out, &r, 4);
    return out;
}

static inline float vrnn_exp_nonpositive(float x0) {
    float x = vrnn_select(x0 < -87.3365f, -87.3365f, x0);
    /* n = floor(x log2(e) + 1/2): the argument is in [-126, 0.5], so truncate it shifted by 128 */
    float n = (float)((int32_t)(x * 1.44269504088896341f + 128.5f) - 128);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    float e = p * r * r + r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return vrnn_select(x0 < -87.3365f, 0.0f, e * scale);     /* below a normal float: 0 */
}

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

#: Version of the compiled C code: changes whenever this file or the C text does (PyTensor keys
#: its cache of compiled modules on it).
CODE_VERSION = (1, int(hashlib.sha1(Path(__file__).read_bytes() + SUPPORT_CODE.encode()).hexdigest()[:12], 16))


def _float_tensor(x):
    x = pt.as_tensor_variable(x)
    if x.dtype not in ("float32", "float64"):
        x = pt.cast(x, "float64" if x.dtype in ("int32", "int64", "uint32", "uint64") else "float32")
    return x


class _ElementwiseCOp(COp):
    """One C loop over the elements of same-shape inputs (made contiguous), into a new output."""

    __props__ = ()
    #: name of the C template function (inputs..., n, out)
    c_function = None

    def c_support_code(self, **kwargs):
        return SUPPORT_CODE

    def c_headers(self, **kwargs):
        return ["<math.h>", "<float.h>", "<stdint.h>", "<string.h>"]

    def c_compile_args(self, **kwargs):
        return ["-fopenmp-simd"]

    def c_code_cache_version(self):
        return CODE_VERSION

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def c_code(self, node, name, inputs, outputs, sub):
        (out,) = outputs
        ctype = "npy_float32" if node.outputs[0].dtype == "float32" else "npy_float64"
        typenum = "NPY_FLOAT32" if ctype == "npy_float32" else "NPY_FLOAT64"
        fail = sub["fail"]
        first = inputs[0]
        same_shape = "\n".join(
            f"""if (PyArray_NDIM({v}) != PyArray_NDIM({first}) || !PyArray_CompareLists(PyArray_DIMS({v}),
                PyArray_DIMS({first}), PyArray_NDIM({first}))) {{
                PyErr_SetString(PyExc_ValueError, "{type(self).__name__}: inputs of different shapes");
                {fail}
            }}""" for v in inputs[1:])
        # contiguous copies (new references) named by position: one variable may be two inputs
        contiguous = "\n".join(f"PyArrayObject* in{i}_c = PyArray_GETCONTIGUOUS({v});" for i, v in enumerate(inputs))
        release = "\n".join(f"Py_XDECREF(in{i}_c);" for i in range(len(inputs)))
        any_missing = " || ".join(f"!in{i}_c" for i in range(len(inputs)))
        data = ", ".join(f"({ctype}*)PyArray_DATA(in{i}_c)" for i in range(len(inputs)))
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
        {contiguous}
        if ({any_missing}) {{
            {release}
            {fail}
        }}
        {self.c_function}<{ctype}>({data}, PyArray_SIZE({first}), ({ctype}*)PyArray_DATA({out}));
        {release}
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
