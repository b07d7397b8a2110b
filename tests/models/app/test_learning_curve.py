"""The channel table and learning curve of vrnn-monitor."""
import pytest

from nips2015_vrnn.models.app import learning_curve as curve

RECORDS = [{"batch_seen": 0, "epoch_seen": 0, "valid_nll_upper_bound": 5.0, "opt_lr": 0.001},
           {"batch_seen": 10, "epoch_seen": 0, "nll_upper_bound": 4.0, "valid_nll_upper_bound": 3.0,
            "opt_lr": 0.001}]


def test_default_channels_are_the_cost_channels_present():
    assert curve.select_channels(RECORDS) == ["nll_upper_bound", "valid_nll_upper_bound"]


def test_unknown_channel_is_named_with_those_available():
    with pytest.raises(ValueError, match="nope.*opt_lr"):
        curve.select_channels(RECORDS, ["nope"])


def test_table_has_a_row_per_step_and_a_dash_where_a_channel_is_missing():
    lines = curve.table_lines(RECORDS, ["nll_upper_bound"])
    assert [line.split() for line in lines] == [["update", "nll_upper_bound"], ["0", "-"], ["10", "4"]]


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    curve.plot_curves(RECORDS, ["valid_nll_upper_bound"], tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
