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
``a``), vectorised over blocks of M * K contiguous values, M the fewest rows of d that make a
multiple of 8 values (K = 20: two rows, 40 values, five 8-wide registers; K components alone would
leave a ragged remainder in every row of d), the last block shorter when M does not divide D; a
block of whole rows keeps the compiler's vector loop free of a per-row remainder (the timings are
in benchmarks/README.md). The gradient is bound by writing dmu and dsig. In float32 ``log sig`` is a
polynomial (Cephes' logf, within 1-2 ulp of the C library's) that the compiler vectorises, and a row
holding a ``sig`` that is not a positive normal float (0, negative, NaN, inf, subnormal) is
recomputed with the C library's ``log``, so such values give exactly what the formula gives (NaN,
inf). float64 uses the C library throughout. :func:`gmm_nll` is what :func:`cle.cost.GMM` calls.
"""
import functools

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.scalar import upcast

from cle.fused.cbase import FusedCOp

__all__ = ["GMMNll", "GMMNllGrad", "gmm_nll", "register_jax"]

#: log(2 pi), the normalising constant of a unit Gaussian (a Python float, so float32 graphs stay
#: float32); :mod:`cle.cost` uses this one too.
LOG_2PI = float(np.log(2 * np.pi))

#: C templates of both ops (after :data:`cle.fused.cbase.MATH_CODE`).
SUPPORT_CODE = r"""
#ifndef VRNN_FUSED_GMM
#define VRNN_FUSED_GMM
/* Rows of d per block: the smallest M with M * K a multiple of 8, so that a block of M * K
   contiguous (mu, sig) values fills whole SIMD registers (K = 20: M = 2, blocks of 40). */
static inline npy_intp vrnn_gmm_group(npy_intp K) {
    npy_intp m = 8;
    while (m > 1 && (K * (m / 2)) %% 8 == 0) m /= 2;
    return m;
}

/* Scratch elements of the row functions: K for the sums, then 4 blocks. */
static inline npy_intp vrnn_gmm_scratch(npy_intp K) { return K + 4 * vrnn_gmm_group(K) * K; }

/* yb[r*K + k] = y[r] for the M rows of one block (y repeated K times). */
template <typename T>
static inline void vrnn_gmm_spread(const T* y, npy_intp M, npy_intp K, T* yb) {
    for (npy_intp r = 0; r < M; ++r)
        for (npy_intp k = 0; k < K; ++k) yb[r * K + k] = y[r];
}

/* acc_k = sum_d (u_dk^2 + 2 log sig_dk + log 2pi) for one row; scratch: 2 blocks. The row is
   walked in blocks of M * K contiguous values, the last one shorter when M does not divide D
   (partial sums per position, added up at the end). */
template <typename T>
static void vrnn_gmm_row_sums(const T* y, const T* mu, const T* sig, npy_intp D, npy_intp K, T* acc, T* scratch) {
    const T log2pi = (T)%(log_2pi)r;
    const npy_intp M = vrnn_gmm_group(K), B = M * K;
    T* part = scratch;
    T* yb = scratch + B;
    for (npy_intp i = 0; i < B; ++i) part[i] = 0;
    int bad = 0;
    for (npy_intp d = 0; d < D; d += M) {
        const npy_intp rows = D - d < M ? D - d : M, L = rows * K;
        vrnn_gmm_spread(y + d, rows, K, yb);
        const T* m = mu + d * K;
        const T* s = sig + d * K;
        #pragma omp simd reduction(|:bad)
        for (npy_intp i = 0; i < L; ++i) {
            T u = (yb[i] - m[i]) / s[i];
            part[i] += u * u + 2 * vrnn_log(s[i]) + log2pi;
            bad |= 1 - vrnn_log_fast_ok(s[i]);
        }
    }
    for (npy_intp k = 0; k < K; ++k) {
        T total = 0;
        for (npy_intp r = 0; r < M; ++r) total += part[r * K + k];
        acc[k] = total;
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
        vrnn_gmm_row_sums(y + n * D, mu + n * D * K, sig + n * D * K, D, K, work, work + K);
        out[n] = -vrnn_gmm_row_logits(coeff + n * K, K, work);
    }
}

/* The gradient, row by row: the row's sums and responsibilities as for the cost, then one pass
   over (mu, sig) in the same blocks, the last one shorter (t_dk u_dk kept per block, summed over
   k for dy_d). */
template <typename T>
static void vrnn_gmm_nll_grad(const T* y, const T* mu, const T* sig, const T* coeff, const T* g,
                              npy_intp N, npy_intp D, npy_intp K, T* dy, T* dmu, T* dsig, T* dcoeff, T* work) {
    const npy_intp M = vrnn_gmm_group(K), B = M * K;
    T* yb = work + K + B;          /* (the row sums use work + K .. work + K + 2B) */
    T* wb = work + K + 2 * B;
    T* tu = work + K + 3 * B;
    for (npy_intp n = 0; n < N; ++n) {
        const T* yn = y + n * D;
        const T* mun = mu + n * D * K;
        const T* sign = sig + n * D * K;
        vrnn_gmm_row_sums(yn, mun, sign, D, K, work, work + K);
        T lse = vrnn_gmm_row_logits(coeff + n * K, K, work);
        for (npy_intp k = 0; k < K; ++k) {
            work[k] = g[n] * vrnn_exp(work[k] - lse);          /* g w_k */
            dcoeff[n * K + k] = -work[k] / coeff[n * K + k];
        }
        for (npy_intp r = 0; r < M; ++r)
            for (npy_intp k = 0; k < K; ++k) wb[r * K + k] = work[k];
        for (npy_intp d = 0; d < D; d += M) {
            const npy_intp rows = D - d < M ? D - d : M, L = rows * K;
            vrnn_gmm_spread(yn + d, rows, K, yb);
            const T* m = mun + d * K;
            const T* s = sign + d * K;
            T* dm = dmu + n * D * K + d * K;
            T* ds = dsig + n * D * K + d * K;
            #pragma omp simd
            for (npy_intp i = 0; i < L; ++i) {
                T inv = 1 / s[i];
                T u = (yb[i] - m[i]) * inv;
                T t = wb[i] * inv;
                dm[i] = -t * u;
                ds[i] = t * (1 - u * u);
                tu[i] = t * u;
            }
            for (npy_intp r = 0; r < rows; ++r) {
                T total = 0;
                for (npy_intp k = 0; k < K; ++k) total += tu[r * K + k];
                dy[n * D + d + r] = total;
            }
        }
    }
}
#endif
""" % {"log_2pi": LOG_2PI}

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


def _formula(xp, y, mu, sig, coeff, g=None):
    """The module doc's formulas with array module ``xp`` (numpy or jax.numpy): nll (N,), or with
    the upstream ``g`` the gradient (dy, dmu, dsig, dcoeff)."""
    n, k = coeff.shape
    mu3 = mu.reshape(n, -1, k)
    sig3 = sig.reshape(n, -1, k)
    u = (y[:, :, None] - mu3) / sig3
    a = xp.log(coeff) - 0.5 * xp.sum(u * u + 2 * xp.log(sig3) + LOG_2PI, axis=1)
    top = xp.max(a, axis=1, keepdims=True)
    lse = xp.log(xp.sum(xp.exp(a - top), axis=1, keepdims=True)) + top
    if g is None:
        return -lse[:, 0]
    gw = g[:, None] * xp.exp(a - lse)                     # g w_k, (N, K)
    t = gw[:, None, :] / sig3                             # (N, D, K)
    return xp.sum(t * u, axis=2), (-t * u).reshape(mu.shape), (t * (1 - u * u)).reshape(sig.shape), -gw / coeff


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


class GMMNll(FusedCOp):
    """``nll = -logsumexp_k(log coeff_k - 0.5 sum_d [u_dk^2 + 2 log sig_dk + log 2pi])`` per row (module doc).

    Inputs y (N, D), mu (N, D*K), sig (N, D*K), coeff (N, K); output (N,).
    """

    support_code = SUPPORT_CODE

    def make_node(self, y, mu, sig, coeff):
        inputs, dtype = _float_inputs(y, mu, sig, coeff)
        _check_ndims(("y", "mu", "sig", "coeff"), inputs, (2, 2, 2, 2))
        out = pt.tensor(dtype=dtype, shape=(inputs[0].type.shape[0],))
        return Apply(self, inputs, [out])

    def perform(self, node, inputs, outputs):
        with np.errstate(all="ignore"):
            outputs[0][0] = np.asarray(_formula(np, *inputs), dtype=node.outputs[0].dtype)

    def infer_shape(self, fgraph, node, shapes):
        return [(shapes[0][0],)]

    def pullback(self, inputs, outputs, output_grads):
        return list(GMMNllGrad()(*inputs, output_grads[0]))

    def c_code(self, node, name, inputs, outputs, sub):
        y, mu, sig, coeff = inputs
        (out,) = outputs
        ctype, typenum = self.c_types(node)
        fail = sub["fail"]
        call = f"vrnn_gmm_nll<{ctype}>({{data}}, N, D, K, ({ctype}*)PyArray_DATA({out}), {{work}})"
        return f"""
        {{
        {_shape_checks(y, mu, sig, coeff, fail)}
        {self.alloc_output(out, ["N"], typenum, fail)}
        {self.call_on_contiguous(inputs, ctype, call, fail, work="vrnn_gmm_scratch(K)")}
        }}
        """


class GMMNllGrad(FusedCOp):
    """Gradient of :class:`GMMNll` given the upstream ``g`` (N,): (dy, dmu, dsig, dcoeff), same shapes
    as (y, mu, sig, coeff) (formulas in the module doc)."""

    support_code = SUPPORT_CODE

    def make_node(self, y, mu, sig, coeff, g):
        inputs, dtype = _float_inputs(y, mu, sig, coeff, g)
        _check_ndims(("y", "mu", "sig", "coeff", "g"), inputs, (2, 2, 2, 2, 1))
        outputs = [pt.tensor(dtype=dtype, shape=v.type.shape) for v in inputs[:4]]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, outputs):
        with np.errstate(all="ignore"):
            grads = _formula(np, *inputs)
        for slot, value, var in zip(outputs, grads, node.outputs):
            slot[0] = np.asarray(value, dtype=var.dtype)

    def infer_shape(self, fgraph, node, shapes):
        return list(shapes[:4])

    def c_code(self, node, name, inputs, outputs, sub):
        y, mu, sig, coeff, g = inputs
        ctype, typenum = self.c_types(node)
        fail = sub["fail"]
        shapes = (["N", "D"], ["N", "D * K"], ["N", "D * K"], ["N", "K"])
        allocs = "\n".join(self.alloc_output(out, dims, typenum, fail) for out, dims in zip(outputs, shapes))
        results = ", ".join(f"({ctype}*)PyArray_DATA({out})" for out in outputs)
        call = f"vrnn_gmm_nll_grad<{ctype}>({{data}}, N, D, K, {results}, {{work}})"
        return f"""
        {{
        {_shape_checks(y, mu, sig, coeff, fail)}
        if (PyArray_NDIM({g}) != 1 || PyArray_DIMS({g})[0] != N) {{
            PyErr_SetString(PyExc_ValueError, "GMM cost gradient: g must be a vector of one value per row");
            {fail}
        }}
        {allocs}
        {self.call_on_contiguous(inputs, ctype, call, fail, work="vrnn_gmm_scratch(K)")}
        }}
        """


gmm_nll = GMMNll()


@functools.cache
def register_jax():
    """Give both ops their JAX implementation (the module doc's formulas in jax.numpy; XLA fuses
    them). Called where a graph is prepared for JAX mode (:func:`cle.backend.compiling`)."""
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(GMMNll)
    def _nll(op, **kwargs):
        def gmm_nll_jax(y, mu, sig, coeff):
            return _formula(jnp, y, mu, sig, coeff)
        return gmm_nll_jax

    @jax_funcify.register(GMMNllGrad)
    def _nll_grad(op, **kwargs):
        def gmm_nll_grad_jax(y, mu, sig, coeff, g):
            return _formula(jnp, y, mu, sig, coeff, g)
        return gmm_nll_grad_jax
