"""vrnn-train under faults, through click's CliRunner: what is kept, what the user is told.

A kill between the two renames of a checkpoint write, a damaged data chunk mid-training, a full
disk during a checkpoint, SIGTERM while compiling, a second trainer of one run, hand-edited run
files, and settings that cannot work (rnn_dim=1e12, x_dim not the data's, --corpus for a
non-demo corpus). One tiny run, trained on demo data with a damaged chunk, is shared (copies of
it are resumed): three trainings compile in all (a read failure is retried on resume: see
tests/cle/train/test_training_faults.py).
"""
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys

import h5py
import pytest
from cli_helpers import assert_one_line_error, invoke
from click.testing import CliRunner

from nips2015_vrnn.models.app import cli
from nips2015_vrnn.models.app.runlock import run_lock

TINY = ["rnn_dim=16", "x2s_dim=8", "z2s_dim=8", "q_z_dim=8", "p_z_dim=8", "p_x_dim=8", "z_dim=4",
        "k=2", "monitoring_freq=2"]
TINY_ARGS = [arg for item in TINY for arg in ("--set", item)]
UPDATES = 4
DEMO_BATCH = 16


def chunk_of(path, row):
    with h5py.File(path, "r") as f:
        info = f["data"].id.get_chunk_info_by_coord((row, 0))
    with open(path, "rb") as handle:
        handle.seek(info.byte_offset)
        return info.byte_offset, handle.read(info.size)


def write_at(path, offset, payload):
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(payload)


#: A row of the third training batch: the damaged chunk is read at update 2.
BAD_ROW = 2 * DEMO_BATCH + 3


@pytest.fixture(scope="module")
def failed(demo_dir, tmp_path_factory):
    """A tiny run trained on a copy of the demo speech data whose chunk of BAD_ROW is damaged:
    it fails at update 2. Returns (run, data file, (chunk offset, original chunk bytes), output)."""
    root = tmp_path_factory.mktemp("failed")
    data = root / "data" / "blizzard.h5"
    data.parent.mkdir()
    shutil.copy(demo_dir / "blizzard.h5", data)
    offset, original = chunk_of(data, BAD_ROW)
    write_at(data, offset, b"\xff" * len(original))
    run = root / "run"
    result = invoke(cli.train, ["demo", "--out", run, "--data", data.parent, *TINY_ARGS,
                                "--max-updates", UPDATES])
    return run, data, (offset, original), result


def copy_of(failed, tmp_path, repaired=False):
    """A copy of the failed run and of its data (repaired: the damaged chunk put back)."""
    run, data, (offset, original), _ = failed
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    shutil.copy(data, tmp_path / "blizzard.h5")
    if repaired:
        write_at(tmp_path / "blizzard.h5", offset, original)
    edit_json(copy / "config.json", lambda d: d.update(data_path=str(tmp_path / "blizzard.h5")))
    return copy


def batch_seen(checkpoint):
    return json.loads((checkpoint / "trainlog.json").read_text())["batch_seen"]


def edit_json(path, edit):
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


# ------------------------------------------------ 2: an error mid-training keeps the last update
def test_a_damaged_chunk_mid_training_is_one_line_naming_file_and_row(failed):
    run, data, _, result = failed
    assert_one_line_error(result, f"{data}: row {BAD_ROW} of dataset /data")
    assert f"resume with: vrnn-train --resume {run}" in result.output


def test_the_error_mid_training_saved_last_at_the_last_completed_update(failed):
    run = failed[0]
    assert batch_seen(run / "checkpoints" / "last") == 2
    events = [json.loads(line)["event"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert events[-1] == "failed"


# ------------------------------- 1 + 2: resume after a kill between the renames, data repaired
def test_resume_after_a_kill_between_the_two_renames_continues_from_the_newer_checkpoint(failed, tmp_path):
    run = copy_of(failed, tmp_path, repaired=True)
    checkpoints = run / "checkpoints"
    shutil.copytree(checkpoints / "last", checkpoints / ".last.tmp-k1ll3d")   # the new one, complete
    os.rename(checkpoints / "last", checkpoints / ".last.old")                 # then the SIGKILL
    result = invoke(cli.train, ["--resume", run, "--max-updates", UPDATES])
    assert result.exit_code == 0, result.output
    assert "resumed at update 2" in result.output
    assert sorted(p.name for p in checkpoints.iterdir()) == ["best", "last"]
    assert batch_seen(checkpoints / "last") == UPDATES


# ------------------------------------------------------- 9: a full disk during a checkpoint
def test_a_full_disk_at_a_checkpoint_is_one_line_naming_the_file_and_keeps_the_last_one(
        failed, tmp_path, monkeypatch):
    from cle.train import checkpoint as ckpt
    real = ckpt._write_bytes

    def full(path, data):
        if path.name == "manifest.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    run = copy_of(failed, tmp_path, repaired=True)
    monkeypatch.setattr(ckpt, "_write_bytes", full)
    result = invoke(cli.train, ["--resume", run, "--max-updates", UPDATES])
    line = assert_one_line_error(result, "manifest.json", "No space left on device")
    assert "cannot write the checkpoint" in line and str(run / "checkpoints") in line
    assert batch_seen(run / "checkpoints" / "last") == 2          # the previous one, intact
    # What the user is told is what is on disk: update 2, not "the last completed update".
    assert f"{run / 'checkpoints' / 'last'} holds the state after update 2" in result.output
    assert "last completed update is saved" not in result.output
    # No temporary is left beside the kept checkpoint (best exists only after a monitored update > 0).
    assert [p.name for p in (run / "checkpoints").iterdir() if p.name.startswith(".")] == []
    assert (run / "checkpoints" / "last").is_dir()


# ------------------------------------------------------------ SIGTERM / bugs before the first update
def test_sigterm_while_compiling_removes_the_new_run_so_the_command_can_be_given_again(
        demo_dir, tmp_path, monkeypatch):
    from nips2015_vrnn.models.app import trainer

    def compile_then_sigterm(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the compile")

    monkeypatch.setattr(trainer, "build_training", compile_then_sigterm)
    run = tmp_path / "run"
    result = invoke(cli.train, ["demo", "--out", run, "--data", demo_dir, *TINY_ARGS])
    assert result.exit_code == 130, result.output
    assert "nothing was saved" in result.output and not run.exists()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_failure_before_the_first_update_removes_the_new_run(demo_dir, tmp_path, monkeypatch):
    from nips2015_vrnn.models.app import trainer

    def out_of_memory(*args, **kwargs):
        raise MemoryError("no room for the graph")

    monkeypatch.setattr(trainer, "build_training", out_of_memory)
    run = tmp_path / "run"
    result = CliRunner().invoke(cli.train, ["demo", "--out", str(run), "--data", str(demo_dir)])
    assert_one_line_error(result, "out of memory", "no room for the graph")  # a machine fault: one line
    assert "was removed, so the same command can be given again" in result.output
    assert not run.exists()

    def a_bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(trainer, "build_training", a_bug)
    result = CliRunner().invoke(cli.train, ["demo", "--out", str(run), "--data", str(demo_dir)])
    assert isinstance(result.exception, ZeroDivisionError)  # a bug keeps its traceback
    assert "was removed, so the same command can be given again" in result.output
    assert not run.exists()


# ------------------------------------------------------------------ 7: one trainer per run
HOLDER = """
import sys, time
from nips2015_vrnn.models.app.runlock import run_lock

with run_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_a_second_trainer_of_the_same_run_is_refused_naming_the_run(failed, tmp_path):
    run = copy_of(failed, tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = invoke(cli.train, ["--resume", run, "--max-updates", UPDATES + 1])
        assert_one_line_error(result, f"{run}: another process (pid {holder.pid}) is training this run")
        assert (run / "config.json").exists() and batch_seen(run / "checkpoints" / "last") == 2
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with run_lock(run):  # the kernel released the killed holder's lock
        pass


# ---------------------------------------------------------------- 8: hand-edited run files
def restamp(directory, edit=None):
    manifest = json.loads((directory / "manifest.json").read_text())
    for name in manifest["files"]:
        data = (directory / name).read_bytes()
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    if edit:
        edit(manifest)
    (directory / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("edit, expected", [
    (lambda last: restamp(last, lambda m: m.update(files=list(m["files"]))), "lacks the 'files'"),
    (lambda last: restamp(last, lambda m: m["files"]["loop.json"].pop("bytes")), "entry of loop.json"),
    (lambda last: restamp(last, lambda m: m.pop("arrays")), "lacks the 'files' and 'arrays'"),
    (lambda last: restamp(last, lambda m: m["files"].update(
        {"/etc/hostname": {"sha256": "0" * 64, "bytes": 1}})), "lists '/etc/hostname'"),
])
def test_resume_with_a_hand_edited_manifest_is_one_line_before_compiling(failed, tmp_path, edit, expected):
    run = copy_of(failed, tmp_path)
    edit(run / "checkpoints" / "last")
    result = invoke(cli.train, ["--resume", run, "--max-updates", UPDATES + 1])
    assert_one_line_error(result, "manifest.json", expected)
    assert "compiled" not in result.output


@pytest.mark.parametrize("stem, edit, expected", [
    ("rng", lambda d: [s.update(bit_generator="os.system") for s in d.values()],
     "bit_generator 'os.system'; expected one of PCG64"),
    ("loop", lambda d: d.update(extensions="all"), "loop.json is not of the expected shape"),
])
def test_resume_with_hand_edited_rng_or_loop_files_is_one_line(failed, tmp_path, stem, edit, expected):
    run = copy_of(failed, tmp_path)
    last = run / "checkpoints" / "last"
    edit_json(last / f"{stem}.json", edit)
    restamp(last)
    result = invoke(cli.train, ["--resume", run, "--max-updates", UPDATES + 1])
    assert_one_line_error(result, expected)
    assert "compiled" not in result.output            # refused before compiling


def test_a_config_json_without_corpus_is_one_line(failed, tmp_path):
    run = copy_of(failed, tmp_path)
    edit_json(run / "config.json", lambda d: d.pop("corpus"))
    for command, args in ((cli.train, ["--resume", run]), (cli.sample, [run]), (cli.evaluate, [run])):
        assert_one_line_error(invoke(command, args), f"{run / 'config.json'}: no 'corpus'")


def test_a_log_that_is_not_utf8_is_read_with_a_warning_naming_the_line(failed, tmp_path, caplog):
    run = copy_of(failed, tmp_path)
    with open(run / "log.jsonl", "ab") as handle:
        handle.write(b'{"event": "monitor", "x": "\xff"}\n')
    result = invoke(cli.monitor, [run])
    assert result.exit_code == 0, result.output
    assert any("log.jsonl, line" in r.getMessage() and "not a UTF-8 JSON object" in r.getMessage()
               for r in caplog.records)


# ---------------------------------------------------------- 2, 9: settings that cannot work
def test_rnn_dim_1e12_is_refused_before_anything_is_allocated(demo_dir, tmp_path):
    run = tmp_path / "run"
    result = invoke(cli.train, ["demo", "--out", run, "--data", demo_dir, "--set", "rnn_dim=1e12"])
    assert_one_line_error(result, "parameters", "GiB", "rnn_dim 1000000000000")
    assert not run.exists()


def test_an_x_dim_that_is_not_the_datas_frame_width_is_refused_naming_the_file(demo_dir, tmp_path):
    run = tmp_path / "run"
    result = invoke(cli.train, ["demo", "--out", run, "--data", demo_dir, "--set", "x_dim=7"])
    assert_one_line_error(result, demo_dir / "blizzard.h5", "x_dim=7", "expected x_dim=200")
    assert not run.exists()


def test_corpus_handwriting_with_blizzard_is_a_usage_error(demo_dir, tmp_path):
    result = invoke(cli.train, ["blizzard", "--out", tmp_path / "run", "--data", demo_dir,
                                "--corpus", "handwriting"])
    assert result.exit_code == 2 and "--corpus picks a half of the demo corpus" in result.output


def test_a_negative_seed_is_a_usage_error_naming_the_option(demo_dir, tmp_path):
    result = invoke(cli.train, ["demo", "--out", tmp_path / "run", "--seed", "-5"])
    assert result.exit_code == 2 and "'--seed'" in result.output and "x>=0" in result.output


def test_a_config_file_that_is_not_utf8_is_one_line_naming_it(demo_dir, tmp_path):
    config = tmp_path / "config.txt"
    config.write_bytes(b"lr 0.001\nk \xff\n")
    result = invoke(cli.train, ["demo", "--out", tmp_path / "run", "--data", demo_dir,
                                "--config", config])
    assert_one_line_error(result, config, "not UTF-8")
