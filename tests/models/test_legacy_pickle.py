"""The port's VRNN-GMM with the parameters of a pickle the legacy code wrote gives the legacy numbers
(golden ``legacy_blizzard_tiny_reference.npz``: batch ``x``, noise ``eps``, float64).

Tolerance ``numerics.FLOAT64_RTOL`` (1e-10 relative, ``numerics.rel_err``). Measured worst relative
errors (both pickles): costs 0, per-frame terms 9.0e-16, gradients 3.2e-12 (b_coeff, a gradient of
size 4e-5 left from sums of terms of size 1), monitor statistics 8.6e-16, costs from the pickled
TBPTT state 0.
"""
import numpy as np
import pytest
from golden_data import golden_file, load_golden
from numerics import FLOAT64_RTOL, rel_err

from cle.backend import Backend
from cle.legacy import read_mainloop
from nips2015_vrnn.models import build_model
from nips2015_vrnn.models.app.legacy_config import legacy_model_config

PICKLES = ["legacy_blizzard_tiny_mainloop.pkl.gz", "legacy_blizzard_tiny_mainloop_proto2_redump.pkl.gz"]
COSTS = ("nll_upper_bound", "recon_term", "kl_term")


@pytest.fixture(scope="module")
def reference():
    return load_golden("legacy_blizzard_tiny_reference")


@pytest.fixture(scope="module")
def model():
    loop = read_mainloop(golden_file(PICKLES[0]))
    config, _ = legacy_model_config(loop, config_file=golden_file("legacy_blizzard_tiny_config.json"))
    return build_model(config, backend=Backend(mode="c", floatX="float64"))  # the golden comparisons are C's


@pytest.fixture(scope="module", params=PICKLES)
def loaded(request, model):
    """The model with the parameters of one pickle, TBPTT state at zero."""
    loop = read_mainloop(golden_file(request.param))
    model.set_param_values(loop.params)
    model.reset_state()
    return model, loop


def test_the_config_is_the_legacy_run_s(model):
    c = model.config
    assert (c.model_name, c.x_dim, c.z_dim, c.rnn_dim, c.depth, c.num_k) == ("VRNN-GMM", 20, 4, 16, 4, 3)
    assert (c.batch_size, c.reset_freq, c.cost_norm, c.lr, c.epoch) == (4, 4, "frame_mean", 1e-3, 2)


def test_costs_and_gradients_equal_the_legacy_numbers(loaded, reference):
    model, _ = loaded
    out = model.grad_fn(eps_input=True).named(reference["x"], reference["eps"])
    for key in COSTS:
        assert rel_err(out[key], reference[key]) < FLOAT64_RTOL, key
    errors = {n: rel_err(out[f"grad__{n}"], reference[f"grad__{n}"]) for n in model.param_names()}
    worst = max(errors, key=errors.get)
    assert errors[worst] < FLOAT64_RTOL, f"worst gradient {worst}: {errors[worst]:.3g}"


def test_costs_from_the_pickled_tbptt_state_equal_the_legacy_numbers(loaded, reference):
    """The legacy numbers of the carried state: s_0 = the pickle's rnn_tm1 (a step_count off the reset)."""
    model, loop = loaded
    model.step_count.set_value(np.int32(1))
    model.rnn_tm1.set_value(loop.state["rnn_tm1"])
    try:
        out = model.grad_fn(eps_input=True).named(reference["x"], reference["eps"])
    finally:
        model.reset_state()
    for key in COSTS:
        assert rel_err(out[key], reference[f"tbptt_{key}"]) < FLOAT64_RTOL, key


def test_per_frame_terms_equal_the_legacy_numbers(loaded, reference):
    """recon_t and KL_t of every (t, b) from the monitor's terms on growing prefixes of one sequence."""
    model, _ = loaded
    monitor = model.monitor_fn(eps_input=True)
    x, eps = reference["x"], reference["eps"]
    n_steps, batch = x.shape[:2]
    recon, kl = np.zeros((n_steps, batch)), np.zeros((n_steps, batch))
    for b in range(batch):
        sums = [np.zeros(2)]
        for t in range(1, n_steps + 1):
            out = monitor.named(x[:t, b:b + 1], eps[:t, b:b + 1])
            sums.append(np.array([out["recon_term"], out["kl_term"]]) * t)  # frame means -> sums
        steps = np.diff(np.asarray(sums), axis=0)
        recon[:, b], kl[:, b] = steps[:, 0], steps[:, 1]
    assert rel_err(recon, reference["recon_TB"]) < FLOAT64_RTOL
    assert rel_err(recon.reshape(-1), reference["recon"]) < FLOAT64_RTOL
    assert rel_err(kl, reference["kl"]) < FLOAT64_RTOL


def test_monitor_statistics_equal_the_legacy_intermediates(loaded, reference):
    model, _ = loaded
    out = model.monitor_fn(eps_input=True).named(reference["x"], reference["eps"])
    for key in COSTS:
        assert rel_err(out[key], reference[f"monitor_{key}"]) < FLOAT64_RTOL, key
    for term, ref in (("phi_sig", "phi_sig"), ("prior_sig", "prior_sig"), ("theta_sig", "theta_sig_in"),
                      ("theta_mu", "theta_mu_in")):
        for stat in ("max", "mean", "min"):
            want = getattr(np, stat)(reference[ref])
            assert rel_err(out[f"{stat}_{term}"], want) < FLOAT64_RTOL, f"{stat}_{term}"
