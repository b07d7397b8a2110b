"""The mixture-of-diagonal-Gaussians negative log-likelihood as one fused op, and its gradient.

Per row n (shapes: y (N, D); mu, sig (N, D*K) with column ``d*K + k``; coeff (N, K))::

    u_dk = (y_d - mu_dk) / sig_dk
    a_k  = log coeff_k - 0.5 * sum_d (u_dk^2 + 2 log sig_dk + log 2pi)
    nll  = -logsumexp_k a_k                                   -> (N,)

Gradient, with upstream ``g`` (N,) and the responsibilities ``w_k = softmax_k(a)``, ``t_dk = g w_k / sig_dk``::

    d nll / d mu_dk    = -t_dk u_dk
    d nll / d sig_dk   =  t_dk (1 - u_dk^2)
    d nll / d y_d      =  sum_k t_dk u_dk
    d nll / d coeff_k  = -g w_k / coeff_k

The C code makes one pass over (mu, sig) for the cost and one for the gradient (which recomputes
``a``), vectorised over the K components; in float32 ``log sig`` is a polynomial (Cephes' logf,
within 1-2 ulp of the C library's) that the compiler vectorises, and a row holding a ``sig``
that is not a positive normal float (0, negative, NaN, inf, subnormal) is recomputed with the C
library's ``log``, so such values give exactly what the formula gives (NaN, inf). float64 uses
the C library throughout. :func:`gmm_nll` is what :func:`cle.cost.GMM` calls.
"""
import functools
import hashlib
from pathlib import Path

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp
from pytensor.scalar import upcast

__all__ = ["GMMNll", "GMMNllGrad", "gmm_nll", "register_jax"]

LOG_2PI = float(np.log(2 * np.pi))

#: C code shared by both ops (one copy per compiled module).
SUPPORT_CODE = r"""
#ifndef VRNN_FUSED_GMM
#define VRNN_FUSED_GMM
#include <math.h>
#include <float.h>
#include <stdint.h>
#include <string.h>

/* log(x) for a positive normal float, Cephes' logf; branch-free so loops over it vectorise. */
static inline float vrnn_log(float x) {
    uint32_t ix;
    memcpy(&ix, &x, 4);
    int32_t e = (int32_t)(ix >> 23) - 126;               /* x = m * 2^e, m in [0.5, 1) */
    uint32_t mb = (ix & 0x007fffffu) | 0x3f000000u;
    float m;
    memcpy(&m, &mb, 4);
    int low = m < 0.707106781186547524f;                   /* then use 2m in [1, 1.41) */
    e -= low;
    float f = m * (1.0f + (float)low) - 1.0f;
    float z = f * f;
    float p = 7.0376836292E-2f;
    p = p * f - 1.1514610310E-1f;
    p = p * f + 1.1676998740E-1f;
    p = p * f - 1.2420140846E-1f;
    p = p * f + 1.4249322787E-1f;
    p = p * f - 1.6668057665E-1f;
    p = p * f + 2.0000714765E-1f;
    p = p * f - 2.4999993993E-1f;
    p = p * f + 3.3333331174E-1f;
    float fe = (float)e;
    float r = p * f * z;
    r += -2.12194440E-4f * fe;
    r += -0.5f * z;
    return f + r + 0.693359375f * fe;
}
static inline double vrnn_log(double x) { return log(x); }
static inline float vrnn_log_exact(float x) { return logf(x); }
static inline double vrnn_log_exact(double x) { return log(x); }
static inline int vrnn_log_fast_ok(float x) { return (x >= FLT_MIN) & (x <= FLT_MAX); }
static inline int vrnn_log_fast_ok(double x) { return 1; }
static inline float vrnn_exp(float x) { return expf(x); }
static inline double vrnn_exp(double x) { return exp(x); }

/* acc_k = sum_d (u_dk^2 + 2 log sig_dk + log 2pi) for one row. */
template <typename T>
static void vrnn_gmm_row_sums(const T* y, const T* mu, const T* sig, npy_intp D, npy_intp K, T* acc) {
    const T log2pi = (T)%(log_2pi)r;
    for (npy_intp k = 0; k < K; ++k) acc[k] = 0;
    int bad = 0;
    for (npy_intp d = 0; d < D; ++d) {
        const T yd = y[d];
        const T* m = mu + d * K;
        const T* s = sig + d * K;
        #pragma omp simd reduction(|:bad)
        for (npy_intp k = 0; k < K; ++k) {
            T u = (yd - m[k]) / s[k];
            acc[k] += u * u + 2 * vrnn_log(s[k]) + log2pi;
            bad |= 1 - vrnn_log_fast_ok(s[k]);
        }
    }
    if (!bad) return;
    for (npy_intp k = 0; k < K; ++k) acc[k] = 0;
    for (npy_intp d = 0; d < D; ++d) {
        for (npy_intp k = 0; k < K; ++k) {
            T u = (y[d] - mu[d * K + k]) / sig[d * K + k];
            acc[k] += u * u + 2 * vrnn_log_exact(sig[d * K + k]) + log2pi;
        }
    }
}

/* a_k = log coeff_k - acc_k / 2 in place; returns logsumexp_k a_k. */
template <typename T>
static T vrnn_gmm_row_logits(const T* coeff, npy_intp K, T* acc) {
    T top = -INFINITY;
    for (npy_intp k = 0; k < K; ++k) {
        acc[k] = vrnn_log_exact(coeff[k]) - (T)0.5 * acc[k];
        top = acc[k] > top ? acc[k] : top;
    }
    T total = 0;
    for (npy_intp k = 0; k < K; ++k) total += vrnn_exp(acc[k] - top);
    return vrnn_log_exact(total) + top;
}

template <typename T>
static void vrnn_gmm_nll(const T* y, const T* mu, const T* sig, const T* coeff,
                         npy_intp N, npy_intp D, npy_intp K, T* out, T* work) {
    for (npy_intp n = 0; n < N; ++n) {
        vrnn_gmm_row_sums(y + n * D, mu + n * D * K, sig + n * D * K, D, K, work);
        out[n] = -vrnn_gmm_row_logits(coeff + n * K, K, work);
    }
}

template <typename T>
static void vrnn_gmm_nll_grad(const T* y, const T* mu, const T* sig, const T* coeff, const T* g,
                              npy_intp N, npy_intp D, npy_intp K, T* dy, T* dmu, T* dsig, T* dcoeff, T* work) {
    for (npy_intp n = 0; n < N; ++n) {
        const T* yn = y + n * D;
        const T* mun = mu + n * D * K;
        const T* sign = sig + n * D * K;
        vrnn_gmm_row_sums(yn, mun, sign, D, K, work);
        T lse = vrnn_gmm_row_logits(coeff + n * K, K, work);
        for (npy_intp k = 0; k < K; ++k) {
            work[k] = g[n] * vrnn_exp(work[k] - lse);          /* g w_k */
            dcoeff[n * K + k] = -work[k] / coeff[n * K + k];
        }
        for (npy_intp d = 0; d < D; ++d) {
            const T yd = yn[d];
            const T* m = mun + d * K;
            const T* s = sign + d * K;
            T* dm = dmu + n * D * K + d * K;
            T* ds = dsig + n * D * K + d * K;
            T total = 0;
            #pragma omp simd reduction(+:total)
            for (npy_intp k = 0; k < K; ++k) {
                T inv = 1 / s[k];
                T u = (yd - m[k]) * inv;
                T t = work[k] * inv;
                dm[k] = -t * u;
                ds[k] = t * (1 - u * u);
                total += t * u;
            }
            dy[n * D + d] = total;
        }
    }
}
#endif
""" % {"log_2pi": LOG_2PI}

#: Version of the compiled C code: changes whenever this file or the C text does (PyTensor keys
#: its cache of compiled modules on it).
CODE_VERSION = (1, int(hashlib.sha1(Path(__file__).read_bytes() + SUPPORT_CODE.encode()).hexdigest()[:12], 16))


def _float_inputs(*values):
    """The inputs as tensors of one float dtype (their upcast)."""
    tensors = [pt.as_tensor_variable(v) for v in values]
    dtype = upcast(*(t.dtype for t in tensors))
    if dtype not in ("float32", "float64"):
        raise TypeError(f"GMM cost: inputs must be float32 or float64, got {[t.dtype for t in tensors]}")
    return [t if t.dtype == dtype else pt.cast(t, dtype) for t in tensors], dtype


def _check_ndims(names, tensors, ndims):
    for name, tensor, ndim in zip(names, tensors, ndims):
        if tensor.ndim != ndim:
            raise TypeError(f"GMM cost: {name} must have {ndim} dimensions, got {tensor.ndim}")


def _numpy_logits(y, mu, sig, coeff):
    n, k = coeff.shape
    mu3 = mu.reshape(n, -1, k)
    sig3 = sig.reshape(n, -1, k)
    with np.errstate(all="ignore"):
        u = (y[:, :, None] - mu3) / sig3
        return np.log(coeff) - 0.5 * np.sum(u * u + 2 * np.log(sig3) + LOG_2PI, axis=1), u, sig3


def _numpy_logsumexp(a):
    with np.errstate(all="ignore"):
        top = np.max(a, axis=1, keepdims=True)
        return (np.log(np.sum(np.exp(a - top), axis=1, keepdims=True)) + top)[:, 0]


class _GMMCOp(COp):
    """Shared C plumbing: contiguous inputs, output allocation, dtype dispatch."""

    __props__ = ()

    def c_support_code(self, **kwargs):
        return SUPPORT_CODE

    def c_headers(self, **kwargs):
        return ["<math.h>", "<float.h>", "<stdint.h>", "<string.h>", "<stdlib.h>"]

    def c_compile_args(self, **kwargs):
        return ["-fopenmp-simd"]

    def c_code_cache_version(self):
        return CODE_VERSION

    @staticmethod
    def _contiguous(names):
        """Contiguous copies (new references) ``in<i>_c``, named by position: one variable may be
        two inputs."""
        return "\n".join(f"PyArrayObject* in{i}_c = PyArray_GETCONTIGUOUS({v});" for i, v in enumerate(names))

    @staticmethod
    def _release(names):
        return "\n".join(f"Py_XDECREF(in{i}_c);" for i in range(len(names)))

    @staticmethod
    def _alloc(out, ndim, dims, typenum, fail):
        same = " && ".join(f"PyArray_DIMS({out})[{i}] == {d}" for i, d in enumerate(dims))
        return f"""
        if ({out} == NULL || PyArray_NDIM({out}) != {ndim} || !({same}) || !PyArray_IS_C_CONTIGUOUS({out})) {{
            npy_intp shape[{ndim}] = {{{", ".join(dims)}}};
            Py_XDECREF({out});
            {out} = (PyArrayObject*)PyArray_EMPTY({ndim}, shape, {typenum}, 0);
            if (!{out}) {{ {fail} }}
        }}"""


def _shape_checks(y, mu, sig, coeff, fail):
    return f"""
    if (PyArray_NDIM({y}) != 2 || PyArray_NDIM({mu}) != 2 || PyArray_NDIM({sig}) != 2 || PyArray_NDIM({coeff}) != 2) {{
        PyErr_SetString(PyExc_ValueError, "GMM cost: y, mu, sig, coeff must be matrices");
        {fail}
    }}
    const npy_intp N = PyArray_DIMS({y})[0], D = PyArray_DIMS({y})[1], K = PyArray_DIMS({coeff})[1];
    if (PyArray_DIMS({mu})[0] != N || PyArray_DIMS({mu})[1] != D * K
        || PyArray_DIMS({sig})[0] != N || PyArray_DIMS({sig})[1] != D * K || PyArray_DIMS({coeff})[0] != N) {{
        PyErr_Format(PyExc_ValueError,
                     "GMM cost: shapes y (%ld, %ld), mu (%ld, %ld), sig (%ld, %ld), coeff (%ld, %ld) do not "
                     "match (N, D), (N, D*K), (N, D*K), (N, K)",
                     (long)N, (long)D, (long)PyArray_DIMS({mu})[0], (long)PyArray_DIMS({mu})[1],
                     (long)PyArray_DIMS({sig})[0], (long)PyArray_DIMS({sig})[1], (long)PyArray_DIMS({coeff})[0],
                     (long)K);
        {fail}
    }}"""


class GMMNll(_GMMCOp):
    """``nll = -logsumexp_k(log coeff_k - 0.5 sum_d [u_dk^2 + 2 log sig_dk + log 2pi])`` per row (module doc).

    Inputs y (N, D), mu (N, D*K), sig (N, D*K), coeff (N, K); output (N,).
    """

    def make_node(self, y, mu, sig, coeff):
        inputs, dtype = _float_inputs(y, mu, sig, coeff)
        _check_ndims(("y", "mu", "sig", "coeff"), inputs, (2, 2, 2, 2))
        out = pt.tensor(dtype=dtype, shape=(inputs[0].type.shape[0],))
        return Apply(self, inputs, [out])

    def perform(self, node, inputs, outputs):
        y, mu, sig, coeff = inputs
        a, _, _ = _numpy_logits(y, mu, sig, coeff)
        outputs[0][0] = np.asarray(-_numpy_logsumexp(a), dtype=node.outputs[0].dtype)

    def infer_shape(self, fgraph, node, shapes):
        return [(shapes[0][0],)]

    def pullback(self, inputs, outputs, output_grads):
        return list(GMMNllGrad()(*inputs, output_grads[0]))

    def c_code(self, node, name, inputs, outputs, sub):
        y, mu, sig, coeff = inputs
        (out,) = outputs
        ctype = "npy_float32" if node.outputs[0].dtype == "float32" else "npy_float64"
        typenum = "NPY_FLOAT32" if ctype == "npy_float32" else "NPY_FLOAT64"
        fail = sub["fail"]
        names = (y, mu, sig, coeff)
        return f"""
        {{
        {_shape_checks(y, mu, sig, coeff, fail)}
        {self._alloc(out, 1, ["N"], typenum, fail)}
        {self._contiguous(names)}
        {ctype}* work = ({ctype}*)malloc(sizeof({ctype}) * (K > 0 ? K : 1));
        if (!work || !in0_c || !in1_c || !in2_c || !in3_c) {{
            free(work);
            {self._release(names)}
            if (!PyErr_Occurred()) PyErr_NoMemory();
            {fail}
        }}
        vrnn_gmm_nll<{ctype}>(({ctype}*)PyArray_DATA(in0_c), ({ctype}*)PyArray_DATA(in1_c),
                              ({ctype}*)PyArray_DATA(in2_c), ({ctype}*)PyArray_DATA(in3_c),
                              N, D, K, ({ctype}*)PyArray_DATA({out}), work);
        free(work);
        {self._release(names)}
        }}
        """


class GMMNllGrad(_GMMCOp):
    """Gradient of :class:`GMMNll` given the upstream ``g`` (N,): (dy, dmu, dsig, dcoeff), same shapes
    as (y, mu, sig, coeff) (formulas in the module doc)."""

    def make_node(self, y, mu, sig, coeff, g):
        inputs, dtype = _float_inputs(y, mu, sig, coeff, g)
        _check_ndims(("y", "mu", "sig", "coeff", "g"), inputs, (2, 2, 2, 2, 1))
        outputs = [pt.tensor(dtype=dtype, shape=v.type.shape) for v in inputs[:4]]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, outputs):
        y, mu, sig, coeff, g = inputs
        a, u, sig3 = _numpy_logits(y, mu, sig, coeff)
        with np.errstate(all="ignore"):
            gw = g[:, None] * np.exp(a - _numpy_logsumexp(a)[:, None])          # (N, K)
            t = gw[:, None, :] / sig3                                          # (N, D, K)
            grads = (np.sum(t * u, axis=2), (-t * u).reshape(mu.shape), (t * (1 - u * u)).reshape(sig.shape),
                     -gw / coeff)
        for slot, value, var in zip(outputs, grads, node.outputs):
            slot[0] = np.asarray(value, dtype=var.dtype)

    def infer_shape(self, fgraph, node, shapes):
        return list(shapes[:4])

    def c_code(self, node, name, inputs, outputs, sub):
        y, mu, sig, coeff, g = inputs
        dy, dmu, dsig, dcoeff = outputs
        ctype = "npy_float32" if node.outputs[0].dtype == "float32" else "npy_float64"
        typenum = "NPY_FLOAT32" if ctype == "npy_float32" else "NPY_FLOAT64"
        fail = sub["fail"]
        names = (y, mu, sig, coeff, g)
        allocs = "\n".join([self._alloc(dy, 2, ["N", "D"], typenum, fail),
                            self._alloc(dmu, 2, ["N", "D * K"], typenum, fail),
                            self._alloc(dsig, 2, ["N", "D * K"], typenum, fail),
                            self._alloc(dcoeff, 2, ["N", "K"], typenum, fail)])
        return f"""
        {{
        {_shape_checks(y, mu, sig, coeff, fail)}
        if (PyArray_NDIM({g}) != 1 || PyArray_DIMS({g})[0] != N) {{
            PyErr_SetString(PyExc_ValueError, "GMM cost gradient: g must be a vector of one value per row");
            {fail}
        }}
        {allocs}
        {self._contiguous(names)}
        {ctype}* work = ({ctype}*)malloc(sizeof({ctype}) * (K > 0 ? K : 1));
        if (!work || !in0_c || !in1_c || !in2_c || !in3_c || !in4_c) {{
            free(work);
            {self._release(names)}
            if (!PyErr_Occurred()) PyErr_NoMemory();
            {fail}
        }}
        vrnn_gmm_nll_grad<{ctype}>(({ctype}*)PyArray_DATA(in0_c), ({ctype}*)PyArray_DATA(in1_c),
                                   ({ctype}*)PyArray_DATA(in2_c), ({ctype}*)PyArray_DATA(in3_c),
                                   ({ctype}*)PyArray_DATA(in4_c), N, D, K,
                                   ({ctype}*)PyArray_DATA({dy}), ({ctype}*)PyArray_DATA({dmu}),
                                   ({ctype}*)PyArray_DATA({dsig}), ({ctype}*)PyArray_DATA({dcoeff}), work);
        free(work);
        {self._release(names)}
        }}
        """


gmm_nll = GMMNll()


@functools.cache
def register_jax():
    """Give both ops their JAX implementation (the module doc's formulas in jax.numpy; XLA fuses
    them). Called where a graph is prepared for JAX mode (:func:`cle.backend.compiling`)."""
    import jax
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify

    def logits(y, mu, sig, coeff):
        n, k = coeff.shape
        mu3 = mu.reshape(n, -1, k)
        sig3 = sig.reshape(n, -1, k)
        u = (y[:, :, None] - mu3) / sig3
        return jnp.log(coeff) - 0.5 * jnp.sum(u * u + 2 * jnp.log(sig3) + LOG_2PI, axis=1), u, sig3

    def logsumexp(a):
        top = jax.lax.stop_gradient(jnp.max(a, axis=1, keepdims=True))
        return (jnp.log(jnp.sum(jnp.exp(a - top), axis=1, keepdims=True)) + top)[:, 0]

    @jax_funcify.register(GMMNll)
    def _nll(op, **kwargs):
        def gmm_nll_jax(y, mu, sig, coeff):
            return -logsumexp(logits(y, mu, sig, coeff)[0])
        return gmm_nll_jax

    @jax_funcify.register(GMMNllGrad)
    def _nll_grad(op, **kwargs):
        def gmm_nll_grad_jax(y, mu, sig, coeff, g):
            a, u, sig3 = logits(y, mu, sig, coeff)
            gw = g[:, None] * jnp.exp(a - logsumexp(a)[:, None])
            t = gw[:, None, :] / sig3
            return (jnp.sum(t * u, axis=2), (-t * u).reshape(mu.shape), (t * (1 - u * u)).reshape(sig.shape),
                    -gw / coeff)
        return gmm_nll_grad_jax
