"""Training a VRNN with the IWAE or FIVO bound (config ``bound``, ``particles``, ``resample``).

Tiny VRNN-GMM, float64, C mode unless said. The training cost from injected noise against the
evaluation graphs fed the same noise (IWAE: the sequence graph's log-weights; FIVO: the particle
graph), 1e-10; its gradient against central finite differences; the carried state of the K
particles; the same numbers in JAX mode; the configuration keys.
"""
import math

import numpy as np
import pytest
from model_helpers import speech_batches, tiny_config
from numerics import FLOAT64_RTOL, rel_err

from cle.backend import Backend
from nips2015_vrnn.models import build_model
from nips2015_vrnn.models.config import ConfigError
from nips2015_vrnn.models.estimators import logmeanexp

T, B, X, Z, K = 5, 3, 4, 2, 3


def _model(bound, mode="c", **overrides):
    config = tiny_config("blizzard/vrnn_gmm", z_dim=Z, num_k=2, batch_size=B, m_batch_size=B, depth=1, x_dim=X,
                         bound=bound, particles=K, **overrides)
    return build_model(config, backend=Backend(mode=mode, floatX="float64"))


def _noise(seed=0):
    """The training graph's noise (T, B, K (Z + 1)) and the eps (T, K*B, Z), u (T, K, B) it means."""
    noise = np.random.default_rng(seed).standard_normal((T, B, K * (Z + 1)))
    eps = noise[:, :, :K * Z].reshape(T, B, K, Z).transpose(0, 2, 1, 3).reshape(T, K * B, Z)
    u = 0.5 * (1 + np.vectorize(math.erf)(noise[:, :, K * Z:] / math.sqrt(2))).transpose(0, 2, 1)
    return noise, eps, u


@pytest.fixture(scope="module")
def x():
    return speech_batches(1, T, B, X, seed=5)[0]


@pytest.fixture(scope="module")
def fivo_model():
    return _model("fivo", reset_freq=0)


def test_iwae_training_cost_is_minus_the_iwae_bound_per_frame(x):
    model = _model("iwae", reset_freq=0)
    noise, eps, _ = _noise()
    cost = model.grad_fn(eps_input=True).named(x, noise)["nll_upper_bound"]
    log_w = model.sequence_fn()(np.tile(x, (1, K, 1)), eps)[0].reshape(K, B)
    assert rel_err(cost, -logmeanexp(log_w, axis=0).mean() / T) < FLOAT64_RTOL


def test_fivo_training_cost_is_minus_the_particle_filter_estimate_per_frame(x, fivo_model):
    noise, eps, u = _noise()
    out = fivo_model.grad_fn(eps_input=True).named(x, noise)
    expected = fivo_model.particle_fn(K, "ess")(x, eps, u)[0]
    assert rel_err(out["nll_upper_bound"], -expected.mean() / T) < FLOAT64_RTOL
    assert np.isfinite(out["recon_term"]) and out["kl_term"] > 0


def test_fivo_gradient_matches_finite_differences(x, fivo_model):
    noise, _, _ = _noise(1)
    fn = fivo_model.grad_fn(eps_input=True)
    names = ["W_x_1__phi_1", "b_theta_mu", "U_rnn__rnn"]
    grads = fn.named(x, noise)
    h = 1e-4  # the gradients are ~1e-6 .. 1e-2 at the start: above round-off, below curvature
    for name in names:
        param = fivo_model.params[name]
        value = param.get_value()
        index = np.unravel_index(np.abs(grads[f"grad__{name}"]).argmax(), value.shape)  # above round-off
        fd = []
        for sign in (1, -1):
            moved = value.copy()
            moved[index] += sign * h
            param.set_value(moved)
            fd.append(fn.named(x, noise)["nll_upper_bound"])
        param.set_value(value)
        assert rel_err(grads[f"grad__{name}"][index], (fd[0] - fd[1]) / (2 * h)) < 1e-6, name


def test_the_k_particles_states_are_carried(x):
    model = _model("fivo")  # reset_freq 4: the second call starts from the first's last states
    assert model.rnn_tm1.get_value().shape == (K * B, 2 * model.config.rnn_dim)
    noise, _, _ = _noise()
    fn = model.cost_fn(eps_input=True)
    first = fn(x, noise)[0]
    assert np.abs(model.rnn_tm1.get_value()).max() > 0
    assert rel_err(fn(x, noise)[0], first) > 1e-8  # same batch and noise, another initial state


def test_jax_gives_the_c_cost_and_gradients(x, fivo_model, jax_float64):
    noise, _, _ = _noise(2)
    jax_model = _model("fivo", mode="jax", reset_freq=0).static(T, B)
    c, j = fivo_model.grad_fn(eps_input=True).named(x, noise), jax_model.grad_fn(eps_input=True).named(x, noise)
    assert abs(j.pop("kl_term") - c.pop("kl_term")) < 1e-15  # ~1e-8 at the start: a difference of O(1) terms
    for name, value in c.items():
        assert rel_err(j[name], value) < FLOAT64_RTOL, name


def test_elbo_is_the_default_and_keeps_one_state_row_per_sequence():
    model = _model("elbo")
    assert model.config.bound == "elbo" and model.training_noise_dim == Z
    assert model.rnn_tm1.get_value().shape[0] == B


@pytest.mark.parametrize("overrides", [dict(bound="vi"), dict(particles=0), dict(resample="never"),
                                       dict(bound="iwae", free_bits=0.1)])
def test_bad_bound_settings_are_refused(overrides):
    with pytest.raises(ConfigError):
        tiny_config("blizzard/vrnn_gmm", **overrides)


def test_the_rnn_family_has_no_bound_but_its_likelihood():
    with pytest.raises(ConfigError, match="bound"):
        tiny_config("blizzard/rnn_gmm", bound="fivo")
