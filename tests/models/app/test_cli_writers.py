"""One writer per folder, outputs inside the run, every fault one line: the commands that write
into a run or sweep directory, through click's CliRunner.

Nothing here compiles: the runs are made by ``create_run`` (no training), and where a command
would compile or compute, the model, the generator and the evaluation are stand-ins, so what is
checked is only where and how the command writes, and what it says.
"""
import contextlib
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from cli_helpers import assert_one_line_error, invoke

from cle.train.checkpoint import write_checkpoint
from nips2015_vrnn.datasets import lookup
from nips2015_vrnn.models.app import cli, configure, evaluation, rundir, sample_stats, sampling, sweep
from nips2015_vrnn.models.app.sweepdir import SweepSpec


@contextlib.contextmanager
def held_elsewhere(kind, path, *extra):
    """Another process holding the lock ``kind`` (a function of runlock) of ``path`` for the block;
    yields its pid (locks are re-entrant within one process, so the holder must be another)."""
    code = ("import sys, time\n"
            f"from nips2015_vrnn.models.app.runlock import {kind}\n"
            f"with {kind}(*sys.argv[1:]):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(path), *extra], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture(scope="module")
def demo_data():
    return lookup.ensure_demo_data()


def make_run(path, demo_data, checkpoint=True):
    """A run of the demo speech corpus in the C mode, untrained; with a stand-in ``best``
    checkpoint (update 3) when ``checkpoint``."""
    fmt = "blizzard"
    overrides = lookup.config_overrides(fmt, lookup.find_data_file(fmt, demo_data))
    config = configure.resolve_config(fmt, overrides=overrides, demo=True)
    run = rundir.create_run(path, fmt, config, demo_data, mode="c", demo=True)
    if checkpoint:
        for which in ("best", "last"):
            write_checkpoint(run.checkpoint_root / which, {"params": {"W": np.zeros(2)}},
                             {"trainlog": {"batch_seen": 3}})
    return run


class FakeModel:
    """Stands for a loaded model: nothing compiles, nothing is computed."""

    def __init__(self, config):
        self.config = config

    def shaped(self, steps, n):
        return self

    def generate_fn(self):
        return None

    def sequence_fn(self):
        return None


@pytest.fixture
def no_compiling(monkeypatch):
    """load_model, sample_run, write_statistics and evaluate_run replaced by stand-ins that write
    what the real ones would (the files of ``n`` samples; a result)."""
    monkeypatch.setattr(rundir, "load_model",
                        lambda run, checkpoint="best", backend=None, **options: FakeModel(run.config))

    def fake_sample_run(run, model, n=10, steps=None, seed=0, out_dir=None, progress=None, checkpoint=None,
                        **options):
        files = []
        for i in range(n):
            files.append(out_dir / f"sample_{i:02d}.wav")
            files[-1].write_bytes(b"RIFF" + bytes([seed]))
        return {"files": files, "png": True, "out_dir": out_dir, "frames": np.zeros((2, n, 1))}
    monkeypatch.setattr(sampling, "sample_run", fake_sample_run)
    monkeypatch.setattr(sample_stats, "write_statistics", lambda run, frames, out_dir, **options: {
        "files": [], "samples": {}, "training": {}, "resembles": True})
    monkeypatch.setattr(evaluation, "evaluate_run", lambda run, model, split="test", n_samples=40, seed=0,
                        limit=None, progress=None, checkpoint=None, **options: {
        "model": run.config.model_name, "split": split, "checkpoint": checkpoint, "n_sequences": 2,
        "lower_bound": -1.5, "loglik_is": -1.25, "paper": None, "per_sequence": [1.0, 2.0],
        "n_steps": 20, "lower_bound_per_step": -0.15, "loglik_is_per_step": -0.125})


# ---------------------------------------------------------------- vrnn-sample: links, locks, staging
def test_sample_force_never_follows_a_symlinked_samples_folder(tmp_path, demo_data, no_compiling):
    run = make_run(tmp_path / "run", demo_data)
    outside = tmp_path / "outside"
    (outside / "best-seed0").mkdir(parents=True)
    (outside / "best-seed0" / "precious.txt").write_text("keep")
    (run.path / "samples").symlink_to(outside)
    result = invoke(cli.sample, [run.path, "--force", "--n", 2])
    assert_one_line_error(result, "symbolic link", run.path / "samples")
    assert (outside / "best-seed0" / "precious.txt").read_text() == "keep"


def test_sample_force_never_deletes_through_a_symlinked_sample_folder(tmp_path, demo_data, no_compiling):
    run = make_run(tmp_path / "run", demo_data)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep")
    (run.path / "samples").mkdir()
    (run.path / "samples" / "best-seed0").symlink_to(outside)
    for args in ([], ["--force"]):
        result = invoke(cli.sample, [run.path, "--n", 2, *args])
        assert_one_line_error(result, "symbolic link", "best-seed0")
    assert (outside / "precious.txt").read_text() == "keep"


def test_a_second_sampler_of_the_same_folder_refuses(tmp_path, demo_data, no_compiling):
    run = make_run(tmp_path / "run", demo_data)
    (run.path / "samples").mkdir()
    with held_elsewhere("output_lock", run.path / "samples" / "best-seed0") as pid:
        result = invoke(cli.sample, [run.path, "--n", 2])
    assert_one_line_error(result, "another process", f"pid {pid}")
    assert not (run.path / "samples" / "best-seed0").exists()
    assert invoke(cli.sample, [run.path, "--n", 2, "--seed", 1]).exit_code == 0  # another seed: fine


def test_samples_are_replaced_only_when_the_new_ones_are_complete(tmp_path, demo_data, no_compiling, monkeypatch):
    run = make_run(tmp_path / "run", demo_data)
    result = invoke(cli.sample, [run.path, "--n", 3])
    assert result.exit_code == 0, result.output
    folder = run.path / "samples" / "best-seed0"
    assert sorted(p.name for p in folder.iterdir()) == ["sample_00.wav", "sample_01.wav", "sample_02.wav"]

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "sample_00.wav"))
    monkeypatch.setattr(sampling, "sample_run", full_disk)
    result = invoke(cli.sample, [run.path, "--n", 2, "--force"])
    assert_one_line_error(result, "No space left on device")
    assert len(list(folder.iterdir())) == 3  # the earlier samples, untouched
    assert sorted(p.name for p in (run.path / "samples").iterdir()) == ["best-seed0"]  # no temporary, no lock


def test_sample_n_beyond_memory_is_refused_before_anything_is_allocated(tmp_path, demo_data, no_compiling):
    run = make_run(tmp_path / "run", demo_data)
    result = invoke(cli.sample, [run.path, "--n", 10 ** 9])
    assert_one_line_error(result, "GiB", "--n")
    assert not (run.path / "samples").exists()


def test_a_sampler_beside_a_trainer_before_its_first_checkpoint_does_not_advise_removing_the_run(
        tmp_path, demo_data):
    run = make_run(tmp_path / "run", demo_data, checkpoint=False)
    with held_elsewhere("run_lock", run.path) as pid:
        result = invoke(cli.sample, [run.path, "--n", 2])
    line = assert_one_line_error(result, "being trained", f"pid {pid}")
    assert "remove" not in line
    assert "give the same vrnn-train command again" in assert_one_line_error(invoke(cli.sample, [run.path, "--n", 2]))


# ---------------------------------------------------------------- vrnn-eval
def test_a_second_evaluation_of_the_same_file_refuses(tmp_path, demo_data, no_compiling):
    run = make_run(tmp_path / "run", demo_data)
    with held_elsewhere("output_lock", run.path / "eval_test_best.json"):
        result = invoke(cli.evaluate, [run.path, "--mode", "c"])
    assert_one_line_error(result, "another process")


def test_an_evaluation_that_cannot_be_saved_is_printed_in_full(tmp_path, demo_data, no_compiling, monkeypatch):
    run = make_run(tmp_path / "run", demo_data)

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(type(run.path), "write_text", full)
    result = invoke(cli.evaluate, [run.path, "--mode", "c"])
    monkeypatch.undo()
    assert_one_line_error(result, "eval_test_best.json", "No space left on device")
    printed = result.output[result.output.index("{"):result.output.rindex("}") + 1]
    assert json.loads(printed)["per_sequence"] == [1.0, 2.0]
    assert "saved" not in result.output.replace("not saved", "")
    assert [p.name for p in run.path.iterdir() if "eval" in p.name] == []  # no temporary, no lock


def test_an_evaluation_is_never_written_through_a_symbolic_link(tmp_path, demo_data, no_compiling):
    run = make_run(tmp_path / "run", demo_data)
    outside = tmp_path / "outside.json"
    outside.write_text("keep")
    (run.path / "eval_test_best.json").symlink_to(outside)
    for args in ([], ["--force"]):
        assert_one_line_error(invoke(cli.evaluate, [run.path, "--mode", "c", *args]), "symbolic link")
    assert outside.read_text() == "keep"


# ---------------------------------------------------------------- vrnn-train --resume, vrnn-sweep
def test_a_resume_beside_a_live_trainer_changes_nothing(tmp_path, demo_data):
    run = make_run(tmp_path / "run", demo_data)
    (run.path / "log.jsonl").write_text('{"event": "start", "batch_seen": 0}\n'
                                        '{"event": "monitor", "batch_seen": 9}\n')
    config, log = (run.path / "config.json").read_bytes(), (run.path / "log.jsonl").read_bytes()
    with held_elsewhere("run_lock", run.path):
        result = invoke(cli.train, ["--resume", run.path, "--max-updates", 50, "--mode", "jax"])
    assert_one_line_error(result, "another process", "training this run")
    assert (run.path / "config.json").read_bytes() == config and (run.path / "log.jsonl").read_bytes() == log


def test_a_sweep_never_discards_a_cell_another_process_trains(tmp_path, demo_data):
    sweep_dir = tmp_path / "sweep"
    cell = make_run(sweep_dir / "rnn-gauss-seed1", demo_data, checkpoint=False)
    spec = SweepSpec("blizzard", True, str(demo_data / "blizzard.h5"), ("rnn-gauss",), (1,), max_updates=2)
    (sweep_dir / "logs").mkdir()
    with held_elsewhere("run_lock", cell.path):
        result = sweep.run_cell({"sweep": str(sweep_dir), "spec": spec.__dict__, "model": "rnn-gauss",
                                 "seed": 1, "threads": None})
    assert "another process" in result["error"] and "discarded" not in " ".join(result["steps"])
    assert (cell.path / "config.json").exists() and (cell.path / ".lock").exists()


def test_a_second_sweep_of_the_same_folder_refuses(tmp_path, demo_data):
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    with held_elsewhere("folder_lock", sweep_dir, "vrnn-sweep") as pid:
        result = invoke(cli.sweep, ["demo", "--out", sweep_dir, "--models", "rnn-gauss", "--max-updates", 2])
    assert_one_line_error(result, "another vrnn-sweep", f"pid {pid}")
    assert not (sweep_dir / "sweep.json").exists()


def test_a_read_only_run_directory_is_one_line_for_sample_and_eval(tmp_path, demo_data, no_compiling):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    run = make_run(tmp_path / "run", demo_data)
    os.chmod(run.path, 0o555)
    try:
        assert_one_line_error(invoke(cli.sample, [run.path, "--n", 2]), "cannot")
        assert_one_line_error(invoke(cli.evaluate, [run.path, "--mode", "c"]), "cannot")
    finally:
        os.chmod(run.path, 0o755)



# ---------------------------------------------------------------- the data a run was made with
def run_on_a_copy(tmp_path, demo_data):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(demo_data / "blizzard.h5", data / "blizzard.h5")
    shutil.copy(demo_data / "blizzard_normal.npz", data / "blizzard_normal.npz")
    return make_run(tmp_path / "run", data), data / "blizzard.h5"


def test_a_run_records_its_data_file_and_eval_sample_resume_warn_when_it_changed(tmp_path, demo_data, no_compiling):
    import h5py

    run, data = run_on_a_copy(tmp_path, demo_data)
    record = json.loads((run.path / "config.json").read_text())["data_file"]
    assert record["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert rundir.RunDir(run.path).data_changed() is None
    os.utime(data)  # touched, same content: no warning
    assert rundir.RunDir(run.path).data_changed() is None
    with h5py.File(data, "r+") as f:  # same width, other values
        f["data"][0] = f["data"][0] + 1.0
    for command, args in ((cli.sample, ["--n", 2]), (cli.evaluate, ["--mode", "c"])):
        result = invoke(command, [run.path, *args])
        assert result.exit_code == 0, result.output
        assert f"Warning: {data} changed since the run was made" in result.output
    # --resume warns before anything else (here it then refuses the stand-in checkpoint)
    result = invoke(cli.train, ["--resume", run.path, "--max-updates", 50])
    assert result.output.startswith(f"Warning: {data} changed")


def sequences_file(tmp_path, name, width):
    from user_corpora import write_npy

    rng = np.random.default_rng(0)
    src = write_npy(tmp_path / f"src-{name}", [rng.normal(size=(12, width)) for _ in range(20)])
    out = tmp_path / f"{name}.h5"
    result = invoke(cli.prepare, ["sequences", src, out])
    assert result.exit_code == 0, result.output
    return out


def test_a_data_file_swapped_for_another_width_is_one_line_before_eval(tmp_path, no_compiling):
    data = sequences_file(tmp_path, "mine", 3)
    overrides = lookup.config_overrides("sequences", data)
    config = configure.resolve_config("sequences", overrides=overrides)
    run = rundir.create_run(tmp_path / "run", "sequences", config, data, mode="c")
    write_checkpoint(run.checkpoint_root / "best", {"params": {"W": np.zeros(2)}}, {"trainlog": {"batch_seen": 3}})
    shutil.copy(sequences_file(tmp_path, "wider", 5), data)
    result = invoke(cli.evaluate, [run.path, "--mode", "c"])
    assert "changed since the run was made" in result.output
    assert_one_line_error(result, str(data), "x_dim=3", "x_dim=5")


def test_a_bernoulli_model_refuses_data_that_are_not_0_or_1_before_anything_is_made(tmp_path):
    real = sequences_file(tmp_path, "real", 3)
    result = invoke(cli.train, ["sequences", "--data", real, "--out", tmp_path / "run", "--model", "vrnn-bernoulli"])
    assert_one_line_error(result, str(real), "real values", "{0, 1}")
    assert not (tmp_path / "run").exists()
    from user_corpora import write_npy

    rng = np.random.default_rng(1)
    src = write_npy(tmp_path / "src-binary", [rng.integers(0, 2, size=(12, 4)).astype(float) for _ in range(20)])
    binary = tmp_path / "binary.h5"
    assert invoke(cli.prepare, ["sequences", src, binary]).exit_code == 0
    config = configure.resolve_config("sequences", model="vrnn-bernoulli",
                                      overrides=lookup.config_overrides("sequences", binary))
    rundir.check_output_kind(config, "sequences", binary)  # accepted
    assert invoke(cli.prepare, ["sequences", src, tmp_path / "normalised.h5", "--normalise", "yes"]).exit_code == 0
    with pytest.raises(rundir.ConfigError, match="normalised"):
        rundir.check_output_kind(config, "sequences", tmp_path / "normalised.h5")


# ---------------------------------------------------------------- machine faults: one line each
def test_a_full_disk_under_vrnn_monitor_plot_is_one_line_and_leaves_no_temporary(tmp_path, demo_data, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.figure

    run = make_run(tmp_path / "run", demo_data, checkpoint=False)
    steps = [{"event": "monitor", "batch_seen": i, "nll_upper_bound": 1.0 / (i + 1)} for i in range(3)]
    (run.path / "log.jsonl").write_text("".join(json.dumps(step) + "\n" for step in steps))

    def full(self, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    plot = tmp_path / "curve.png"
    assert_one_line_error(invoke(cli.monitor, [run.path, "--plot", plot]), "No space left on device")
    assert list(tmp_path.glob("*curve*")) == []  # neither the picture nor its temporary


@pytest.mark.parametrize("fault", [
    OSError(errno.EROFS, "Read-only file system", "/runs/x/config.json"),
    OSError(errno.EACCES, "Permission denied", "/runs/x/config.json"),
    OSError(errno.ENOSPC, "No space left on device", "/runs/x/config.json"),
    MemoryError("Unable to allocate 11.2 GiB for an array with shape (100000, 40, 200)"),
])
def test_a_machine_fault_is_one_line_naming_the_file(tmp_path, demo_data, monkeypatch, fault):
    def failing(*args, **kwargs):
        raise fault
    monkeypatch.setattr(rundir, "_write_record", failing)
    result = invoke(cli.train, ["demo", "--out", tmp_path / "run", "--data", demo_data, "--mode", "c"])
    line = assert_one_line_error(result)
    assert ("/runs/x/config.json" in line) if isinstance(fault, OSError) else ("out of memory" in line)


def test_a_plot_name_of_no_picture_format_is_one_line(tmp_path, demo_data):
    pytest.importorskip("matplotlib")
    run = make_run(tmp_path / "run", demo_data, checkpoint=False)
    step = {"event": "monitor", "batch_seen": 1, "nll_upper_bound": 1.0}
    (run.path / "log.jsonl").write_text(json.dumps(step) + "\n")
    assert_one_line_error(invoke(cli.monitor, [run.path, "--plot", tmp_path / "curve.h5"]), "curve.h5", ".png")
    assert not (tmp_path / "curve.h5").exists()


def test_a_run_being_made_by_another_process_is_never_overwritten(tmp_path, demo_data):
    from nips2015_vrnn.models.app.runlock import RunLockedError

    path = tmp_path / "run"
    path.mkdir()
    with held_elsewhere("run_lock", path):
        with pytest.raises(RunLockedError):
            make_run(path, demo_data, checkpoint=False)
    assert not (path / "config.json").exists()


# ---------------------------------------------------------------- signals while sampling, evaluating
def _sigterm_midway(*args, out_dir=None, **kwargs):
    if out_dir is not None:
        (out_dir / "sample_00.wav").write_bytes(b"RIFF half")
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(10 ** 6):  # the handler runs here
        pass
    raise AssertionError("SIGTERM did not stop the command")


def test_sigterm_while_sampling_exits_130_and_keeps_the_earlier_samples(tmp_path, demo_data, no_compiling,
                                                                          monkeypatch):
    run = make_run(tmp_path / "run", demo_data)
    assert invoke(cli.sample, [run.path, "--n", 3]).exit_code == 0
    monkeypatch.setattr(sampling, "sample_run", _sigterm_midway)
    result = invoke(cli.sample, [run.path, "--n", 2, "--force"])
    assert result.exit_code == 130 and "interrupted; nothing was written" in result.output, result.output
    assert sorted(p.name for p in (run.path / "samples").iterdir()) == ["best-seed0"]
    assert len(list((run.path / "samples" / "best-seed0").iterdir())) == 3


def test_sigterm_while_evaluating_exits_130_and_writes_nothing(tmp_path, demo_data, no_compiling, monkeypatch):
    run = make_run(tmp_path / "run", demo_data)
    monkeypatch.setattr(evaluation, "evaluate_run", _sigterm_midway)
    result = invoke(cli.evaluate, [run.path, "--mode", "c"])
    assert result.exit_code == 130 and "interrupted; nothing was written" in result.output, result.output
    assert [p.name for p in run.path.iterdir() if "eval" in p.name] == []


def test_a_killed_samplers_temporaries_are_removed_by_the_next(tmp_path, demo_data, no_compiling):
    run = make_run(tmp_path / "run", demo_data)
    for name in (".best-seed0.tmp-999999", ".best-seed0.old-999999"):
        (run.path / "samples" / name).mkdir(parents=True)
    assert invoke(cli.sample, [run.path, "--n", 1]).exit_code == 0
    assert sorted(p.name for p in (run.path / "samples").iterdir()) == ["best-seed0"]


def test_a_new_run_stays_locked_by_its_maker_until_it_lets_go(tmp_path, demo_data):
    fmt = "blizzard"
    overrides = lookup.config_overrides(fmt, lookup.find_data_file(fmt, demo_data))
    config = configure.resolve_config(fmt, overrides=overrides, demo=True)
    probe = ("import sys\nfrom nips2015_vrnn.models.app.runlock import lock_holder\n"
             "print(lock_holder(sys.argv[1]))\n")

    def holder():
        return subprocess.run([sys.executable, "-c", probe, str(tmp_path / "run")], capture_output=True,
                              text=True, check=True).stdout.strip()
    with contextlib.ExitStack() as held:
        rundir.create_run(tmp_path / "run", fmt, config, demo_data, mode="c", demo=True, hold=held)
        assert holder() == str(os.getpid())  # a --resume started now would refuse
    assert holder() == "None"


def test_a_run_whose_maker_was_killed_before_its_first_checkpoint_is_replaced_by_the_same_command(
        tmp_path, demo_data, caplog):
    import logging

    path = tmp_path / "run"
    make_run(path, demo_data, checkpoint=False)  # its process then killed outright (no lock held now)
    (path / "log.jsonl").write_text('{"event": "start"}\n')
    with caplog.at_level(logging.WARNING, logger="nips2015_vrnn.models.app.rundir"):
        make_run(path, demo_data, checkpoint=False)
    assert "stopped before its first checkpoint" in caplog.text and not (path / "log.jsonl").exists()
    write_checkpoint(path / "checkpoints" / "last", {"params": {"W": np.zeros(2)}}, {"trainlog": {"batch_seen": 3}})
    with pytest.raises(rundir.RunError, match="already holds a run"):  # a checkpoint: never replaced
        make_run(path, demo_data, checkpoint=False)


# ---------------------------------------------------------------- vrnn-sample --bias
def test_a_biased_sample_folder_is_named_for_its_bias_and_passes_it_on(tmp_path, demo_data, no_compiling,
                                                                       monkeypatch):
    run = make_run(tmp_path / "run", demo_data)
    seen = {}
    real = sampling.sample_run
    monkeypatch.setattr(sampling, "sample_run", lambda *args, **options: seen.update(options) or real(*args, **options))
    result = invoke(cli.sample, [run.path, "--n", 2, "--bias", 1.5])
    assert result.exit_code == 0, result.output
    assert seen["bias"] == 1.5 and "at bias 1.5" in result.output
    assert (run.path / "samples" / "best-seed0-bias1.5" / "sample_00.wav").exists()
    assert invoke(cli.sample, [run.path, "--n", 2]).exit_code == 0
    assert (run.path / "samples" / "best-seed0").is_dir()


def test_a_bias_at_or_below_minus_one_is_a_usage_error(tmp_path, demo_data, no_compiling):
    run = make_run(tmp_path / "run", demo_data)
    result = invoke(cli.sample, [run.path, "--n", 2, "--bias", -1])
    assert result.exit_code == 2 and "--bias" in result.output
