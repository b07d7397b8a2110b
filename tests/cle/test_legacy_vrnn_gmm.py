"""The cle layers wired as the legacy Blizzard VRNN-GMM reproduce the legacy forward pass and
all 60 gradients (golden ``blizzard_vrnn_gmm_forward.npz``, float64)."""
import pytensor
import pytensor.tensor as pt
import pytest
from golden_data import load_golden
from legacy_wiring import build_legacy_vrnn_gmm
from numerics import FLOAT64_RTOL, rel_err

import cle.backend as B

#: float64 against the legacy numbers: measured worst relative error (tests/numerics.rel_err)
#: 1.2e-16 for the forward values (coeff), 7.5e-16 for the gradients (W_phi_2__phi_3).
GOLDEN_RTOL = FLOAT64_RTOL
#: The dims of the golden file (tests/golden/README.md).
DIMS = dict(x_dim=8, z_dim=4, rnn_dim=6, q_z_dim=5, p_z_dim=5, p_x_dim=5, x2s_dim=5, z2s_dim=5, k=3)

# result key -> golden key
FORWARD_KEYS = {
    "kl": "kl", "recon": "recon", "kl_term": "kl_term", "recon_term": "recon_term",
    "nll_upper_bound": "nll_upper_bound", "s": "scan_s", "phi_mu": "scan_phi_mu", "phi_sig": "scan_phi_sig",
    "prior_mu": "scan_prior_mu", "prior_sig": "scan_prior_sig", "z_feat": "scan_z_feat", "x_in": "inter_x_in",
    "theta_mu": "inter_theta_mu_in", "theta_sig": "inter_theta_sig_in", "coeff": "inter_coeff_in",
}


@pytest.fixture(scope="module")
def legacy_run():
    """Forward values and gradients from ONE compiled float64 function."""
    golden = load_golden("blizzard_vrnn_gmm_forward")
    names = [str(n) for n in golden["param_names"]]
    with B.precision("float64"):
        x = pt.tensor3("x", dtype="float64")
        eps = pt.tensor3("eps", dtype="float64")
        results, params = build_legacy_vrnn_gmm(DIMS, x, eps, params={n: golden[f"param__{n}"] for n in names})
        grads = pytensor.grad(results["nll_upper_bound"], [params[n] for n in names])
        keys = list(FORWARD_KEYS)
        fn = B.function([x, eps], [results[k] for k in keys] + grads)
    values = fn(golden["x"], golden["eps"])
    forward = dict(zip(keys, values[:len(keys)]))
    gradients = dict(zip(names, values[len(keys):]))
    return golden, names, params, forward, gradients


def test_params_come_in_legacy_order_and_shapes(legacy_run):
    golden, names, params, _, _ = legacy_run
    assert list(params) == names
    for n in names:
        assert params[n].get_value().shape == golden[f"param__{n}"].shape


@pytest.mark.parametrize("key", list(FORWARD_KEYS))
def test_forward_matches_golden(legacy_run, key):
    golden, _, _, forward, _ = legacy_run
    want = golden[FORWARD_KEYS[key]]
    assert forward[key].shape == want.shape
    assert rel_err(forward[key], want) < GOLDEN_RTOL


def test_monitor_numbers_equal_training_numbers_at_step_0(legacy_run):
    golden, _, _, forward, _ = legacy_run
    assert rel_err(forward["kl"], golden["monitor_kl"]) < GOLDEN_RTOL
    assert rel_err(forward["recon"], golden["monitor_recon"]) < GOLDEN_RTOL
    assert rel_err(forward["nll_upper_bound"], golden["monitor_nll_upper_bound"]) < GOLDEN_RTOL


def test_all_60_gradients_match_golden(legacy_run):
    golden, names, _, _, gradients = legacy_run
    assert len(names) == 60
    errors = {n: rel_err(gradients[n], golden[f"grad__{n}"]) for n in names}
    worst = max(errors, key=errors.get)
    assert errors[worst] < GOLDEN_RTOL, f"worst gradient {worst}: {errors[worst]:.3g}"
