"""cle.finish: compiled functions keep no rewrite bookkeeping, JAX-mode functions are XLA-compiled
when they are made (not at their first call), and freed C memory goes back to the system."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.destroyhandler import DestroyHandler

import cle.backend as B
from cle.finish import REWRITE_ONLY_FEATURES, compile_ahead, shed_rewrite_state

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


def scan_graph(shape=(None, None)):
    """y = cumulative tanh-recurrence of x (T, n) through a weight; cost and its gradient."""
    x = pt.tensor("x", dtype="float64", shape=shape)
    w = pytensor.shared(np.linspace(-0.5, 0.5, 9).reshape(3, 3), name="w")
    h = pytensor.scan(lambda x_t, h_tm1: pt.tanh(x_t + h_tm1 @ w), sequences=[x],
                         outputs_info=[pt.zeros((3,), dtype="float64")], return_updates=False)
    cost = (h ** 2).sum()
    return x, w, [cost, pytensor.grad(cost, w)]


def reference(x, w):
    h, hs = np.zeros(3), []
    for x_t in x:
        h = np.tanh(x_t + h @ w)
        hs.append(h)
    return float((np.array(hs) ** 2).sum())


def features(fgraph):
    return [type(f).__name__ for f in fgraph._features]


def test_rewrite_bookkeeping_is_shed_and_the_function_still_runs_and_copies():
    x, w, outputs = scan_graph()
    with B.precision("float64"):
        fn = pytensor.function([x], outputs, updates=[(w, w - 0.1 * outputs[1])], mode=B.get_compile_mode("c"))
    fgraph = fn.maker.fgraph
    assert any(isinstance(f, REWRITE_ONLY_FEATURES) for f in fgraph._features)
    assert any(v not in fgraph.variables for v in fgraph.clients)  # what the rewrites replaced
    data = np.random.default_rng(0).standard_normal((5, 3))
    w0 = w.get_value()
    detached = shed_rewrite_state(fgraph)
    assert detached >= 3
    assert not any(isinstance(f, REWRITE_ONLY_FEATURES) for f in fgraph._features), features(fgraph)
    assert any(isinstance(f, DestroyHandler) for f in fgraph._features)  # in-place ordering kept
    assert all(v in fgraph.variables for v in fgraph.clients)
    cost, _ = fn(data)
    assert cost == pytest.approx(reference(data, w0), rel=1e-12)
    copy, w1 = fn.copy(), w.get_value()
    np.testing.assert_allclose(copy(data)[0], reference(data, w1), rtol=1e-12)
    assert shed_rewrite_state(fgraph) == 0  # nothing left to shed


def test_every_project_function_is_finished():
    x, w, outputs = scan_graph()
    with B.precision("float64"):
        fn = B.function([x], outputs, mode="c")
    assert not any(isinstance(f, REWRITE_ONLY_FEATURES) for f in fn.maker.fgraph._features)
    assert compile_ahead(fn) is False  # not a JAX function


@pytest.fixture
def backend_compiles():
    """The list of XLA backend compiles (their durations) while the test runs."""
    jax = pytest.importorskip("jax")
    seen = []

    def listener(event, duration, **kwargs):
        if event == BACKEND_COMPILE_EVENT:
            seen.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    yield seen
    jax.monitoring.unregister_event_duration_listener(listener)


def test_a_jax_function_is_compiled_when_made_not_at_its_first_call(backend_compiles, jax_float64):
    x, w, outputs = scan_graph(shape=(7, 3))
    with B.precision("float64"):
        fn = B.function([x], outputs, mode="jax")
    compiled_when_made = len(backend_compiles)
    assert compiled_when_made >= 1
    data = np.random.default_rng(1).standard_normal((7, 3))
    cost, grad = fn(data)
    cost_again, _ = fn(data)
    assert len(backend_compiles) == compiled_when_made  # the calls found it compiled
    assert float(cost) == pytest.approx(reference(data, w.get_value()), rel=1e-12)
    assert float(cost_again) == float(cost)


def test_a_jax_function_with_an_input_of_unknown_shape_compiles_at_its_first_call(backend_compiles,
                                                                                  jax_float32):
    x = pt.vector("x", dtype="float32")  # JAX compiles per shape: nothing to compile ahead
    with B.precision("float32"):
        fn = pytensor.function([x], (x ** 2).sum(), mode=B.get_compile_mode("jax"))
    assert compile_ahead(fn) is False
    assert backend_compiles == []
    assert float(fn(np.arange(4, dtype="float32"))) == 14.0
    assert len(backend_compiles) >= 1


def test_jax_functions_carry_the_projects_xla_options(jax_float32):
    """cle.jax_linker: on a CPU the project's JAX functions are compiled without YNNPACK fusions
    (a plain jax.jit of the same computation has them, where this XLA uses YNNPACK at all)."""
    jax = pytest.importorskip("jax")
    from cle.jax_linker import XLA_CPU_OPTIONS, JAXLinkerWithOptions

    if jax.default_backend() != "cpu":
        pytest.skip("the options are for XLA's CPU compiler")
    x = pt.tensor("x", dtype="float32", shape=(64, 96))
    w = pytensor.shared(np.linspace(-1, 1, 96 * 80, dtype="float32").reshape(96, 80), name="w")
    with B.precision("float32"):
        fn = B.function([x], pt.tanh(x @ w).sum(axis=0), mode="jax")
    assert isinstance(fn.maker.linker, JAXLinkerWithOptions)
    data = np.random.default_rng(2).standard_normal((64, 96)).astype("float32")
    np.testing.assert_allclose(fn(data), np.tanh(data @ w.get_value()).sum(axis=0), rtol=2e-5, atol=2e-5)
    spec = jax.ShapeDtypeStruct((64, 96), "float32")
    ours = fn.vm.jit_fn.lower(spec, w.get_value()).compile().as_text()
    plain = jax.jit(lambda a, b: jax.numpy.tanh(a @ b).sum(axis=0)).lower(spec, w.get_value()).compile().as_text()
    if "__ynn_fusion" not in plain:
        pytest.skip("this XLA does not use YNNPACK fusions by default")
    assert XLA_CPU_OPTIONS and "__ynn_fusion" not in ours
