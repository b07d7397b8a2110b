"""cle.jax_linker: a JAX-mode function keeps no copies of its shared values in the globals of its
converted graph, and still computes with the current values."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import cle.backend as B
from cle.jax_linker import drop_shadowed_globals

SOURCE = """
def graph(w, x):
    y = w * x + offset
    return y * scale
"""


def test_drop_shadowed_globals_removes_only_names_the_function_keeps_local():
    env = {"w": "stale w", "y": "stale y", "offset": 1.0, "scale": 2.0, "unrelated": 3}
    exec(SOURCE, env)
    graph = env["graph"]
    removed = drop_shadowed_globals(graph)
    assert sorted(removed) == ["w", "y"]  # a parameter and an assigned name
    assert "offset" in env and "scale" in env and "unrelated" in env  # read from the globals, or not its own
    assert graph(3.0, 4.0) == (3.0 * 4.0 + 1.0) * 2.0
    assert drop_shadowed_globals(graph) == []


def converted_graph(fn):
    """The Python function PyTensor's JAX conversion made of ``fn``'s graph."""
    return fn.vm.jit_fn.__wrapped__


def test_a_jax_function_keeps_no_copy_of_its_shared_values_and_uses_the_current_ones(jax_float32):
    jax = pytest.importorskip("jax")
    rng = np.random.default_rng(0)
    w = pytensor.shared(rng.standard_normal((300, 200)).astype("float32"), name="w")
    b = pytensor.shared(np.zeros(200, dtype="float32"), name="b")
    table = rng.standard_normal((200,)).astype("float32")  # a constant of the graph: it stays
    x = pt.tensor("x", dtype="float32", shape=(8, 300))
    y = pt.tanh(x @ w + b) * pt.constant(table)
    cost = (y ** 2).sum()
    gw, gb = pytensor.grad(cost, [w, b])
    with B.precision("float32"):
        fn = B.function([x], cost, updates=[(w, w - 0.01 * gw), (b, b - 0.01 * gb)], mode="jax")

    arrays = [value for value in converted_graph(fn).__globals__.values() if isinstance(value, np.ndarray | jax.Array)]
    shapes = [value.shape for value in arrays]
    assert (300, 200) not in shapes and (200,) in shapes  # no copy of w; the constant table kept
    assert sum(value.nbytes for value in arrays) < 300 * 200 * 4

    data = rng.standard_normal((8, 300)).astype("float32")
    for _ in range(3):  # each call must read the values the previous one wrote
        w0, b0 = np.asarray(w.get_value()), np.asarray(b.get_value())
        expected = (((np.tanh(data @ w0 + b0) * table) ** 2).sum())
        np.testing.assert_allclose(float(fn(data)), expected, rtol=2e-5)
        assert not np.allclose(np.asarray(w.get_value()), w0)
    w.set_value(np.zeros((300, 200), dtype="float32"))  # a value set from outside is used too
    b0 = np.asarray(b.get_value())
    np.testing.assert_allclose(float(fn(data)), ((np.tanh(b0) * table) ** 2).sum() * len(data), rtol=2e-5)


def step_function(w, b):
    """One gradient step of sum((tanh(x @ w + b))^2) on w and b (float32, JAX mode)."""
    x = pt.tensor("x", dtype="float32", shape=(4, 6))
    cost = (pt.tanh(x @ w + b) ** 2).sum()
    gw, gb = pytensor.grad(cost, [w, b])
    with B.precision("float32"):
        return B.function([x], cost, updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)], mode="jax")


def reference_step(data, w, b):
    pre = np.tanh(data @ w + b)
    d = 2 * pre * (1 - pre ** 2)
    return (pre ** 2).sum(), w - 0.1 * data.T @ d, b - 0.1 * d.sum(axis=0)


def test_updated_shared_buffers_are_donated_and_the_values_stay_right(jax_float32):
    """The updates are written into the old buffers: an old value held with borrow=True is gone
    after the call (as documented), a copy from get_value() is not, and the numbers are right."""
    pytest.importorskip("jax")
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((6, 5)).astype("float32")
    w_numpy = w0.copy()
    w = pytensor.shared(w_numpy, name="w", borrow=True)  # the user's own numpy array
    b = pytensor.shared(np.zeros(5, dtype="float32"), name="b")
    fn = step_function(w, b)
    data = rng.standard_normal((4, 6)).astype("float32")
    expected_w, expected_b = w0, np.zeros(5, dtype="float32")
    for call in range(3):
        borrowed, copied = w.get_value(borrow=True), w.get_value()
        cost = float(fn(data))
        np.testing.assert_allclose(np.asarray(copied), expected_w, rtol=1e-5, atol=1e-6)  # the copy lives on
        expected_cost, expected_w, expected_b = reference_step(data, expected_w, expected_b)
        assert cost == pytest.approx(expected_cost, rel=1e-5)
        np.testing.assert_allclose(np.asarray(w.get_value()), expected_w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(b.get_value()), expected_b, rtol=1e-5, atol=1e-6)
        if call:  # a JAX array of the function's own making: its buffer went to the update
            assert borrowed.is_deleted()
    np.testing.assert_array_equal(w_numpy, w0)  # JAX copied the user's numpy array; never wrote it


def test_a_function_without_updates_donates_nothing(jax_float32):
    pytest.importorskip("jax")
    w = pytensor.shared(np.ones((6, 5), dtype="float32"), name="w")
    b = pytensor.shared(np.zeros(5, dtype="float32"), name="b")
    step_function(w, b)(np.ones((4, 6), dtype="float32"))
    x = pt.tensor("x", dtype="float32", shape=(4, 6))
    with B.precision("float32"):
        monitor = B.function([x], (x @ w + b).sum(), mode="jax")
    held = w.get_value(borrow=True)
    monitor(np.ones((4, 6), dtype="float32"))
    assert not held.is_deleted() and w.get_value(borrow=True) is held


def test_two_updates_from_one_expression_get_buffers_of_their_own(jax_float32):
    """Both variables are donated at every call; each must hold a buffer of its own for that."""
    pytest.importorskip("jax")
    a = pytensor.shared(np.ones(5, dtype="float32"), name="a")
    b = pytensor.shared(np.ones(5, dtype="float32"), name="b")
    total = a + b
    with B.precision("float32"):
        fn = B.function([], total.sum(), updates=[(a, total), (b, total)], mode="jax")
    for expected in (10.0, 20.0, 40.0):
        assert float(fn()) == expected
        assert a.get_value(borrow=True) is not b.get_value(borrow=True)
    np.testing.assert_array_equal(np.asarray(a.get_value()), np.full(5, 8.0))
