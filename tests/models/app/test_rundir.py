"""Run-directory orchestration without compiling: configuration, overrides, data lookup, logs."""
import json

import pytest

from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.lookup import find_data_file
from nips2015_vrnn.models.app.configure import paper_preset_of, parse_overrides, resolve_config
from nips2015_vrnn.models.app.rundir import RunDir, RunError
from nips2015_vrnn.models.app.runlog import monitor_records, read_log


def test_parse_overrides_types_values_and_renames_legacy_k():
    assert parse_overrides(["rnn_dim=16", "lr=0.01", "k=3"]) == {"rnn_dim": 16, "lr": 0.01,
                                                                      "num_k": 3}


@pytest.mark.parametrize("item", ["rnn_dim", "=3", "rnn_dim="])
def test_parse_overrides_rejects_items_that_are_not_key_value(item):
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_overrides([item])


def test_parse_overrides_names_an_unknown_key_on_one_line():
    with pytest.raises(ValueError) as info:
        parse_overrides(["widht=3"])
    assert "widht" in str(info.value) and "\n" not in str(info.value)


def test_max_updates_alone_lifts_the_presets_epoch_limit(tmp_path):
    assert resolve_config("iamondb", max_updates=400).epoch == 0
    assert resolve_config("iamondb", max_updates=400, overrides={"epoch": 2}).epoch == 2
    config_txt = tmp_path / "config.txt"
    config_txt.write_text("epoch 3\n")
    assert resolve_config("iamondb", max_updates=400, config_file=config_txt).epoch == 3
    assert resolve_config("iamondb").epoch == 4


def test_resolve_config_defaults_to_the_paper_vrnn_gmm():
    config = resolve_config("blizzard")
    assert (config.model_name, config.rnn_dim, config.num_k, config.batch_size) == ("VRNN-GMM", 4000, 20, 128)


@pytest.mark.parametrize("model, name", [("vrnn-gauss", "VRNN-Gauss"), ("vrnn-i-gauss", "VRNN-I-Gauss"),
                                         ("rnn-gmm", "RNN-GMM"), ("rnn-gauss", "RNN-Gauss")])
def test_resolve_config_picks_the_model(model, name):
    assert resolve_config("iamondb", model=model).model_name == name


def test_resolve_config_applies_config_file_then_overrides(tmp_path):
    (tmp_path / "config.txt").write_text("lr 0.002\nrnn_dim 30\n")
    config = resolve_config("blizzard", config_file=tmp_path / "config.txt",
                                 overrides={"rnn_dim": 20})
    assert (config.lr, config.rnn_dim) == (0.002, 20)


def test_resolve_config_demo_starts_from_the_demo_preset_and_keeps_handwriting_outputs():
    config = resolve_config("iamondb", model="vrnn-gauss", demo=True)
    assert config.output == "bigauss" and config.rnn_dim == 64


def test_paper_preset_of_ignores_bookkeeping_but_not_widths():
    config = resolve_config("blizzard", model="vrnn-gauss", overrides={"epoch": 9, "seed": 1})
    assert paper_preset_of("blizzard", config) == "blizzard/vrnn_gauss"
    assert paper_preset_of("blizzard", config.replace(rnn_dim=10)) is None


def test_find_data_file_accepts_a_folder_holding_the_corpus_file(tmp_path):
    (tmp_path / "iamondb.h5").write_bytes(b"")
    assert find_data_file("iamondb", tmp_path) == (tmp_path / "iamondb.h5").resolve()


def test_find_data_file_names_the_missing_file(tmp_path):
    with pytest.raises(DataError, match="blizzard.h5"):
        find_data_file("blizzard", tmp_path)


def test_run_dir_without_config_is_a_run_error(tmp_path):
    with pytest.raises(RunError, match="config.json"):
        RunDir(tmp_path)


def test_run_dir_with_another_format_is_a_run_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(RunError, match="format"):
        RunDir(tmp_path)


def test_read_log_skips_a_partly_written_last_line(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"event": "monitor", "batch_seen": 0}\n{"event": "mon')
    assert read_log(path) == [{"event": "monitor", "batch_seen": 0}]


def test_monitor_records_keeps_monitoring_steps_without_bookkeeping():
    records = [{"event": "start", "time": 1.0}, {"event": "monitor", "time": 2.0, "batch_seen": 4, "a": 1.5}]
    assert monitor_records(records) == [{"batch_seen": 4, "a": 1.5}]
