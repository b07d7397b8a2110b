"""The Blizzard VRNN-GMM built by build_vrnn reproduces the legacy golden forward pass (float64).

Tolerance ``numerics.FLOAT64_RTOL`` (1e-10 relative, ``numerics.rel_err``). Measured worst
relative errors: costs 3.2e-16 (kl_term), gradients 1.7e-15 (W_z_3__z_4), monitor channels
3.2e-16, training step 0 cost and rnn_tm1 2.5e-16, step 1 cost and gradients 4.4e-15 (W_x_3__x_4).
"""
import numpy as np
import pytest
from golden_data import load_golden
from numerics import FLOAT64_RTOL, rel_err

from cle.backend import precision
from nips2015_vrnn.models import build_model, get_preset


@pytest.fixture(scope="module")
def golden():
    return load_golden("blizzard_vrnn_gmm_forward")


@pytest.fixture(scope="module")
def model(golden):
    with precision("float64"):
        config = get_preset("blizzard/vrnn_gmm", x_dim=8, z_dim=4, rnn_dim=6, x2s_dim=5, z2s_dim=5, q_z_dim=5,
                            p_z_dim=5, p_x_dim=5, num_k=3, batch_size=2, m_batch_size=2)
        model = build_model(config, dtype="float64")
    model.set_param_values({name: golden[f"param__{name}"] for name in model.param_names()})
    return model


@pytest.fixture(scope="module")
def forward(model, golden):
    model.reset_state()
    return model.grad_fn(eps_input=True).named(golden["x"], golden["eps"])


def test_parameter_order_is_legacy(model, golden):
    assert model.param_names() == [str(n) for n in golden["param_names"]]


@pytest.mark.parametrize("channel", ["nll_upper_bound", "recon_term", "kl_term"])
def test_training_cost_matches_golden(forward, golden, channel):
    assert rel_err(forward[channel], golden[channel]) < FLOAT64_RTOL


def test_gradients_match_golden(forward, golden, model):
    for name in model.param_names():
        assert rel_err(forward[f"grad__{name}"], golden[f"grad__{name}"]) < FLOAT64_RTOL, name


def test_monitor_matches_golden_and_starts_from_zeros(model, golden):
    model.step_count.set_value(np.int32(1))
    model.rnn_tm1.set_value(np.full((2, 12), 0.5))
    out = model.monitor_fn(eps_input=True).named(golden["x"], golden["eps"])
    model.reset_state()
    assert rel_err(out["nll_upper_bound"], golden["monitor_nll_upper_bound"]) < FLOAT64_RTOL
    assert rel_err(out["kl_term"], golden["monitor_kl"].mean()) < FLOAT64_RTOL
    assert rel_err(out["max_x"], golden["x"].max()) < FLOAT64_RTOL
    assert rel_err(out["min_phi_sig"], golden["scan_phi_sig"].min()) < FLOAT64_RTOL
    assert rel_err(out["mean_theta_mu"], golden["inter_theta_mu_in"].mean()) < FLOAT64_RTOL


def test_monitor_has_the_legacy_channels(model):
    names = model.monitor_fn(eps_input=True).output_names
    stats = [f"{f}_{v}" for v in ("phi_sig", "prior_sig", "theta_sig", "theta_mu", "x") for f in ("max", "mean", "min")]
    assert names == ["nll_upper_bound", "recon_term", "kl_term"] + stats


@pytest.fixture(scope="module")
def steps():
    return load_golden("blizzard_vrnn_gmm_train_steps")


def test_cost_fn_updates_the_tbptt_state(model, steps):
    model.set_param_values({n: steps[f"param0__{n}"] for n in model.param_names()})
    model.reset_state()
    cost = model.cost_fn(eps_input=True)(steps["x"][0], steps["eps"][0])[0]
    assert rel_err(cost, steps["step0_raw_nll"]) < FLOAT64_RTOL
    assert int(model.step_count.get_value()) == 1
    assert rel_err(model.rnn_tm1.get_value(), steps["step0_rnn_tm1"]) < FLOAT64_RTOL


def test_carried_state_gives_the_golden_step1_cost_and_gradients(model, steps):
    model.set_param_values({n: steps[f"step0_param__{n}"] for n in model.param_names()})
    model.step_count.set_value(np.int32(1))
    model.rnn_tm1.set_value(steps["step0_rnn_tm1"])
    out = model.grad_fn(eps_input=True).named(steps["x"][1], steps["eps"][1])
    model.reset_state()
    assert rel_err(out["nll_upper_bound"], steps["step1_raw_nll"]) < FLOAT64_RTOL
    for name in model.param_names():
        assert rel_err(out[f"grad__{name}"], steps[f"step1_rawgrad__{name}"]) < FLOAT64_RTOL, name


def test_only_the_recurrence_is_in_the_scan(model):
    """The scan reads the encoder, z features and LSTM weights; the prior and the decoder (which
    nothing in the recurrence reads) are computed after it, over all T at once."""
    from pytensor.graph.traversal import io_toposort
    from pytensor.scan.op import Scan

    cost = model.training_graph().outputs["nll_upper_bound"]
    scans = [node for node in io_toposort([], [cost]) if isinstance(node.op, Scan)]
    assert len(scans) == 1
    read = {var.name for var in scans[0].inputs}
    params = model.param_names()
    assert {"U_rnn__rnn", "W_phi_4__phi_mu", "W_z_1__z_2"} <= read
    outside = [p for p in params if "prior" in p or "theta" in p]
    assert "W_s_tm1__prior_1" in outside                        # the preset has a learned prior
    assert not read & set(outside)
