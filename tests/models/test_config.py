"""ModelConfig checks and the legacy config.txt reader."""
import pytest

from nips2015_vrnn.models.config import ModelConfig, load_config_txt, parse_config_lines
from nips2015_vrnn.models.presets import get_preset


def test_config_txt_overrides_the_preset(tmp_path):
    path = tmp_path / "config.txt"
    path.write_text("# legacy\nlr 0.001\nk 7\nbatch_size 64\nsave_path /tmp/run\n\n")
    cfg = load_config_txt(path, get_preset("blizzard/vrnn_gmm"))
    assert (cfg.lr, cfg.num_k, cfg.batch_size, cfg.save_path) == (0.001, 7, 64, "/tmp/run")
    assert cfg.rnn_dim == 4000


def test_unknown_config_key_names_key_file_and_line(tmp_path):
    path = tmp_path / "config.txt"
    path.write_text("lr 0.001\nlearning_rate 3\n")
    with pytest.raises(ValueError, match=r"config.txt, line 2: unknown config key 'learning_rate'"):
        load_config_txt(path, get_preset("blizzard/vrnn_gmm"))


def test_bad_int_value_is_rejected():
    with pytest.raises(ValueError, match="line 1.*'batch_size'"):
        parse_config_lines(["batch_size 2.5"])


def test_line_without_value_is_rejected():
    with pytest.raises(ValueError, match="expected 'key value'"):
        parse_config_lines(["lr"])


def test_handwriting_needs_a_handwriting_output():
    with pytest.raises(ValueError, match="bigauss"):
        ModelConfig(data="handwriting", x_dim=3, output="gmm")


def test_nonpositive_width_is_rejected():
    with pytest.raises(ValueError, match="rnn_dim must be a positive int; got 0"):
        ModelConfig(rnn_dim=0)


def test_model_names_follow_the_paper():
    names = [get_preset(p).model_name for p in ("blizzard/vrnn_gmm", "blizzard/vrnn_i_gauss", "iamondb/rnn_gauss")]
    assert names == ["VRNN-GMM", "VRNN-I-Gauss", "RNN-Gauss"]
