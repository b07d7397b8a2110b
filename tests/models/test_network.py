"""Layer and parameter names (legacy scheme) and parameter counts, without compiling."""
import numpy as np
from golden_data import load_golden
from model_helpers import tiny_config

from nips2015_vrnn.models import build_model
from nips2015_vrnn.models.network import count_params, param_shapes


def test_blizzard_names_and_order_are_the_golden_ones():
    golden = load_golden("blizzard_vrnn_gmm_forward")
    config = tiny_config("blizzard/vrnn_gmm", x_dim=8, z_dim=4, num_k=3)
    shapes = param_shapes(config)
    assert list(shapes) == [str(n) for n in golden["param_names"]]
    assert all(shapes[n] == golden[f"param__{n}"].shape for n in shapes)


def test_handwriting_vrnn_gmm_names():
    names = list(param_shapes(tiny_config("iamondb/vrnn_gmm", z_dim=2, num_k=3)))
    assert names == ["W_x_1__rnn", "W_z_1__rnn", "U_rnn__rnn", "b_rnn", "W_x_t__x_1", "b_x_1", "W_z_t__z_1", "b_z_1",
                     "W_x_1__phi_1", "W_s_tm1__phi_1", "b_phi_1", "W_phi_1__phi_mu", "b_phi_mu", "W_phi_1__phi_sig",
                     "b_phi_sig", "W_s_tm1__prior_1", "b_prior_1", "W_prior_1__prior_mu", "b_prior_mu",
                     "W_prior_1__prior_sig", "b_prior_sig", "W_z_1__theta_1", "W_s_tm1__theta_1", "b_theta_1",
                     "W_theta_1__theta_mu", "b_theta_mu", "W_theta_1__theta_sig", "b_theta_sig",
                     "W_theta_1__coeff", "b_coeff", "W_theta_1__corr", "b_corr", "W_theta_1__binary", "b_binary"]


def test_handwriting_head_widths():
    shapes = param_shapes(tiny_config("iamondb/vrnn_gmm", num_k=3))
    assert shapes["W_theta_1__theta_mu"] == (5, 6) and shapes["W_theta_1__theta_sig"] == (5, 6)
    assert shapes["b_coeff"] == (3,) and shapes["b_corr"] == (3,) and shapes["b_binary"] == (1,)


def test_vrnn_i_has_no_prior_network():
    names = param_shapes(tiny_config("blizzard/vrnn_i_gauss"))
    assert not [n for n in names if "prior" in n]
    assert names["W_theta_4__theta_mu"] == (5, 200)


def test_rnn_reads_x_only():
    names = list(param_shapes(tiny_config("blizzard/rnn_gmm", depth=1)))
    assert names[:3] == ["W_x_1__rnn", "U_rnn__rnn", "b_rnn"]
    assert "W_s_tm1__theta_1" in names and not [n for n in names if "z_" in n or "phi" in n]


def test_count_matches_the_built_model():
    config = tiny_config("iamondb/vrnn_gmm", num_k=3)
    assert count_params(config) == build_model(config).n_params()


def test_initialisation_follows_the_legacy_recipe():
    model = build_model(tiny_config("blizzard/vrnn_gmm", depth=1, num_k=2))
    values = model.get_param_values()
    assert np.all(np.abs(values["W_x_t__x_1"]) <= 0.08)
    assert np.allclose(values["b_phi_sig"], 0.6) and np.allclose(values["b_theta_sig"], 0.6)
    assert np.all(values["b_x_1"] == 0)
    block = values["U_rnn__rnn"][:, :6].astype(np.float64)
    assert np.allclose(block.T @ block, np.eye(6), atol=1e-5)


def test_same_seed_same_parameters():
    a = build_model(tiny_config("iamondb/vrnn_gmm", seed=5)).get_param_values()
    b = build_model(tiny_config("iamondb/vrnn_gmm", seed=5)).get_param_values()
    assert all(np.array_equal(a[k], b[k]) for k in a)
