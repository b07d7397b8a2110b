"""The VRNN's particle graph (FIVO, IWAE without resampling) against its own hoisted graph.

Tiny VRNN-GMM (speech) and VRNN-Gauss (handwriting, masked), float64, C mode: the per-frame
particle step gives the same log-weights as the hoisted training graph (IWAE from the sequence
graph with the same noise, 1e-10); one particle never resamples (FIVO = one-sample log-weight);
masked frames change nothing; the same numbers in JAX mode. The bounds themselves are checked
against an exact likelihood in ``test_bounds.py``.
"""
import numpy as np
import pytest
from model_helpers import handwriting_batches, speech_batches, tiny_config
from numerics import FLOAT64_RTOL, rel_err

from cle.backend import Backend
from nips2015_vrnn.models import build_model
from nips2015_vrnn.models.estimators import logmeanexp

T, B, X, Z, K = 6, 3, 4, 2, 5


def _model(preset="blizzard/vrnn_gmm", mode="c"):
    overrides = dict(z_dim=Z, num_k=2, batch_size=B, m_batch_size=B, depth=1)
    if preset.startswith("blizzard"):
        overrides.update(x_dim=X)
    return build_model(tiny_config(preset, **overrides), backend=Backend(mode=mode, floatX="float64"))


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture(scope="module")
def x():
    return speech_batches(1, T, B, X, seed=3)[0]


def _noise(n_particles, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((T, n_particles * B, Z)), rng.uniform(size=(T, n_particles, B))


def test_particle_step_without_resampling_is_the_iwae_bound_of_the_hoisted_graph(model, x):
    eps, u = _noise(K)
    got = model.particle_fn(K, "never")(x, eps, u)[0]
    log_w = model.sequence_fn()(np.tile(x, (1, K, 1)), eps)[0]  # column k * B + b
    assert rel_err(got, logmeanexp(log_w.reshape(K, B), axis=0)) < FLOAT64_RTOL


def test_one_particle_never_resamples(model, x):
    eps, u = _noise(1)
    log_p_hat, resampled = model.particle_fn(1, "ess")(x, eps, u)
    assert np.all(resampled == 0)
    assert rel_err(log_p_hat, model.sequence_fn()(x, eps)[0]) < FLOAT64_RTOL


def test_always_resamples_every_frame(model, x):
    eps, u = _noise(K)
    fivo, resampled = model.particle_fn(K, "always")(x, eps, u)
    assert np.all(resampled == T)
    assert np.all(np.isfinite(fivo))


def test_fivo_loglik_draws_reproducibly_and_ess_resamples_rarely(model, x):
    a = model.fivo_loglik(x, n_particles=K, seed=4)
    assert rel_err(a, model.fivo_loglik(x, n_particles=K, seed=4)) == 0
    assert a.shape == (B,) and np.all(np.isfinite(a))
    eps, u = _noise(K)
    assert 0 <= model.particle_fn(K, "ess")(x, eps, u)[1].max() <= T


def test_masked_frames_change_nothing():
    model = _model("iamondb/vrnn_gauss")
    x, _ = handwriting_batches(1, T, B, seed=1)[0]
    eps, u = _noise(K)
    full = model.particle_fn(K, "ess")(x, np.ones((T, B)), eps, u)[0]
    pad = 3
    x_pad = np.concatenate([x, np.random.default_rng(9).standard_normal((pad, B, 3))])
    mask = np.concatenate([np.ones((T, B)), np.zeros((pad, B))])
    eps_pad = np.concatenate([eps, np.ones((pad,) + eps.shape[1:])])
    u_pad = np.concatenate([u, np.full((pad,) + u.shape[1:], 0.5)])
    assert rel_err(model.particle_fn(K, "ess")(x_pad, mask, eps_pad, u_pad)[0], full) < FLOAT64_RTOL


def test_jax_gives_the_c_numbers(model, x, jax_float64):
    jax_model = _model(mode="jax")
    for resample in ("ess", "always"):
        c = model.fivo_loglik(x, n_particles=K, seed=2, resample=resample, max_columns=K * B)
        j = jax_model.fivo_loglik(x, n_particles=K, seed=2, resample=resample, max_columns=K * B)
        assert rel_err(j, c) < FLOAT64_RTOL
