"""A legacy model's configuration: inferred from its parameter shapes, completed by its config file,
every contradiction one line naming both sides."""
import json
from collections import OrderedDict

import numpy as np
import pytest

from cle.legacy import LegacyMainLoop
from nips2015_vrnn.models import get_preset, param_shapes
from nips2015_vrnn.models.app.legacy_config import (
    infer_fields,
    legacy_model_config,
    read_legacy_config,
)
from nips2015_vrnn.models.app.legacy_import import legacy_records
from nips2015_vrnn.models.config import ConfigError
from nips2015_vrnn.models.network import build_layers

SMALL = dict(rnn_dim=6, z_dim=2, x2s_dim=3, z2s_dim=4, q_z_dim=5, p_z_dim=7, p_x_dim=8, num_k=2)


def legacy_loop(config, batch_size=None, layers=True):
    """A LegacyMainLoop holding ``config``'s parameters (and its TBPTT state, layers)."""
    params = OrderedDict((n, np.zeros(s)) for n, s in param_shapes(config).items())
    state = OrderedDict()
    if batch_size:
        state["step_count"] = np.array(4.0)
        state["rnn_tm1"] = np.zeros((batch_size, 2 * config.rnn_dim))
    found = OrderedDict()
    if layers:
        for name, layer in build_layers(config).items():
            found[name] = {"class": "cle.cle.layers.feedforward.FullyConnectedLayer", "unit": layer.unit,
                           "nout": layer.nout, "cons": layer.cons,
                           "parent": OrderedDict(zip(layer.parent, layer.parent_dim))}
    return LegacyMainLoop(source="legacy.pkl", params=params, state=state, layers=found)


@pytest.mark.parametrize("preset", ["blizzard/vrnn_gmm", "blizzard/vrnn_gauss", "blizzard/vrnn_i_gauss",
                                    "blizzard/rnn_gmm", "iamondb/vrnn_gmm", "iamondb/vrnn_gauss", "iamondb/rnn_gauss"])
def test_the_model_is_inferred_from_the_parameters_alone(preset):
    config = get_preset(preset, **SMALL)
    loop = legacy_loop(config, batch_size=3 if config.reset_freq else None)
    got, ignored = legacy_model_config(loop)
    assert ignored == []
    model_fields = ("family", "output", "prior", "data", "depth", "x_dim", "rnn_dim", "x2s_dim", "p_x_dim",
                    "cost_norm", "reset_freq")
    if config.family == "vrnn":
        model_fields += ("z_dim", "z2s_dim", "q_z_dim")
    for key in model_fields:
        assert getattr(got, key) == getattr(config, key), key
    assert got.batch_size == (3 if config.reset_freq else config.batch_size)


def test_inferred_fields_name_what_fixes_them():
    config = get_preset("blizzard/vrnn_gmm", **SMALL)
    fields = infer_fields(legacy_loop(config, batch_size=5).params, {"rnn_tm1": np.zeros((5, 12))})
    assert dict(fields) == dict(family="vrnn", output="gmm", prior="learned", depth=4, x_dim=200, rnn_dim=6,
                                x2s_dim=3, p_x_dim=8, z_dim=2, z2s_dim=4, q_z_dim=5, p_z_dim=7, num_k=2, batch_size=5)


def test_parameters_of_no_legacy_model_are_one_line():
    with pytest.raises(ConfigError, match="no parameter U_rnn__rnn"):
        infer_fields({"W_a__b": np.zeros((2, 2))}, {})


def test_a_config_value_that_contradicts_the_parameters_names_both(tmp_path):
    loop = legacy_loop(get_preset("blizzard/vrnn_gmm", **SMALL), batch_size=3)
    path = tmp_path / "config.txt"
    path.write_text("rnn_dim 4000\nlr 0.001\n")
    with pytest.raises(ConfigError) as err:
        legacy_model_config(loop, config_file=path)
    assert str(err.value) == f"{path} gives rnn_dim=4000, but the parameters of legacy.pkl have rnn_dim=6"
    with pytest.raises(ConfigError, match="--set gives batch_size=8, but the parameters of legacy.pkl have "
                                          "batch_size=3"):
        legacy_model_config(loop, overrides={"batch_size": 8})


def test_the_config_file_gives_what_the_parameters_do_not(tmp_path):
    loop = legacy_loop(get_preset("blizzard/vrnn_gmm", **SMALL), batch_size=3)
    path = tmp_path / "config.txt"
    path.write_text("# legacy\nlr 0.002\nk 2\nepoch 7\nreset_freq 2\nmonitoring_freq 10\nmy_own_key 5\n")
    config, ignored = legacy_model_config(loop, config_file=path, overrides={"m_batch_size": 9})
    assert (config.lr, config.epoch, config.reset_freq, config.monitoring_freq, config.m_batch_size) == \
        (0.002, 7, 2, 10, 9)
    assert ignored == ["my_own_key"]


def test_a_json_config_reads_like_a_config_txt(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"lr": 0.001, "k": 3, "T": 10, "files": ["a"], "epoch": 2}))
    assert read_legacy_config(path) == ({"lr": 0.001, "num_k": 3, "epoch": 2}, ["T", "files"])
    path.write_text(json.dumps({"lr": "fast"}))
    with pytest.raises(ConfigError, match="value 'fast' of 'lr' is not a valid float"):
        read_legacy_config(path)


def test_a_layer_unit_the_port_does_not_have_is_one_line():
    loop = legacy_loop(get_preset("blizzard/vrnn_gmm", **SMALL), batch_size=3)
    loop.layers["theta_mu"]["unit"] = "sigmoid"
    with pytest.raises(ConfigError, match="layer theta_mu has unit 'sigmoid'; the port's VRNN-GMM has 'linear'"):
        legacy_model_config(loop)


def test_a_parameter_of_another_shape_is_one_line():
    loop = legacy_loop(get_preset("blizzard/vrnn_gmm", **SMALL), batch_size=3, layers=False)
    loop.params["W_x_2__x_3"] = np.zeros((3, 9))
    with pytest.raises(ConfigError, match=r"parameter W_x_2__x_3 is \(3, 9\)"):
        legacy_model_config(loop)


def test_handwriting_is_the_iamondb_script_s_and_cannot_be_speech():
    loop = legacy_loop(get_preset("iamondb/vrnn_gmm", **SMALL))
    config, _ = legacy_model_config(loop)
    assert (config.data, config.cost_norm, config.reset_freq) == ("handwriting", "sequence_sum", 0)
    with pytest.raises(ConfigError, match="no blizzard configuration fits"):
        legacy_model_config(loop, corpus="blizzard")


def test_monitoring_steps_are_placed_on_the_monitoring_grid():
    config = get_preset("blizzard/vrnn_gmm", **SMALL).replace(monitoring_freq=4)
    loop = LegacyMainLoop(source="legacy.pkl", batch_seen=8, epoch_seen=2,
                          monitor=OrderedDict(valid_nll_upper_bound=[3.0, 2.0, 1.0]))
    records = legacy_records(loop, config)
    assert [(r["batch_seen"], r["epoch_seen"], r["imported"], r["valid_nll_upper_bound"]) for r in records] == \
        [(0, 0, True, 3.0), (4, 1, True, 2.0), (8, 2, True, 1.0)]
    with pytest.raises(ConfigError, match="3 monitoring steps over 8 updates, which monitoring_freq=2000 does not "
                                          "fit"):
        legacy_records(loop, config.replace(monitoring_freq=2000))
