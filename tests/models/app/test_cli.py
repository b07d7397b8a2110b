"""The five commands through click's CliRunner: what they write, what they print, and that every
user error is one line and a non-zero exit (never a traceback).

One tiny VRNN-GMM run on the demo speech corpus is trained once for the module (a few updates)
and shared by the sample / eval / monitor tests; error paths that need a broken run work on
copies of it.
"""
import importlib.util
import json
import math
import re
import shutil
import wave

import numpy as np
import pytest
from cli_helpers import invoke
from golden_data import load_golden

from nips2015_vrnn.models.app import cli

#: PNG output needs the optional 'plot' extra (matplotlib); WAV / SVG do not.
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
needs_matplotlib = pytest.mark.skipif(not HAVE_MATPLOTLIB, reason="matplotlib (the 'plot' extra) is not installed")

#: A tiny model (legacy key names) so every graph compiles in seconds; shared with the
#: end-to-end test so both hit the same compile cache.
#: depth=4: the paper's Blizzard stacks (the demo's are depth 1), so the checkpoint's parameters are
#: the legacy script's names (the golden file's).
TINY = ["rnn_dim=16", "x2s_dim=8", "z2s_dim=8", "q_z_dim=8", "p_z_dim=8", "p_x_dim=8", "z_dim=4",
        "k=2", "depth=4", "monitoring_freq=2"]
TINY_ARGS = [arg for item in TINY for arg in ("--set", item)]
UPDATES = 4


def assert_one_line_error(result, *fragments):
    """Exit status != 0, the message on one 'Error:' line naming ``fragments``, no traceback."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, result.output
    for fragment in fragments:
        assert fragment in error_lines[0], result.output


@pytest.fixture(scope="module")
def run_dir(demo_dir, tmp_path_factory):
    """One tiny trained run: UPDATES updates, monitored every 2."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    result = invoke(cli.train, ["demo", "--out", out, "--data", demo_dir, *TINY_ARGS,
                                "--max-updates", UPDATES])
    assert result.exit_code == 0, result.output
    return out, result.output


def broken_copy(run_dir, tmp_path, name):
    copy = tmp_path / name
    shutil.copytree(run_dir, copy)
    return copy


# ---------------------------------------------------------------------- --help
@pytest.mark.parametrize("command", [cli.prepare, cli.train, cli.sample, cli.evaluate, cli.monitor])
def test_every_command_has_help_with_an_example(command):
    result = invoke(command, ["--help"])
    assert result.exit_code == 0
    assert "Example" in result.output


@pytest.mark.parametrize("sub", ["blizzard", "iamondb", "demo"])
def test_every_prepare_subcommand_has_help_with_an_example(sub):
    result = invoke(cli.prepare, [sub, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output


# ---------------------------------------------------------------------- vrnn-prepare
def test_prepare_demo_writes_both_prepared_files(demo_dir):
    assert (demo_dir / "blizzard.h5").is_file()
    assert (demo_dir / "iamondb.h5").is_file()


def test_prepare_blizzard_writes_the_file_named_by_out(demo_dir, tmp_path):
    out = tmp_path / "speech.h5"
    result = invoke(cli.prepare, ["blizzard", demo_dir / "blizzard", out, "--batch-size", 4,
                                  "--seq-len", 8000])
    assert result.exit_code == 0, result.output
    import h5py
    with h5py.File(out) as f:
        assert f["data"].shape[1] == 8000
        assert int(f.attrs["batch_size"]) == 4
        assert f["data"].shape[0] % 4 == 0


def test_prepare_blizzard_into_a_folder_writes_blizzard_h5(demo_dir, tmp_path):
    result = invoke(cli.prepare, ["blizzard", demo_dir / "blizzard", tmp_path / "data",
                                  "--batch-size", 16])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "blizzard.h5").is_file()


def test_prepare_iamondb_writes_the_cache(demo_dir, tmp_path):
    result = invoke(cli.prepare, ["iamondb", demo_dir / "iamondb", tmp_path])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "iamondb.h5").is_file()
    assert "lines" in result.output


def test_prepare_blizzard_on_a_missing_folder_is_a_one_line_error(tmp_path):
    result = invoke(cli.prepare, ["blizzard", tmp_path / "nowhere", tmp_path / "out.h5"])
    assert_one_line_error(result, "nowhere")


def test_prepare_blizzard_with_too_little_audio_is_a_one_line_error(demo_dir, tmp_path):
    result = invoke(cli.prepare, ["blizzard", demo_dir / "blizzard", tmp_path / "out.h5",
                                  "--batch-size", 100000])
    assert_one_line_error(result, "batch")


def test_prepare_iamondb_on_a_folder_without_strokes_is_a_one_line_error(tmp_path):
    (tmp_path / "corpus").mkdir()
    result = invoke(cli.prepare, ["iamondb", tmp_path / "corpus", tmp_path / "out.h5"])
    assert_one_line_error(result)


# ---------------------------------------------------------------------- vrnn-train
def test_train_writes_config_log_and_both_checkpoints(run_dir):
    path, _ = run_dir
    assert (path / "config.json").is_file()
    assert (path / "log.jsonl").is_file()
    for which in ("last", "best"):
        assert (path / "checkpoints" / which / "params.npz").is_file()


def test_train_checkpoint_params_are_keyed_by_the_legacy_names(run_dir):
    path, _ = run_dir
    legacy = {str(n) for n in load_golden("blizzard_vrnn_gmm_train_steps")["param_names"]}
    with np.load(path / "checkpoints" / "last" / "params.npz") as params:
        assert set(params.files) == legacy


def test_train_config_json_holds_the_resolved_configuration(run_dir):
    path, _ = run_dir
    record = json.loads((path / "config.json").read_text())
    assert record["corpus"] == "blizzard"
    assert record["model"]["rnn_dim"] == 16
    assert record["model"]["num_k"] == 2
    assert record["model"]["family"] == "vrnn" and record["model"]["output"] == "gmm"
    assert record["floatX"] == "float32"
    assert record["data_path"].endswith("blizzard.h5")


def test_train_log_has_one_monitor_record_every_monitoring_freq_updates(run_dir):
    path, _ = run_dir
    records = [json.loads(line) for line in (path / "log.jsonl").read_text().splitlines()]
    steps = [r["batch_seen"] for r in records if r["event"] == "monitor"]
    assert steps == [0, 2, 4]  # every monitoring_freq updates, and at the end
    last = [r for r in records if r["event"] == "monitor"][-1]
    assert {"nll_upper_bound", "valid_nll_upper_bound", "valid_kl_term"} <= set(last)


def test_train_stops_after_max_updates(run_dir):
    path, _ = run_dir
    trainlog = json.loads((path / "checkpoints" / "last" / "trainlog.json").read_text())
    assert trainlog["batch_seen"] == UPDATES


#: The line that says how vrnn-train got its functions: compiled now, or loaded from the store.
COMPILE_LINE = re.compile(r"(?:compiled the training and monitoring functions|loaded the training and "
                          r"monitoring functions from the compiled-function cache) in (\d+\.\d) s")
#: A monitoring step: update, epoch, then ``<channel> <value>`` pairs.
MONITOR_LINE = re.compile(r"\[update (\d+), epoch (\d+)\] (.*)")
DONE_LINE = re.compile(r"done: (\d+) updates, (\d+) epochs in (\d+\.\d) s \((\d+\.\d) s in updates\)")


def test_train_ends_with_the_last_kl_term_per_frame(run_dir):
    from nips2015_vrnn.models.app.runlog import monitor_records, read_log
    path, output = run_dir
    last = monitor_records(read_log(path / "log.jsonl"))[-1]
    want = f"KL term per frame at update {UPDATES}: train {last['kl_term']:.3g}, valid {last['valid_kl_term']:.3g} nats"
    assert output.splitlines()[-1].startswith(want), output


def test_train_prints_configuration_compile_time_and_channels(run_dir):
    _, output = run_dir
    lines = output.splitlines()
    settings = {item for line in lines if line.startswith("  ") for item in line.split()}
    assert {"rnn_dim=16", "z_dim=4", "num_k=2", "monitoring_freq=2"} <= settings  # TINY, as config.json names it
    compiled = [COMPILE_LINE.fullmatch(line) for line in lines if COMPILE_LINE.fullmatch(line)]
    assert len(compiled) == 1, output
    done = [DONE_LINE.fullmatch(line) for line in lines if DONE_LINE.fullmatch(line)]
    assert len(done) == 1 and int(done[0][1]) == UPDATES, output
    assert 0 < float(compiled[0][1]) <= float(done[0][3])  # a duration within the run's time
    steps = [MONITOR_LINE.fullmatch(line) for line in lines if MONITOR_LINE.fullmatch(line)]
    assert [int(step[1]) for step in steps] == list(range(0, UPDATES + 1, 2)), output  # monitoring_freq=2
    for step in steps:  # the validation channels at every step, the training ones after update 0
        values = dict(re.findall(r"(\w+) (-?\d[\d.e+-]*)", step[3]))
        expected = {"valid_nll_upper_bound", "valid_kl_term"} | ({"nll_upper_bound"} if int(step[1]) else set())
        assert expected <= set(values), step[0]
        assert all(math.isfinite(float(v)) for v in values.values())
    assert lines.index(compiled[0][0]) < lines.index(steps[0][0])


def test_train_with_an_unknown_set_key_is_a_one_line_error(tmp_path, demo_dir):
    result = invoke(cli.train, ["demo", "--out", tmp_path / "r", "--data", demo_dir,
                                "--set", "no_such_key=3"])
    assert_one_line_error(result, "no_such_key")
    assert not (tmp_path / "r" / "config.json").exists()


def test_train_with_a_set_item_without_equals_is_a_one_line_error(tmp_path, demo_dir):
    result = invoke(cli.train, ["demo", "--out", tmp_path / "r", "--data", demo_dir,
                                "--set", "rnn_dim"])
    assert_one_line_error(result, "KEY=VALUE")


def test_train_with_a_bad_set_value_is_a_one_line_error(tmp_path, demo_dir):
    result = invoke(cli.train, ["demo", "--out", tmp_path / "r", "--data", demo_dir,
                                "--set", "rnn_dim=many"])
    assert_one_line_error(result, "rnn_dim")


def test_train_with_an_invalid_configuration_value_is_a_one_line_error(tmp_path, demo_dir):
    result = invoke(cli.train, ["demo", "--out", tmp_path / "r", "--data", demo_dir,
                                "--set", "rnn_dim=0"])
    assert_one_line_error(result, "rnn_dim")


def test_train_with_a_missing_legacy_config_is_a_one_line_error(tmp_path, demo_dir):
    result = invoke(cli.train, ["demo", "--out", tmp_path / "r", "--data", demo_dir,
                                "--config", tmp_path / "config.txt"])
    assert_one_line_error(result, "config.txt")


def test_train_with_a_legacy_config_naming_an_unknown_key_is_a_one_line_error(tmp_path, demo_dir):
    (tmp_path / "config.txt").write_text("lr 0.001\nbogus 3\n")
    result = invoke(cli.train, ["demo", "--out", tmp_path / "r", "--data", demo_dir,
                                "--config", tmp_path / "config.txt"])
    assert_one_line_error(result, "bogus")


def test_train_blizzard_without_data_is_a_usage_error(tmp_path):
    result = invoke(cli.train, ["blizzard", "--out", tmp_path / "r"])
    assert result.exit_code == 2
    assert "--data" in result.output


def test_train_with_missing_data_is_a_one_line_error(tmp_path):
    result = invoke(cli.train, ["blizzard", "--out", tmp_path / "r", "--data", tmp_path / "none.h5"])
    assert_one_line_error(result, "none.h5")


def test_train_on_data_of_the_wrong_kind_is_a_one_line_error(tmp_path, demo_dir):
    result = invoke(cli.train, ["iamondb", "--out", tmp_path / "r", "--data",
                                demo_dir / "blizzard.h5"])
    assert_one_line_error(result, "blizzard.h5")


def test_train_into_an_existing_run_is_a_one_line_error(run_dir, demo_dir):
    path, _ = run_dir
    result = invoke(cli.train, ["demo", "--out", path, "--data", demo_dir])
    assert_one_line_error(result, "already holds a run", "--resume")


def test_train_without_corpus_or_resume_is_a_usage_error():
    result = invoke(cli.train, [])
    assert result.exit_code == 2
    assert "--resume" in result.output


def test_resume_with_other_settings_is_a_usage_error(run_dir):
    path, _ = run_dir
    result = invoke(cli.train, ["--resume", path, "--seed", "3"])
    assert result.exit_code == 2


def test_resume_refuses_a_set_key_the_model_or_optimizer_depends_on(run_dir):
    path, _ = run_dir
    result = invoke(cli.train, ["--resume", path, "--set", "lr=0.1"])
    assert_one_line_error(result, "cannot change lr", "monitoring_freq")


def test_resume_of_a_folder_without_a_run_is_a_one_line_error(tmp_path):
    result = invoke(cli.train, ["--resume", tmp_path])
    assert_one_line_error(result, "config.json")


def test_resume_of_a_run_without_checkpoint_is_a_one_line_error(run_dir, tmp_path):
    path = broken_copy(run_dir[0], tmp_path, "nock")
    shutil.rmtree(path / "checkpoints")
    result = invoke(cli.train, ["--resume", path, "--max-updates", UPDATES + 1])
    assert_one_line_error(result, "checkpoint")


def test_best_is_chosen_among_monitored_points_after_update_0(run_dir):
    path, _ = run_dir
    best = json.loads((path / "checkpoints" / "best" / "trainlog.json").read_text())
    assert best["batch_seen"] in (2, UPDATES)


def test_resume_of_a_finished_run_says_why_before_compiling(run_dir):
    result = invoke(cli.train, ["--resume", run_dir[0]])
    assert_one_line_error(result, "nothing left to do", f"max_updates={UPDATES}",
                          f"--max-updates above {UPDATES}")
    assert "compiling" not in result.output


@pytest.fixture(scope="module")
def straight_run(demo_dir, tmp_path_factory):
    """The tiny run trained straight to UPDATES + 2 updates (the reference of the extended one)."""
    out = tmp_path_factory.mktemp("runs") / "straight"
    result = invoke(cli.train, ["demo", "--out", out, "--data", demo_dir, *TINY_ARGS,
                                "--max-updates", UPDATES + 2])
    assert result.exit_code == 0, result.output
    return out


def monitor_rows(path):
    records = [json.loads(line) for line in (path / "log.jsonl").read_text().splitlines()]
    return [r for r in records if r["event"] == "monitor"]


def test_extended_run_logs_what_the_straight_run_logs_without_duplicates(run_dir, straight_run, tmp_path):
    path = broken_copy(run_dir[0], tmp_path, "ext")
    # A hard kill after a monitoring step but before its checkpoint leaves a row the resume redoes.
    with open(path / "log.jsonl", "a") as log:
        log.write(json.dumps({"event": "monitor", "time": 0, "batch_seen": UPDATES + 2}) + "\n")
    result = invoke(cli.train, ["--resume", path, "--max-updates", UPDATES + 2])
    assert result.exit_code == 0, result.output
    assert json.loads((path / "config.json").read_text())["max_updates"] == UPDATES + 2
    extended, straight = monitor_rows(path), monitor_rows(straight_run)
    assert [r["batch_seen"] for r in extended] == [0, 2, 4, 6]
    for mine, theirs in zip(extended, straight):
        for key, value in theirs.items():
            if key.startswith("valid_") or key in ("nll_upper_bound", "kl_term"):
                assert mine[key] == value, (mine["batch_seen"], key)


# ---------------------------------------------------------------------- vrnn-sample
def test_each_sample_call_has_its_own_folder_and_nothing_is_overwritten(run_dir, tmp_path):
    path = broken_copy(run_dir[0], tmp_path, "twice")
    args = [path, "--n", 1, "--steps", 2, "--checkpoint", "last", "--seed", 5]
    assert invoke(cli.sample, args).exit_code == 0
    assert invoke(cli.sample, [*args[:-1], 6]).exit_code == 0
    assert sorted(p.name for p in (path / "samples").iterdir()) == ["last-seed5", "last-seed6"]
    assert_one_line_error(invoke(cli.sample, args), "last-seed5", "--force")
    assert invoke(cli.sample, [*args, "--force"]).exit_code == 0


def test_a_later_sample_or_eval_call_loads_its_function_from_the_compiled_function_cache(run_dir, tmp_path):
    path = broken_copy(run_dir[0], tmp_path, "cached")
    args = [path, "--n", 1, "--steps", 2, "--checkpoint", "last"]
    assert invoke(cli.sample, [*args, "--seed", 1]).exit_code == 0  # compiles, or loads
    second = invoke(cli.sample, [*args, "--seed", 2])
    assert second.exit_code == 0 and "loaded the generator from the compiled-function cache" in second.output
    # C mode: one per-sequence function for every shape, compiled (or loaded) before the first batch
    eval_args = [path, "--split", "valid", "--samples", 2, "--limit", 2, "--checkpoint", "last", "--mode", "c"]
    assert invoke(cli.evaluate, eval_args).exit_code == 0
    again = invoke(cli.evaluate, [*eval_args, "--force"])
    assert again.exit_code == 0
    assert "loaded the per-sequence function from the compiled-function cache" in again.output


def test_sample_writes_16khz_wavs_of_half_a_second_and_pngs(run_dir, tmp_path):
    path = broken_copy(run_dir[0], tmp_path, "s")
    result = invoke(cli.sample, [path, "--n", 2, "--seed", 3])
    assert result.exit_code == 0, result.output
    wavs = sorted((path / "samples" / "best-seed3").glob("*.wav"))
    assert len(wavs) == 2
    with wave.open(str(wavs[0])) as w:
        assert w.getframerate() == 16000
        assert w.getnframes() == 8000
        assert w.getsampwidth() == 2
    if HAVE_MATPLOTLIB:
        assert len(sorted((path / "samples" / "best-seed3").glob("sample_*.png"))) == 2
        assert (path / "samples" / "best-seed3" / "comparison.png").is_file()
    stats = json.loads((path / "samples" / "best-seed3" / "statistics.json").read_text())
    assert set(stats["samples"]) == set(stats["training"]) == {"envelope_cv", "silent_fraction", "near_silent_fraction",
                                                               "loud_flatness", "sequences"}
    assert stats["bias"] == 0.0 and stats["kl_term"]["per"] == "frame" and stats["kl_term"]["batch_seen"] == UPDATES
    assert "training log: KL term per frame" in result.output
    assert "samples vs training data: envelope_cv" in result.output


def test_sample_without_matplotlib_writes_wavs_and_says_how_to_get_pngs(run_dir, tmp_path, monkeypatch):
    from nips2015_vrnn.models.app import plotting
    monkeypatch.setattr(plotting, "have_matplotlib", lambda: False)
    path = broken_copy(run_dir[0], tmp_path, "s")
    result = invoke(cli.sample, [path, "--n", 1, "--steps", 2, "--checkpoint", "last"])
    assert result.exit_code == 0, result.output
    assert "pip install .[plot]" in result.output
    assert sorted(p.name for p in (path / "samples" / "last-seed0").iterdir()) == ["sample_00.wav",
                                                                                   "statistics.json"]


def test_sample_of_a_missing_run_is_a_one_line_error(tmp_path):
    result = invoke(cli.sample, [tmp_path / "nothing"])
    assert_one_line_error(result, "config.json")


def test_sample_of_a_corrupted_checkpoint_is_a_one_line_error(run_dir, tmp_path):
    path = broken_copy(run_dir[0], tmp_path, "bad")
    params = path / "checkpoints" / "best" / "params.npz"
    params.write_bytes(params.read_bytes()[:-10])
    result = invoke(cli.sample, [path])
    assert_one_line_error(result, "params.npz")


def test_sample_of_an_incompatible_checkpoint_is_a_one_line_error(run_dir, tmp_path):
    path = broken_copy(run_dir[0], tmp_path, "other")
    record = json.loads((path / "config.json").read_text())
    record["model"]["rnn_dim"] = 12
    (path / "config.json").write_text(json.dumps(record))
    result = invoke(cli.sample, [path])
    assert_one_line_error(result, "does not fit")


# ---------------------------------------------------------------------- vrnn-eval
def test_eval_prints_a_table_row_and_saves_json(run_dir, tmp_path):
    path = broken_copy(run_dir[0], tmp_path, "e")
    result = invoke(cli.evaluate, [path, "--split", "valid", "--samples", 3, "--limit", 5])
    assert result.exit_code == 0, result.output
    saved = json.loads((path / "eval_valid_best.json").read_text())
    assert saved["n_sequences"] == 5 and saved["n_samples"] == 3
    assert saved["model"] == "VRNN-GMM"
    assert saved["checkpoint"] == "best" and saved["checkpoint_updates"] > 0
    row = [line for line in result.output.splitlines() if line.startswith("Demo speech")]
    assert len(row) == 1
    assert f">= {saved['lower_bound']:.1f}" in row[0]
    assert f"~= {saved['loglik_is']:.1f}" in row[0]


def test_eval_never_overwrites_an_earlier_evaluation(run_dir, tmp_path):
    path = broken_copy(run_dir[0], tmp_path, "e2")
    args = [path, "--split", "valid", "--samples", 1, "--limit", 1, "--checkpoint", "last"]
    assert invoke(cli.evaluate, args).exit_code == 0
    assert (path / "eval_valid_last.json").is_file()
    assert_one_line_error(invoke(cli.evaluate, args), "eval_valid_last.json", "--force")
    assert invoke(cli.evaluate, [*args, "--force"]).exit_code == 0


def test_eval_of_a_missing_checkpoint_is_a_one_line_error(run_dir, tmp_path):
    path = broken_copy(run_dir[0], tmp_path, "nobest")
    shutil.rmtree(path / "checkpoints" / "best")
    result = invoke(cli.evaluate, [path, "--checkpoint", "best"])
    assert_one_line_error(result, "best")


def test_eval_runs_fivo_only_when_asked_and_names_its_file_by_the_settings(run_dir, tmp_path):
    path = broken_copy(run_dir[0], tmp_path, "fivo")
    args = [path, "--split", "valid", "--samples", 2, "--limit", 2, "--checkpoint", "last", "--mode", "c"]
    assert invoke(cli.evaluate, args).exit_code == 0
    plain = json.loads((path / "eval_valid_last.json").read_text())
    assert "fivo" not in plain and plain["particles"] is None
    result = invoke(cli.evaluate, [*args, "--particles", 3, "--resample", "always"])
    assert result.exit_code == 0, result.output
    assert "FIVO: 3 particles, resampling always" in result.output and " fivo " in result.output
    saved = json.loads((path / "eval_valid_last_fivo3-always.json").read_text())
    assert saved["particles"] == 3 and saved["resample"] == "always" and len(saved["per_sequence"]["fivo"]) == 2
    assert saved["n_samples"] == 2 and saved["elbo"] == saved["lower_bound"]
    assert json.loads((path / "eval_valid_last.json").read_text()) == plain  # not replaced


def test_eval_with_a_bad_sample_count_is_a_one_line_error(run_dir):
    result = invoke(cli.evaluate, [run_dir[0], "--samples", 0])
    assert_one_line_error(result, "--samples")


# ---------------------------------------------------------------------- vrnn-monitor
def test_monitor_prints_one_row_per_monitoring_step(run_dir):
    result = invoke(cli.monitor, [run_dir[0]])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:2] == ["update", "nll_upper_bound"]
    assert [line.split()[0] for line in lines[1:]] == ["0", "2", "4"]


def test_monitor_shows_the_channels_asked_for(run_dir):
    result = invoke(cli.monitor, [run_dir[0], "--channels", "valid_kl_term,valid_max_x"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == ["update", "valid_kl_term", "valid_max_x"]


@needs_matplotlib
def test_monitor_plot_writes_a_png(run_dir, tmp_path):
    result = invoke(cli.monitor, [run_dir[0], "--plot", tmp_path / "curve.png"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_monitor_follow_returns_when_the_training_has_ended(run_dir):
    result = invoke(cli.monitor, [run_dir[0], "--follow"])
    assert result.exit_code == 0, result.output
    assert "training ended" in result.output


def test_monitor_with_an_unknown_channel_is_a_one_line_error(run_dir):
    result = invoke(cli.monitor, [run_dir[0], "--channels", "no_such_channel"])
    assert_one_line_error(result, "no_such_channel")


def test_monitor_of_a_run_without_log_is_a_one_line_error(run_dir, tmp_path):
    path = broken_copy(run_dir[0], tmp_path, "nolog")
    (path / "log.jsonl").unlink()
    result = invoke(cli.monitor, [path])
    assert_one_line_error(result, "log")


# ---------------------------------------------------------------------- handwriting
@pytest.mark.slow
def test_demo_handwriting_trains_and_samples_svg_strokes(demo_dir, tmp_path):
    out = tmp_path / "hw"
    result = invoke(cli.train, ["demo", "--corpus", "handwriting", "--out", out, "--data", demo_dir,
                                *TINY_ARGS, "--max-updates", 1])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["corpus"] == "iamondb"
    result = invoke(cli.sample, [out, "--n", 2, "--steps", 20])
    assert result.exit_code == 0, result.output
    svgs = sorted((out / "samples" / "best-seed0").glob("*.svg"))
    assert len(svgs) == 2
    assert svgs[0].read_text().startswith("<svg")


def test_train_reads_the_mode_from_vrnn_mode(tmp_path, monkeypatch, demo_dir):
    monkeypatch.setenv("VRNN_MODE", "no-such-mode")
    result = invoke(cli.train, ["demo", "--out", tmp_path / "r", "--data", demo_dir])
    assert_one_line_error(result, "no-such-mode")
    assert not (tmp_path / "r" / "config.json").exists()
