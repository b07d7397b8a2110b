"""The VRNN-GMM training function compiles with PyTensor's JAX backend and agrees with the C backend.

Both backends get the same tiny model (same seed, so the same initial parameters), the same
batches and the same injected noise; the training function is the real one of
:class:`cle.train.Training` (gradient, GradientClipping(check_nan=1), Adam, WeightNorm and the
TBPTT state updates). The JAX graph has a static input shape, as the JAX backend requires.
jax is imported unconditionally: CI installs the jax extra, so these tests never skip there.
"""
import jax  # noqa: F401  (CI installs the jax extra: a missing jax is a failure, not a skip)
import numpy as np
import pytensor.tensor as pt
import pytest
from model_helpers import float64_variables, speech_batches, tiny_config

from cle import backend
from nips2015_vrnn.models import build_model

T, B, X, Z = 5, 3, 4, 2
#: Training calls compared: the first starts from zeros, the next two carry the TBPTT state.
N_STEPS = 3
#: float32 on two backends with different fusion and reduction order: agreement to ~1e-6 relative.
RTOL = 1e-4
#: Adam's epsilon here. With the default 1e-8, a parameter whose gradient is float32 rounding noise
#: (a ReLU unit of the prior that is off for the whole batch) moves by about +-lr depending on that
#: noise: after two updates b_prior_2 differed by 1e-3 between the backends and the third call's
#: state by 0.9 % (measured), while the costs agreed to 3e-7. 1e-4 keeps such updates at the noise's
#: size; it changes only the updates of gradients below about 1e-4, for both backends alike.
ADAM_EPS = 1e-4


def _train(mode):
    """Costs, gradient norms and final TBPTT state of N_STEPS training calls compiled in ``mode``."""
    from cle.train.ext import GradientClipping, WeightNorm
    from cle.train.opt import Adam
    from cle.train.training import Training

    model = build_model(tiny_config("blizzard/vrnn_gmm", x_dim=X, z_dim=Z, num_k=2, depth=2, batch_size=B),
                        backend=backend.Backend(mode=mode))
    if mode == "jax":
        model.x = pt.tensor("x", dtype=model.dtype, shape=(T, B, X))
    graph = model.training_graph(eps_input=True)
    cost = graph.outputs["nll_upper_bound"]
    with backend.precision(model.dtype):  # Adam's shared values in the model's precision
        training = Training(f"jax-check-{mode}", [], model.as_cle_model(eps_input=True), Adam(1e-2, eps=ADAM_EPS), cost,
                            [cost], extension=[GradientClipping(batch_size=B, check_nan=1), WeightNorm()],
                            progress=False, backend=model.backend)
    rng = np.random.default_rng(5)
    xs = [x.astype(model.dtype) for x in speech_batches(N_STEPS, T, B, X, seed=3)]
    costs, norms = [], []
    for x in xs:
        eps = rng.standard_normal((T, B, Z)).astype(model.dtype)
        costs.append(float(np.asarray(training.cost_fn(x, eps)[0])))
        norms.append(training.last_grad_norm)
    wide = float64_variables(training._train_fn.maker.fgraph)
    return np.array(costs), np.array(norms), np.asarray(model.rnn_tm1.get_value()), wide


@pytest.fixture(scope="module")
def both_backends():
    # float32 JAX graphs: JAX's x64 mode off for them, as a float32 program sets it at its start.
    x64 = jax.config.jax_enable_x64
    backend.start_jax("float32")
    try:
        return _train("c"), _train("jax")
    finally:
        jax.config.update("jax_enable_x64", x64)


def test_jax_training_cost_matches_c_backend(both_backends):
    (c_costs, *_), (jax_costs, *_) = both_backends
    assert np.all(np.isfinite(c_costs))
    np.testing.assert_allclose(jax_costs, c_costs, rtol=RTOL)


def test_jax_gradient_norms_match_c_backend(both_backends):
    (_, c_norms, *_), (_, jax_norms, *_) = both_backends
    np.testing.assert_allclose(jax_norms, c_norms, rtol=RTOL)


def test_jax_carried_lstm_state_matches_c_backend(both_backends):
    (_, _, c_state, _), (_, _, jax_state, _) = both_backends
    assert np.any(c_state != 0)
    np.testing.assert_allclose(jax_state, c_state, rtol=RTOL, atol=1e-6)


def test_float32_jax_training_function_has_no_float64(both_backends):
    """No float64 anywhere in the compiled float32 JAX training function, scan steps included
    (a float64 carry in the backward scan once made this comparison fail)."""
    (*_, c_wide), (*_, jax_wide) = both_backends
    assert not jax_wide, jax_wide[:5]
    assert not c_wide, c_wide[:5]


def test_jax_graphs_keep_elementwise_chains_for_xla_to_fuse():
    """The JAX mode leaves out PyTensor's elementwise fusion (XLA fuses): no Composite op."""
    from pytensor.scalar import Composite

    x = pt.vector("x", dtype="float32", shape=(4,))
    chain = pt.exp(x) * 2 + pt.log1p(x)
    kinds = {mode: {type(getattr(node.op, "scalar_op", None)) for node in
                    backend.function([x], chain, mode=mode).maker.fgraph.apply_nodes}
             for mode in ("c", "jax")}
    assert Composite in kinds["c"]
    assert Composite not in kinds["jax"]
