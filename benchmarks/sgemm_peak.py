"""Measure the machine's single-precision matrix-multiply peak through numpy's BLAS.

Run once per thread count (the BLAS reads its thread count at load time)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/sgemm_peak.py
    OPENBLAS_NUM_THREADS=2 python benchmarks/sgemm_peak.py

Prints one JSON line: GFLOP/s (best of ``REPEATS``) for square float32 products of each size,
counting 2 n^3 floating-point operations per product, and the BLAS kernel in use.
"""
import json
import os
import sys
import time

import numpy as np

#: Square sizes measured; large enough that the product is compute-bound.
SIZES = (2048, 4096)
#: Timed repetitions per size; the best one is reported (least disturbed by other processes).
REPEATS = 5


def blas_info():
    """The BLAS library, kernel and thread count numpy uses (needs threadpoolctl; else '?')."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"blas": "?", "kernel": "?", "threads": os.environ.get("OPENBLAS_NUM_THREADS", "?")}
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            return {"blas": pool.get("internal_api"), "version": pool.get("version"),
                    "kernel": pool.get("architecture"), "threads": pool.get("num_threads")}
    return {"blas": "none found"}


def gflops(n):
    """Best GFLOP/s of ``REPEATS`` float32 (n, n) @ (n, n) products."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=out)
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 / best / 1e9


def main():
    result = {"gflops": {str(n): round(gflops(n), 1) for n in SIZES}}
    result.update(blas_info())
    result["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE")
    result["OPENBLAS_L2_SIZE"] = os.environ.get("OPENBLAS_L2_SIZE")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
