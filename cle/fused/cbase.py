"""What the fused ops share: branch-free single-precision ``log`` / ``exp`` that compilers
vectorise, and the C plumbing of an op (contiguous inputs, output allocation, versioning).

``vrnn_log(x)`` is Cephes' logf for a positive normal float (within 1-2 ulp of the C library's;
for anything else use ``vrnn_log_exact``, and ``vrnn_log_fast_ok`` says which); its float64
overload is the C library's. ``vrnn_exp_nonpositive(x)`` is Cephes' expf for x <= 0 (0 below
log(FLT_MIN)). ``vrnn_select(c, a, b)`` is ``c ? a : b`` on the bits, so loops stay vectorisable.
"""
import hashlib
import sys
from pathlib import Path

from pytensor.link.c.op import COp

__all__ = ["MATH_CODE", "FusedCOp"]

#: C math shared by every fused op (one copy per compiled module).
MATH_CODE = r"""
#ifndef VRNN_FUSED_MATH
#define VRNN_FUSED_MATH
#include <math.h>
#include <float.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

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

static inline float vrnn_select(int c, float a, float b) {    /* c ? a : b, branch-free */
    uint32_t ab, bb, m = (uint32_t)(-(int32_t)c);
    memcpy(&ab, &a, 4);
    memcpy(&bb, &b, 4);
    uint32_t r = (ab & m) | (bb & ~m);
    float out;
    memcpy(&out, &r, 4);
    return out;
}

/* exp(x) for x <= 0 (Cephes' expf); 0 below log(FLT_MIN) = -87.3365, where exp(x) is no longer a
   normal float. */
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

#endif
"""


class FusedCOp(COp):
    """A COp whose C code is :data:`MATH_CODE` + its class's ``support_code``, compiled with
    ``-fopenmp-simd`` (the loops' ``#pragma omp simd``), with helpers for the generated code."""

    __props__ = ()
    #: C templates of the op (after MATH_CODE)
    support_code = ""

    def c_support_code(self, **kwargs):
        return MATH_CODE + self.support_code

    def c_headers(self, **kwargs):
        return ["<math.h>", "<float.h>", "<stdint.h>", "<string.h>", "<stdlib.h>"]

    def c_compile_args(self, **kwargs):
        return ["-fopenmp-simd"]

    def c_code_cache_version(self):
        """Changes whenever this file or the op's module does (PyTensor keys its cache of compiled
        modules on it)."""
        source = Path(__file__).read_bytes() + Path(sys.modules[type(self).__module__].__file__).read_bytes()
        return (1, int(hashlib.sha1(source).hexdigest()[:12], 16))

    @staticmethod
    def c_types(node):
        """(C type, NumPy type number) of the node's output dtype (float32 or float64)."""
        if node.outputs[0].dtype == "float32":
            return "npy_float32", "NPY_FLOAT32"
        return "npy_float64", "NPY_FLOAT64"

    @staticmethod
    def alloc_output(out, dims, typenum, fail):
        """C that (re)allocates ``out`` as a contiguous array of shape ``dims`` (C expressions)."""
        ndim = len(dims)
        same = " && ".join(f"PyArray_DIMS({out})[{i}] == {d}" for i, d in enumerate(dims))
        return f"""
        if ({out} == NULL || PyArray_NDIM({out}) != {ndim} || !({same}) || !PyArray_IS_C_CONTIGUOUS({out})) {{
            npy_intp shape[{ndim}] = {{{", ".join(dims)}}};
            Py_XDECREF({out});
            {out} = (PyArrayObject*)PyArray_EMPTY({ndim}, shape, {typenum}, 0);
            if (!{out}) {{ {fail} }}
        }}"""

    @staticmethod
    def call_on_contiguous(inputs, ctype, call, fail, work=None):
        """C that calls ``call`` (a format string over ``{data}``, the inputs' data pointers, and
        ``work``) on contiguous copies of ``inputs``, with ``work`` (a C size expression, or None)
        elements of scratch memory; everything is released afterwards and on failure. The copies are
        named by position: one variable may be two inputs."""
        copies = "\n".join(f"PyArrayObject* in{i}_c = PyArray_GETCONTIGUOUS({v});" for i, v in enumerate(inputs))
        release = "\n".join(f"Py_XDECREF(in{i}_c);" for i in range(len(inputs)))
        missing = " || ".join(f"!in{i}_c" for i in range(len(inputs)))
        data = ", ".join(f"({ctype}*)PyArray_DATA(in{i}_c)" for i in range(len(inputs)))
        size = work if work is not None else "1"
        return f"""
        {copies}
        {ctype}* work = ({ctype}*)malloc(sizeof({ctype}) * ({size} > 0 ? {size} : 1));
        if (!work || {missing}) {{
            free(work);
            {release}
            if (!PyErr_Occurred()) PyErr_NoMemory();
            {fail}
        }}
        {call.format(data=data, work="work")};
        free(work);
        {release}"""
