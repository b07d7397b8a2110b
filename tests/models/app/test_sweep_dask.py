"""vrnn-sweep end to end on a real dask.distributed LocalCluster of 2 workers: 2 models x 2 seeds of
a tiny model on the demo corpus. One cell's training process is killed (SIGKILL, as a lost machine
would) after its first checkpoint: the sweep reports it and finishes the other cells; running the
sweep again (here, without Dask) skips the finished cells, resumes the killed one from its
checkpoint to the same number of updates, and vrnn-table then has every cell.

The vrnn-gmm graphs are those of tests/models/app/test_cli.py (same TINY sizes: shared compile cache).
"""
import json
import os
import signal
import subprocess
import time

import pytest
from cli_helpers import console_script, subprocess_env

from nips2015_vrnn.models.app.sweepdir import eval_result

pytestmark = pytest.mark.slow
pytest.importorskip("distributed", reason="dask.distributed (the 'cluster' extra) is not installed")

TINY = ["rnn_dim=16", "x2s_dim=8", "z2s_dim=8", "q_z_dim=8", "p_z_dim=8", "p_x_dim=8", "z_dim=4",
        "k=2", "monitoring_freq=2", "force_saving_freq=1"]
#: Updates per cell: the victim is killed after its first checkpoint (update 1), well before the end.
UPDATES = 12
MODELS, SEEDS = ("vrnn-gmm", "rnn-gauss"), (1, 2)
VICTIM = "rnn-gauss-seed2"
TIMEOUT_S = 1800


def sweep_args(out, *extra):
    sets = [arg for item in TINY for arg in ("--set", item)]
    return [console_script("vrnn-sweep"), "demo", "--out", str(out), "--models", ",".join(MODELS),
            "--seeds", ",".join(map(str, SEEDS)), *sets, "--max-updates", str(UPDATES),
            "--eval-samples", "2", "--eval-limit", "4", *extra]


def batch_seen(run_dir):
    return json.loads((run_dir / "checkpoints" / "last" / "trainlog.json").read_text())["batch_seen"]


def kill_after_first_checkpoint(out, process):
    """SIGKILL the victim's training process (pid from the sweep's bookkeeping) once it has a
    checkpoint; returns the pid."""
    pid_file, last = out / "logs" / f"{VICTIM}.pid", out / VICTIM / "checkpoints" / "last"
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the victim's training did not checkpoint in time"
        if last.is_dir() and pid_file.is_file():
            try:
                record = json.loads(pid_file.read_text())
            except ValueError:
                record = {}
            if record.get("command") == "train":
                os.kill(record["pid"], signal.SIGKILL)
                return record["pid"]
        time.sleep(0.05)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    environment = subprocess_env(tmp_path_factory.mktemp("cache") / "demo")
    # Cells compiling at once wait on PyTensor's compile lock (2 minutes by default): on a busy
    # machine, let them wait longer rather than fail.
    flags = environment.get("PYTENSOR_FLAGS", "")
    environment["PYTENSOR_FLAGS"] = ",".join(filter(None, [flags, f"compile__timeout={TIMEOUT_S}"]))
    return environment


def test_a_killed_cell_is_resumed_by_the_next_sweep_and_the_table_has_every_cell(tmp_path, env):
    out = tmp_path / "sweep"
    process = subprocess.Popen(sweep_args(out, "--scheduler", "dask", "--workers", "2"), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        kill_after_first_checkpoint(out, process)
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
    # The first sweep: the killed cell is reported (exit status 1), the three others are done.
    assert process.returncode == 1, stdout + stderr
    assert "Traceback" not in stderr, stderr
    killed_at = batch_seen(out / VICTIM)
    assert 1 <= killed_at < UPDATES
    status = json.loads((out / "status.json").read_text())
    assert status[VICTIM]["state"] == "interrupted"
    assert "killed by SIGKILL" in status[VICTIM]["error"]
    assert f"{VICTIM}: interrupted" in stdout and "killed by SIGKILL" in stdout
    others = {f"{m}-seed{s}" for m in MODELS for s in SEEDS} - {VICTIM}
    assert all(status[cell]["state"] == "done" for cell in others), status
    table = subprocess.run([console_script("vrnn-table"), str(out)], env=env, capture_output=True, text=True)
    assert table.returncode == 0, table.stderr
    assert "RNN-Gauss, seed 2: interrupted" in table.stdout

    # The second sweep (local): skips the done cells, resumes the killed one to UPDATES.
    again = subprocess.run(sweep_args(out), env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{VICTIM}: done (resumed, evaluated" in again.stdout
    assert sum("already evaluated" in line for line in again.stdout.splitlines()) == 3
    assert batch_seen(out / VICTIM) == UPDATES
    events = [json.loads(line) for line in (out / VICTIM / "log.jsonl").read_text().splitlines()]
    assert [e["batch_seen"] for e in events if e["event"] == "resume"] == [killed_at]
    assert eval_result(out / VICTIM, "test")["n_sequences"] == 4  # eval_test_<checkpoint>.json

    table = subprocess.run([console_script("vrnn-table"), str(out)], env=env, capture_output=True, text=True)
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if line.startswith("| VRNN-GMM") or line.startswith("| RNN")]
    assert len(rows) == 2 and all("(2/2 seeds)" in row for row in rows), table.stdout
    assert "Not evaluated" not in table.stdout
    assert (out / "table1.csv").is_file() and (out / "table1.md").is_file()
