"""cle.backend: one explicit Backend value; the library compiles any graph (C by default, C for a
dynamic-shape graph asked in JAX mode), JAX's x64 switch is checked and never flipped by a library
call, and float32 products are full float32 unless asked (the precision reaches XLA's program)."""
import logging
import re

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import cle.backend as B
from cle.errors import UserError
from cle.finish import lowered


def test_the_library_default_is_the_c_mode_in_float32_with_full_products():
    backend = B.Backend()
    assert (backend.mode, backend.floatX, backend.matmul_precision, backend.store) == \
        ("c", "float32", "highest", None)
    assert not backend.static_shapes
    assert backend.spec() == {"mode": "c", "floatX": "float32", "matmul_precision": "highest"}


@pytest.mark.parametrize("kwargs, message", [
    (dict(mode="fortran"), "unknown compile mode 'fortran'"),
    (dict(floatX="float16"), "floatX must be one of float32, float64"),
    (dict(matmul_precision="tf16"), "matmul_precision must be one of highest, tf32, bfloat16"),
    (dict(matmul_precision="tf32"), "matmul_precision 'tf32' needs JAX mode"),
])
def test_a_backend_that_cannot_be_is_one_clear_error(kwargs, message):
    with pytest.raises(UserError, match=re.escape(message)):
        B.Backend(**kwargs)


def test_a_backend_is_a_value():
    backend = B.Backend(floatX="float64")
    assert backend.replace(floatX="float64") == backend
    assert backend.replace(floatX="float32") != backend
    with pytest.raises(AttributeError):
        backend.mode = "jax"


def test_a_function_without_a_backend_is_c_in_the_graphs_precision():
    x = pt.dvector("x")
    fn = B.function([x], 2 * x)
    assert "VM" in type(fn.maker.linker).__name__
    assert fn(np.array([1.5]))[0] == 3.0


def test_a_dynamic_shape_graph_asked_in_jax_is_compiled_in_c_with_one_line(caplog, jax_float32):
    x = pt.tensor("x", dtype="float32", shape=(None, 3))
    h = pytensor.scan(lambda x_t, h: pt.tanh(x_t + h), sequences=[x],
                      outputs_info=[pt.zeros((3,), dtype="float32")], return_updates=False)
    with caplog.at_level(logging.WARNING, logger="cle.backend"):
        fn = B.function([x], h[-1], backend=B.Backend(mode="jax"), name="legacy-style")
    lines = [r.getMessage() for r in caplog.records if r.name == "cle.backend"]
    assert lines == ["compiling legacy-style in C: the jax mode needs static input shapes, and x has an "
                     "unknown dimension"]
    assert "VM" in type(fn.maker.linker).__name__
    data = np.full((4, 3), 0.1, dtype="float32")
    expected = np.zeros(3, dtype="float32")
    for row in data:
        expected = np.tanh(row + expected)
    np.testing.assert_allclose(fn(data), expected, rtol=1e-6)


def test_a_float64_jax_graph_with_x64_off_is_refused_and_x64_is_left_as_it_was(jax_float32):
    import jax

    x = pt.tensor("x", dtype="float64", shape=(2,))
    with pytest.raises(B.ModeError, match=r"x64 mode is off .*start_jax\('float64'\)"):
        B.function([x], 2 * x, backend=B.Backend(mode="jax", floatX="float64"))
    assert jax.config.jax_enable_x64 is False


def test_a_float64_jax_graph_runs_once_the_program_set_x64(jax_float64):
    x = pt.tensor("x", dtype="float64", shape=(2,))
    fn = B.function([x], x / 3, backend=B.Backend(mode="jax", floatX="float64"))
    out = fn(np.array([1.0, 2.0]))
    assert out.dtype == np.float64 and out[0] == 1.0 / 3


@pytest.mark.parametrize("precision, stablehlo", [("highest", "HIGHEST"), ("tf32", "HIGH"),
                                                  ("bfloat16", "DEFAULT")])
def test_the_products_precision_reaches_xlas_program(precision, stablehlo, jax_float32):
    x = pt.tensor("x", dtype="float32", shape=(4, 3))
    w = pytensor.shared(np.ones((3, 2), dtype="float32"), name="w")
    fn = B.function([x], x @ w, backend=B.Backend(mode="jax", matmul_precision=precision))
    found = set(re.findall(r"precision = \[(\w+), \w+\]", lowered(fn).as_text()))
    assert found == {stablehlo}
    np.testing.assert_allclose(fn(np.ones((4, 3), dtype="float32")), np.full((4, 2), 3.0))


def test_start_jax_sets_x64_for_the_programs_precision(jax_float32):
    import jax

    B.start_jax("float64")
    assert jax.config.jax_enable_x64 is True
    B.start_jax("float32")
    assert jax.config.jax_enable_x64 is False
