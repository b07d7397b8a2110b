"""Every model family gives the same numbers under PyTensor's JAX backend as under the C backend.

Same tiny model (same seed, so the same initial parameters), same inputs, same injected noise;
the JAX side runs on the model's static-shape copy (``model.static(T, B)``) as the application
does. Compared per family (the paper's five models, depth 1, widths 2-6; VRNN-GMM also on
handwriting, in the full suite only):

- the training cost and every parameter gradient (``grad_fn``),
- the TBPTT state carried over two training calls (``cost_fn``; VRNN-GMM: the code is shared, and
  ``tests/models/test_jax_backend.py`` checks it in float32 through the real training function),
- sequences generated from the same seed (injected noise),
- the importance-sampled log-likelihood and lower bound from the same seed.

Each family's functions are compiled once per backend (a module fixture) and shared by its tests;
the quick subset (``-m "not slow"``, what CI runs) holds all of the above for the five families.

float64 on both backends: agreement to 1e-10 relative (JAX runs in x64 mode, which float64
graphs switch on themselves). float32 (VRNN-GMM, cost and gradients; full suite): 1e-4 relative,
float32 rounding after two different fusion and reduction orders (JAX also accumulates float32
sums in float32 where the C backend uses float64 accumulators).

jax is imported unconditionally: CI installs the ``jax`` extra, and these tests must not skip.
"""
import jax  # CI installs the jax extra: a missing jax is a failure, not a skip
import numpy as np
import pytest
from model_helpers import handwriting_batches, speech_batches, tiny_config

from cle.backend import Backend, start_jax
from nips2015_vrnn.models import build_model

T, B, X, Z = 5, 3, 4, 2
#: The paper's five models (quick subset), and VRNN-GMM on handwriting (full suite: its own output
#: model, also run in JAX end to end by tests/models/app/test_cli_jax.py).
FAMILIES = ["blizzard/vrnn_gmm", "blizzard/vrnn_gauss", "blizzard/vrnn_i_gauss", "blizzard/rnn_gmm",
            "blizzard/rnn_gauss", pytest.param("iamondb/vrnn_gmm", marks=pytest.mark.slow)]
#: The carried TBPTT state (the same code for every family) is compared in float64 for this one.
CARRY_FAMILY = "blizzard/vrnn_gmm"
RTOL64 = 1e-10
RTOL32 = 1e-4


@pytest.fixture(scope="module", autouse=True)
def restore_x64():
    """JAX's x64 switch as it was before this module (each comparison sets it for its precision,
    as a program does at its start)."""
    x64 = jax.config.jax_enable_x64
    yield
    jax.config.update("jax_enable_x64", x64)


def _model(preset, dtype, mode="c"):
    overrides = dict(z_dim=Z, num_k=2, batch_size=B, m_batch_size=B, depth=1)
    if preset.startswith("blizzard"):
        overrides.update(x_dim=X)
    backend = Backend(mode=mode, floatX=dtype)
    if mode == "jax":
        start_jax(dtype)
    return build_model(tiny_config(preset, **overrides), backend=backend)


def _inputs(model, seed=3):
    rng = np.random.default_rng(seed)
    if model.mask is None:
        data = [speech_batches(1, T, B, X, seed=seed)[0].astype(model.dtype)]
    else:
        x, mask = handwriting_batches(1, T, B, seed=seed)[0]
        data = [x.astype(model.dtype), mask.astype(model.dtype)]
    eps = [rng.standard_normal((T, B, Z)).astype(model.dtype)] if model.latent_dim else []
    return data, eps


def _numbers(preset, dtype, mode, only_state=False):
    """Everything compared, computed with a fresh model compiled in ``mode``."""
    model = _model(preset, dtype, mode)
    shaped = model.static(T, B) if mode == "jax" else model
    data, eps = _inputs(model)
    if only_state:
        cost = shaped.cost_fn(eps_input=True)
        cost(*data, *eps)
        cost(*data, *eps)
        return {"state": np.asarray(model.rnn_tm1.get_value(), dtype=np.float64)}
    out = {}
    out["grad"] = [np.asarray(v, dtype=np.float64) for v in shaped.grad_fn(eps_input=True)(*data, *eps)]
    if dtype == "float64":
        out["generated"] = np.asarray(model.generate(4, 2, seed=7), dtype=np.float64)
        mask = data[1] if len(data) == 2 else None
        out["is"] = model.importance_sampled_loglik(data[0], mask, n_samples=3, seed=11, max_columns=4)
        out["bound"] = model.lower_bound(data[0], mask, seed=11, batch_size=2)
    return out


@pytest.fixture(scope="module", params=FAMILIES)
def float64_pair(request):
    return _numbers(request.param, "float64", "c"), _numbers(request.param, "float64", "jax")


def test_jax_float64_cost_and_gradients_match_c(float64_pair):
    c, j = float64_pair
    assert np.all(np.isfinite(c["grad"][0]))
    assert len(c["grad"]) == len(j["grad"])
    for c_value, j_value in zip(c["grad"], j["grad"]):
        np.testing.assert_allclose(j_value, c_value, rtol=RTOL64, atol=1e-12)


def test_jax_float64_carried_state_matches_c():
    c = _numbers(CARRY_FAMILY, "float64", "c", only_state=True)
    j = _numbers(CARRY_FAMILY, "float64", "jax", only_state=True)
    assert np.any(c["state"] != 0)
    np.testing.assert_allclose(j["state"], c["state"], rtol=RTOL64, atol=1e-12)


def test_jax_float64_generation_from_injected_noise_matches_c(float64_pair):
    c, j = float64_pair
    assert c["generated"].shape == j["generated"].shape
    np.testing.assert_allclose(j["generated"], c["generated"], rtol=RTOL64, atol=1e-12)


def test_jax_float64_importance_sampling_and_bound_match_c(float64_pair):
    c, j = float64_pair
    assert np.all(np.isfinite(c["is"]))
    np.testing.assert_allclose(j["is"], c["is"], rtol=RTOL64)
    np.testing.assert_allclose(j["bound"], c["bound"], rtol=RTOL64)


@pytest.mark.slow
def test_jax_float32_cost_and_gradients_match_c():
    """float32 graphs traced with JAX's x64 mode off, as in a float32 run."""
    c = _numbers("blizzard/vrnn_gmm", "float32", "c")
    j = _numbers("blizzard/vrnn_gmm", "float32", "jax")
    np.testing.assert_allclose(j["grad"][0], c["grad"][0], rtol=RTOL32)
    # Gradients at the rounding level (the KL biases of a fresh model, ~1e-8) are compared on the
    # scale of the whole gradient: float32 rounding of the cost is all they are made of.
    scale = max(np.abs(g).max() for g in c["grad"][1:])
    for c_value, j_value in zip(c["grad"][1:], j["grad"][1:]):
        np.testing.assert_allclose(j_value, c_value, rtol=RTOL32, atol=RTOL32 * scale)


def test_static_copy_shares_parameters_and_state():
    model = _model("blizzard/vrnn_gmm", "float64")
    shaped = model.static(T, B)
    assert shaped is model.static(T, B)
    assert shaped.x.type.shape == (T, B, X) and model.x.type.shape == (None, None, None)
    assert all(shaped.params[k] is model.params[k] for k in model.params)
    assert shaped.rnn_tm1 is model.rnn_tm1 and shaped.train_rng is model.train_rng
