"""vrnn-sweep without training: the grid and sweep.json, cell states from files, the commands a
cell runs, a failing cell reported in one line (exit status 1), and the user errors of the command.
(The real sweep, on a Dask LocalCluster, is tests/models/app/test_sweep_dask.py.)"""
import importlib.util
import json
import sys

import pytest
from click.testing import CliRunner

from nips2015_vrnn.models.app import cli
from nips2015_vrnn.models.app.sweep import CLUSTER_HINT, _failure, _trained, eval_command, run_sweep, train_command
from nips2015_vrnn.models.app.sweepdir import (
    SweepError,
    SweepSpec,
    cell_state,
    create_sweep,
    eval_result,
    load_sweep,
    write_json,
)

SPEC = SweepSpec("iamondb", True, "/data/iamondb.h5", ("rnn-gauss", "vrnn-gmm"), (1, 2), sets=("rnn_dim=8",),
                 max_updates=5, samples=2, limit=3)


def test_cells_follow_the_models_table_order_then_the_seeds():
    assert SPEC.cells() == [("vrnn-gmm", 1), ("vrnn-gmm", 2), ("rnn-gauss", 1), ("rnn-gauss", 2)]


@pytest.mark.parametrize("field, value", [("corpus", "no-such-corpus"), ("models", ("vrnn-lstm",)), ("models", ()),
                                          ("seeds", ()), ("seeds", (-1,))])
def test_a_bad_grid_is_refused(field, value):
    with pytest.raises(SweepError):
        SweepSpec(**{**SPEC.__dict__, field: value})


def test_sweep_json_round_trips_and_a_rerun_extends_the_grid(tmp_path):
    create_sweep(tmp_path, SPEC)
    assert load_sweep(tmp_path) == SPEC
    grown = create_sweep(tmp_path, SweepSpec(**{**SPEC.__dict__, "models": ("vrnn-gauss",), "seeds": (2, 3)}))
    assert grown.models == ("rnn-gauss", "vrnn-gmm", "vrnn-gauss") and grown.seeds == (1, 2, 3)
    assert load_sweep(tmp_path) == grown


def test_a_rerun_with_other_settings_is_refused_naming_the_setting(tmp_path):
    create_sweep(tmp_path, SPEC)
    with pytest.raises(SweepError, match="max_updates=5"):
        create_sweep(tmp_path, SweepSpec(**{**SPEC.__dict__, "max_updates": 6}))


def test_a_damaged_sweep_json_is_a_sweep_error(tmp_path):
    (tmp_path / "sweep.json").write_text("{")
    with pytest.raises(SweepError, match="not valid JSON"):
        load_sweep(tmp_path)
    write_json(tmp_path / "sweep.json", {"format": "other"})
    with pytest.raises(SweepError, match="format 'other'"):
        load_sweep(tmp_path)


def test_cell_states_are_read_from_the_files(tmp_path):
    create_sweep(tmp_path, SPEC)
    run = tmp_path / "vrnn-gmm-seed1"
    assert cell_state(tmp_path, SPEC, "vrnn-gmm", 1) == "missing"
    run.mkdir()
    (run / "config.json").write_text("{}")
    assert cell_state(tmp_path, SPEC, "vrnn-gmm", 1) == "failed"  # made, but no checkpoint
    (run / "checkpoints" / "last").mkdir(parents=True)
    assert cell_state(tmp_path, SPEC, "vrnn-gmm", 1) == "interrupted"
    (run / "eval_test.json").write_text(json.dumps({"lower_bound": 1.0}))
    assert cell_state(tmp_path, SPEC, "vrnn-gmm", 1) == "done"
    write_json(tmp_path / "status.json", {"vrnn-gmm-seed2": {"state": "failed", "error": "x"}})
    assert cell_state(tmp_path, SPEC, "vrnn-gmm", 2) == "failed"


def test_eval_results_are_found_under_either_name(tmp_path):
    assert eval_result(tmp_path, "test") is None
    (tmp_path / "eval_test_best.json").write_text(json.dumps({"lower_bound": 2.0}))
    assert eval_result(tmp_path, "test") == {"lower_bound": 2.0}
    (tmp_path / "eval_test.json").write_text(json.dumps({"lower_bound": 3.0}))
    assert eval_result(tmp_path, "test") == {"lower_bound": 3.0}
    assert eval_result(tmp_path, "valid") is None


def test_a_cell_runs_the_ordinary_commands():
    assert train_command(SPEC, "vrnn-gmm", 2, "/s/vrnn-gmm-seed2", resume=False) == [
        "train", "demo", "--corpus", "handwriting", "--out", "/s/vrnn-gmm-seed2", "--data", "/data/iamondb.h5",
        "--model", "vrnn-gmm", "--seed", "2", "--set", "rnn_dim=8", "--max-updates", "5"]
    assert train_command(SPEC, "vrnn-gmm", 2, "/s/vrnn-gmm-seed2", resume=True) == [
        "train", "--resume", "/s/vrnn-gmm-seed2", "--max-updates", "5"]
    assert eval_command(SPEC, "/s/x") == ["eval", "/s/x", "--split", "test", "--samples", "2", "--checkpoint",
                                          "best", "--seed", "0", "--force", "--limit", "3"]


def test_a_run_is_trained_when_its_log_ended_or_its_checkpoint_has_every_update(tmp_path):
    assert not _trained(tmp_path, 5)
    (tmp_path / "log.jsonl").write_text('{"event": "start"}\n{"event": "interrupted"}\n')
    assert not _trained(tmp_path, 5)
    (tmp_path / "checkpoints" / "last").mkdir(parents=True)
    (tmp_path / "checkpoints" / "last" / "trainlog.json").write_text('{"batch_seen": 5}')
    assert _trained(tmp_path, 5) and not _trained(tmp_path, 6)  # killed after its last checkpoint
    (tmp_path / "log.jsonl").write_text('{"event": "resume"}\n{"event": "end"}\n')
    assert _trained(tmp_path, 6)


@pytest.mark.parametrize("status, text, expected", [
    (1, "working\nError: /d.h5: no such file\n", "vrnn-train /d.h5: no such file"),
    (1, "Traceback (most recent call last):\n  File x\nValueError: bad\n\nHINT: more\n",
     "vrnn-train exit status 1: ValueError: bad"),
    (-9, "working\n", "vrnn-train killed by SIGKILL"),
    (2, "", "vrnn-train exit status 2"),
])
def test_a_failed_command_is_said_in_one_line(tmp_path, status, text, expected):
    (tmp_path / "log").write_text(text)
    assert _failure("train", status, tmp_path / "log") == f"{expected} (see {tmp_path / 'log'})"


def test_a_failing_cell_is_reported_and_recorded_and_the_exit_status_is_1(tmp_path):
    data = tmp_path / "iamondb.h5"
    data.write_text("not used")
    spec = SweepSpec("iamondb", False, str(data), ("vrnn-gmm",), (1,))
    create_sweep(tmp_path / "s", spec)
    (tmp_path / "s" / "vrnn-gmm-seed1").mkdir()
    (tmp_path / "s" / "vrnn-gmm-seed1" / "config.json").write_text("{")  # a damaged run: fails at once
    results = run_sweep(tmp_path / "s", spec)
    assert [r["state"] for r in results] == ["failed"]
    assert "RunError" in results[0]["error"] and "JSON" in results[0]["error"]
    status = json.loads((tmp_path / "s" / "status.json").read_text())
    assert status["vrnn-gmm-seed1"]["state"] == "failed"


def test_dask_without_distributed_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    spec = SweepSpec("iamondb", False, "/d.h5", ("vrnn-gmm",), (1,))
    with pytest.raises(SweepError) as err:
        run_sweep(tmp_path, spec, engine="dask", workers=2)
    assert str(err.value) == CLUSTER_HINT and "pip install" in CLUSTER_HINT


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="distributed is not installed")
def test_a_server_that_is_no_scheduler_is_a_sweep_error(tmp_path, monkeypatch):
    """Whatever the client raises on connecting (a MemoryError when it reads a non-Dask reply as a
    message length) is one SweepError naming the address."""
    import distributed

    def garbage(*args, **kwargs):
        raise MemoryError("Unable to allocate 3.07 EiB for an array")
    monkeypatch.setattr(distributed, "Client", garbage)
    spec = SweepSpec("iamondb", False, "/d.h5", ("vrnn-gmm",), (1,))
    with pytest.raises(SweepError, match="cannot reach the Dask scheduler at tcp://10.0.0.5:8786 .MemoryError"):
        run_sweep(tmp_path, spec, engine="dask", address="tcp://10.0.0.5:8786")


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="distributed is not installed")
def test_an_address_without_scheduler_is_a_sweep_error(tmp_path, monkeypatch):
    monkeypatch.setattr("nips2015_vrnn.models.app.sweep.SCHEDULER_TIMEOUT_S", 1)
    spec = SweepSpec("iamondb", False, "/d.h5", ("vrnn-gmm",), (1,))
    with pytest.raises(SweepError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_sweep(tmp_path, spec, engine="dask", address="tcp://127.0.0.1:9")


@pytest.mark.parametrize("args, fragment", [
    (["--models", "vrnn-gmm,lstm"], "lstm"),
    (["--seeds", "1,x"], "integers"),
    (["--workers", "2"], "--scheduler dask"),
    (["--scheduler", "dask", "--workers", "2", "--address", "tcp://h:1"], "not both"),
    (["--scheduler", "dask", "--address", "nonsense"], "expected tcp://HOST:PORT"),
    (["--scheduler", "dask", "--address", "tcp://h:99999"], "expected tcp://HOST:PORT"),
])
def test_bad_arguments_are_usage_errors(tmp_path, args, fragment):
    result = CliRunner().invoke(cli.sweep, ["iamondb", "--data", str(tmp_path), "--out", str(tmp_path / "s"), *args])
    assert result.exit_code == 2, result.output
    assert fragment in result.output


def test_a_sweep_with_fivo_evaluates_with_it_and_finds_its_file_by_the_settings(tmp_path):
    spec = SweepSpec(**{**SPEC.__dict__, "eval_particles": 8, "eval_resample": "always"})
    assert eval_command(spec, "/s/x")[-4:] == ["--particles", "8", "--resample", "always"]
    protocol = {"checkpoint": "best", "n_samples": 2, "seed": 0, "limit": 3}
    (tmp_path / "eval_test_best.json").write_text(json.dumps({**protocol, "lower_bound": 1.0}))  # no FIVO
    assert eval_result(tmp_path, "test", spec) is None
    (tmp_path / "eval_test_best_fivo8-ess.json").write_text(json.dumps({**protocol, "particles": 8, "fivo": 2.0}))
    assert eval_result(tmp_path, "test", spec) is None  # another resampling criterion
    (tmp_path / "eval_test_best_fivo8-always.json").write_text(json.dumps({**protocol, "particles": 8, "fivo": 3.0}))
    assert eval_result(tmp_path, "test", spec)["fivo"] == 3.0
    assert eval_result(tmp_path, "test", SPEC)["lower_bound"] == 1.0  # the sweep without FIVO: its own file


@pytest.mark.parametrize("args, fragment", [(["--eval-particles", 0], "--eval-particles"),
                                            (["--eval-resample", "often"], "--eval-resample")])
def test_bad_fivo_settings_are_one_line_errors_before_any_cell(tmp_path, args, fragment):
    result = CliRunner().invoke(cli.sweep, ["iamondb", "--data", str(tmp_path), "--out", str(tmp_path / "s"),
                                            *[str(a) for a in args]])
    assert result.exit_code == 1 and fragment in result.output, result.output
    assert result.output.startswith("Error: ") and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_a_bad_set_is_a_one_line_error_before_any_cell(tmp_path):
    result = CliRunner().invoke(cli.sweep, ["iamondb", "--data", str(tmp_path), "--out", str(tmp_path / "s"),
                                            "--set", "no_such_key=1"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_sweep_and_table_are_commands():
    assert cli.command("sweep") is cli.sweep and cli.command("table") is cli.table
    for command in (cli.sweep, cli.table):
        result = CliRunner().invoke(command, ["--help"])
        assert result.exit_code == 0 and "Example" in result.output
