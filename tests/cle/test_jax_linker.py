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


def test_a_jax_function_keeps_no_copy_of_its_shared_values_and_uses_the_current_ones(restore_jax_x64):
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
