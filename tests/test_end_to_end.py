"""The installed console scripts as real subprocesses on the demo corpus, end to end.

``vrnn-train demo`` of a tiny model (preparing the demo corpus itself into a fresh cache) is
stopped with SIGINT once training has begun (it must save a checkpoint and say how to resume),
``vrnn-train --resume`` continues it for 2 updates, then ``vrnn-sample``, ``vrnn-eval`` and
``vrnn-monitor`` run on the result.
"""
import importlib.util
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_helpers import console_script, subprocess_env

pytestmark = pytest.mark.slow

#: The tiny model of tests/models/test_cli.py (same graphs, so the compile cache is shared).
TINY = ["rnn_dim=16", "x2s_dim=8", "z2s_dim=8", "q_z_dim=8", "p_z_dim=8", "p_x_dim=8", "z_dim=4",
        "k=2", "monitoring_freq=2"]
#: Longest wait for one command (compiles included) and for the interrupted run to start training.
COMMAND_TIMEOUT_S = 600
START_TIMEOUT_S = 400


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    environment = subprocess_env(tmp_path_factory.mktemp("cache") / "demo")
    return environment


def run(env, name, *args):
    result = subprocess.run([console_script(name), *map(str, args)], env=env, capture_output=True,
                            text=True, timeout=COMMAND_TIMEOUT_S)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def events(run_dir):
    path = run_dir / "log.jsonl"
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            pass  # a line being written
    return records


def batch_seen(run_dir, which="last"):
    return json.loads((run_dir / "checkpoints" / which / "trainlog.json").read_text())["batch_seen"]


def interrupt_after_first_monitoring(run_dir, args, env, skip_events=0):
    """Start ``vrnn-train *args``, send SIGINT once its loop has monitored; return the process."""
    process = subprocess.Popen([console_script("vrnn-train"), *map(str, args)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        # A monitoring record is written inside the loop: the signal handlers are installed.
        while not any(r["event"] == "monitor" for r in events(run_dir)[skip_events:]):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the training did not start in time"
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        process.stdout_text, process.stderr_text = process.communicate(timeout=COMMAND_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
    return process


@pytest.fixture(scope="module")
def trained(env, tmp_path_factory):
    """Train the tiny model on the demo corpus, stop it with SIGINT, resume it for 2 updates."""
    run_dir = tmp_path_factory.mktemp("e2e") / "run"
    sets = [arg for item in TINY for arg in ("--set", item)]
    stopped = interrupt_after_first_monitoring(run_dir, ["demo", "--out", run_dir, *sets], env)
    stopped_at = batch_seen(run_dir)
    resumed = run(env, "vrnn-train", "--resume", run_dir, "--max-updates", stopped_at + 2)
    return run_dir, stopped, stopped_at, resumed


def test_train_prepares_the_demo_corpus_itself(trained, env):
    assert (Path(env["VRNN_DEMO_DIR"]) / "blizzard.h5").is_file()
    assert (Path(env["VRNN_DEMO_DIR"]) / "iamondb.h5").is_file()


def test_sigint_saves_a_checkpoint_and_says_how_to_resume(trained):
    run_dir, stopped, stopped_at, _ = trained
    assert stopped.returncode == 130, stopped.stdout_text + stopped.stderr_text
    assert "Traceback" not in stopped.stderr_text, stopped.stderr_text
    assert f"vrnn-train --resume {run_dir}" in stopped.stdout_text
    assert stopped_at >= 1
    assert any(r["event"] == "interrupted" for r in events(run_dir))


def test_resume_continues_from_the_checkpoint_to_max_updates(trained):
    run_dir, _, stopped_at, resumed = trained
    assert f"resumed at update {stopped_at}" in resumed
    assert batch_seen(run_dir) == stopped_at + 2
    assert (run_dir / "checkpoints" / "best" / "params.npz").is_file()


def test_sample_eval_and_monitor_work_on_the_trained_run(trained, env, tmp_path):
    run_dir = trained[0]
    run(env, "vrnn-sample", run_dir, "--n", 2)
    assert len(list((run_dir / "samples" / "best-seed0").glob("*.wav"))) == 2
    output = run(env, "vrnn-eval", run_dir, "--samples", 2, "--limit", 4)
    assert json.loads((run_dir / "eval_test_best.json").read_text())["n_sequences"] == 4
    assert "Demo speech" in output and ">=" in output
    if importlib.util.find_spec("matplotlib") is None:  # the optional 'plot' extra
        output = run(env, "vrnn-monitor", run_dir)
    else:
        output = run(env, "vrnn-monitor", run_dir, "--plot", tmp_path / "curve.png")
        assert (tmp_path / "curve.png").is_file()
    assert output.splitlines()[0].startswith("update")
