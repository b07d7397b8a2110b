"""cle.blas: PyTensor's C products linked to the scipy-openblas32 OpenBLAS give numpy's numbers."""
import ctypes
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cle import blas

pytestmark = pytest.mark.skipif(not blas.available(), reason="scipy-openblas32 is not installed")


def library_path():
    import scipy_openblas32

    return Path(scipy_openblas32.get_lib_dir()) / f"lib{scipy_openblas32.get_library()}.so"


def test_every_mapped_routine_is_exported_by_the_library():
    library = ctypes.CDLL(str(library_path()))
    missing = [name for name in blas.ROUTINES if not hasattr(library, blas.PREFIX + name)]
    assert missing == []


def test_flags_link_the_library_and_map_each_routine():
    flags = blas.ldflags().split()
    assert f"-L{library_path().parent}" in flags
    assert "-Dsgemm_=scipy_sgemm_" in flags and "-Ddgemv_=scipy_dgemv_" in flags
    assert sum(flag.startswith("-D") for flag in flags) == len(blas.ROUTINES)


def test_c_gemm_gemv_and_ger_on_the_linked_blas_match_numpy():
    """float64 products compiled by PyTensor's C BLAS ops against numpy's, to 1e-10."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.tensor.blas import Dot22, Gemm
    from pytensor.tensor.blas_c import CGemv, CGer

    from cle.backend import get_compile_mode

    with pytensor.config.change_flags(blas__ldflags=blas.ldflags(), floatX="float64"):
        a, b, c = pt.dmatrix("a"), pt.dmatrix("b"), pt.dmatrix("c")
        v, w = pt.dvector("v"), pt.dvector("w")
        outputs = [pt.dot(a, b) * 0.5 + c, pt.dot(a, b), pt.dot(a, v) * 2.0 + w, a + pt.outer(w, v)]
        fn = pytensor.function([a, b, c, v, w], outputs, mode=get_compile_mode("c"))
    ops = {type(node.op) for node in fn.maker.fgraph.toposort()}
    assert ops & {Gemm, Dot22} and CGemv in ops and CGer in ops, ops
    rng = np.random.default_rng(0)
    a_, b_, c_ = rng.standard_normal((7, 5)), rng.standard_normal((5, 6)), rng.standard_normal((7, 6))
    v_, w_ = rng.standard_normal(5), rng.standard_normal(7)
    got = fn(a_, b_, c_, v_, w_)
    expected = [a_ @ b_ * 0.5 + c_, a_ @ b_, a_ @ v_ * 2.0 + w_, a_ + np.outer(w_, v_)]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-10)


def run_program_start(pytensor_flags):
    env = dict(os.environ, PYTENSOR_FLAGS=pytensor_flags)
    code = "from cle.blas import link_at_program_start as f; print(repr(f()))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1], result.stderr


def test_program_start_keeps_the_users_flag_and_links_without_a_warning():
    kept, _ = run_program_start("blas__ldflags=")
    assert kept == "''"
    linked, stderr = run_program_start("")
    assert linked == repr(blas.ldflags())
    assert "could not link to a BLAS" not in stderr
