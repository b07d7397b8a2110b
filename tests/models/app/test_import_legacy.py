"""``vrnn-import-legacy`` through click's CliRunner: the legacy code's own pickle becomes a run
directory that vrnn-eval, vrnn-sample, vrnn-monitor and vrnn-train --resume use like any other;
every refusal is one line and leaves nothing behind.

The legacy model of the golden pickle has 20-wide frames (its harness cut 200-sample rows into 10
frames), so its data here is a prepared ``sequences`` file of 24 sequences of 10 such frames.
"""
import json
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner
from golden_data import golden_file, load_golden

from cle.train.checkpoint import read_checkpoint
from nips2015_vrnn.datasets.sequences import prepare_sequences
from nips2015_vrnn.models.app import cli

PICKLE = "legacy_blizzard_tiny_mainloop.pkl.gz"
CONFIG = "legacy_blizzard_tiny_config.json"


def invoke(command, args):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, *fragments):
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], result.output


def sequences_file(folder, width=20, n=24):
    rng = np.random.default_rng(0)
    source = folder / "frames.npz"
    np.savez(source, **{f"s{i:02d}": rng.normal(size=(10, width)) for i in range(n)})
    return prepare_sequences(source, folder / "frames.h5", valid_frac=1 / 6, test_frac=1 / 6)["path"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return sequences_file(tmp_path_factory.mktemp("data"))


def import_args(out, data, *extra):
    return [golden_file(PICKLE), "--out", out, "--data", data, "--corpus", "sequences",
            "--config", golden_file(CONFIG), "--mode", "c", *extra]


# ---------------------------------------------------------------------- refusals (nothing compiles)
def test_help_has_an_example():
    result = invoke(cli.import_legacy, ["--help"])
    assert result.exit_code == 0 and "Example" in result.output


def test_a_payload_pickle_is_refused_in_one_line_and_not_run(tmp_path, data_file):
    import os
    import pickle

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'pwned'}",)

    evil = tmp_path / "vrnn_gmm_1.pkl"
    evil.write_bytes(pickle.dumps(Payload(), protocol=2))
    result = invoke(cli.import_legacy, [evil, "--out", tmp_path / "run", "--data", data_file])
    assert_one_line_error(result, str(evil), f"refused the global {os.system.__module__}.system",
                          "nothing in the file was run")
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "run").exists()


def test_data_of_another_frame_width_is_one_line(tmp_path):
    narrow = sequences_file(tmp_path, width=7)
    result = invoke(cli.import_legacy, import_args(tmp_path / "run", narrow))
    assert_one_line_error(result, "7 values wide", "x_dim=20")
    assert not (tmp_path / "run" / "config.json").exists()


def test_a_size_that_contradicts_the_parameters_is_one_line(tmp_path, data_file):
    result = invoke(cli.import_legacy, import_args(tmp_path / "run", data_file, "--set", "rnn_dim=20"))
    assert_one_line_error(result, "--set gives rnn_dim=20", "have rnn_dim=16")


def test_a_monitoring_freq_that_does_not_fit_the_log_is_one_line(tmp_path, data_file):
    result = invoke(cli.import_legacy, import_args(tmp_path / "run", data_file, "--set", "monitoring_freq=5"))
    assert_one_line_error(result, "3 monitoring steps over 8 updates", "monitoring_freq=5")


# ---------------------------------------------------------------------- the imported run
@pytest.fixture(scope="module")
def imported(tmp_path_factory, data_file):
    run = tmp_path_factory.mktemp("runs") / "legacy"
    result = invoke(cli.import_legacy, import_args(run, data_file))
    assert result.exit_code == 0, result.output
    return run, result.output


@pytest.fixture(scope="module")
def reference():
    return load_golden("legacy_blizzard_tiny_reference")


@pytest.mark.slow
def test_the_import_says_what_it_read(imported):
    _, output = imported
    assert "60 parameters (5187 values), 8 updates, 2 epochs, 3 monitoring steps" in output
    assert "VRNN-GMM, x_dim=20 z_dim=4 rnn_dim=16 depth=4 k=3 batch_size=4, float64" in output
    assert "TBPTT state: step_count, rnn_tm1" in output and "Adam afresh" in output


@pytest.mark.slow
def test_config_json_is_the_legacy_run_s(imported):
    run, _ = imported
    record = json.loads((run / "config.json").read_text())
    model = record["model"]
    assert (record["corpus"], record["floatX"], record["mode"]) == ("sequences", "float64", "c")
    assert (model["x_dim"], model["rnn_dim"], model["num_k"], model["batch_size"], model["lr"], model["epoch"],
            model["monitoring_freq"], model["reset_freq"], model["cost_norm"]) == \
        (20, 16, 3, 4, 0.001, 2, 4, 4, "frame_mean")


@pytest.mark.slow
@pytest.mark.parametrize("which", ["last", "best"])
def test_checkpoints_hold_the_pickle_s_parameters_state_and_log(imported, reference, which):
    run, _ = imported
    _, arrays, documents = read_checkpoint(run / "checkpoints" / which)
    for name in reference["param_names"]:
        np.testing.assert_array_equal(arrays["params"][str(name)], reference[f"param__{name}"])
    assert arrays["model_state"]["step_count"].dtype == np.int32 and arrays["model_state"]["step_count"] == 8
    np.testing.assert_array_equal(arrays["model_state"]["rnn_tm1"], reference["state_rnn_tm1"])
    optimizer = arrays["optimizer"]
    assert optimizer["lr"] == 0.001 and optimizer["counter"] == 0
    assert all(not value.any() for key, value in optimizer.items() if key.startswith("adam_"))
    trainlog = documents["trainlog"]
    assert (trainlog["batch_seen"], trainlog["epoch_seen"]) == (8, 2)
    assert [r["batch_seen"] for r in trainlog["monitor"]] == [0, 4, 8]
    np.testing.assert_array_equal(arrays["trainlog"]["batches"][:, 0], reference["train_updates_returned"][:, 0])
    assert "no optimizer state" in documents["note"]["on_restore"] and documents["note"]["legacy_name"] == "vrnn_gmm_1"


@pytest.mark.slow
def test_log_jsonl_holds_the_legacy_history_marked_imported(imported, reference):
    run, _ = imported
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert lines[0]["event"] == "import" and lines[0]["legacy_name"] == "vrnn_gmm_1"
    monitor = [line for line in lines if line["event"] == "monitor"]
    assert len(monitor) == 3 and all(line["imported"] is True for line in monitor)
    for key in ("valid_nll_upper_bound", "valid_recon_term", "valid_kl_term", "train_nll_upper_bound"):
        np.testing.assert_array_equal([line[key] for line in monitor], reference[f"log_{key}"])


@pytest.mark.slow
def test_monitor_shows_the_legacy_channels(imported, reference):
    run, _ = imported
    result = invoke(cli.monitor, [run, "--channels", "valid_nll_upper_bound"])
    assert result.exit_code == 0, result.output
    assert f"{reference['log_valid_nll_upper_bound'][-1]:.6g}" in result.output


@pytest.mark.slow
def test_eval_and_sample_use_the_imported_run(imported):
    run, _ = imported
    result = invoke(cli.evaluate, [run, "--samples", 2, "--split", "valid"])
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "eval_valid_best.json").read_text())
    assert saved["n_sequences"] == 4 and math.isfinite(saved["lower_bound"])
    result = invoke(cli.sample, [run, "--checkpoint", "last", "--n", 2])
    assert result.exit_code == 0, result.output
    assert any((run / "samples").rglob("*.npy"))


@pytest.mark.slow
def test_resume_says_adam_starts_afresh_and_continues(imported, tmp_path, caplog):
    import shutil

    run = tmp_path / "legacy"
    shutil.copytree(imported[0], run)
    result = invoke(cli.train, ["--resume", run])
    assert_one_line_error(result, "finished 2 epochs", "--epochs above 2")
    caplog.clear()
    result = invoke(cli.train, ["--resume", run, "--epochs", 3])
    assert result.exit_code == 0, result.output
    notes = [r.getMessage() for r in caplog.records if "Adam afresh" in r.getMessage()]
    assert len(notes) == 1 and "\n" not in notes[0] and "imported from the legacy pickle" in notes[0]
    assert "resumed at update 8" in result.output
    done = re.search(r"done: 12 updates \(4 by this command\), 3 epochs in (\d+\.\d) s \((\d+\.\d) s in updates\)",
                     result.output)
    assert done and float(done[2]) <= float(done[1]), result.output  # this command's updates only
    _, arrays, documents = read_checkpoint(run / "checkpoints" / "last")
    assert "note" not in documents and arrays["optimizer"]["counter"] == 4
    assert arrays["model_state"]["step_count"] == 12
    caplog.clear()
    result = invoke(cli.train, ["--resume", run, "--epochs", 4])
    assert result.exit_code == 0, result.output
    assert not [r for r in caplog.records if "Adam afresh" in r.getMessage()]
