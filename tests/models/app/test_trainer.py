"""A run's training assembled by ``models.app.trainer``, through the commands on a user's corpus
of any size: 30 sequences of 5..500 frames, a validation split of 3 (fewer than m_batch_size),
trained in JAX mode (static shapes) with the defaults but a tiny model."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from user_corpora import write_npy

from cle.train.ext import EarlyStopping
from nips2015_vrnn.models.app import trainer
from nips2015_vrnn.models.app.cli import command
from nips2015_vrnn.models.config import ModelConfig

#: A tiny model (compiles in seconds); batch sizes are the defaults unless a test says otherwise.
TINY = ["rnn_dim=8", "x2s_dim=4", "z2s_dim=4", "q_z_dim=4", "p_z_dim=4", "p_x_dim=4", "z_dim=2",
        "k=2", "monitoring_freq=2"]


def invoke(name, *args):
    return CliRunner().invoke(command(name), [str(a) for a in args], catch_exceptions=False)


def sets(items):
    return [arg for item in items for arg in ("--set", item)]


def monitor_rows(run):
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("event") == "monitor"]


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    """30 sequences (2 values per step) of 5..500 frames as a prepared file: 24 / 3 / 3."""
    root = tmp_path_factory.mktemp("small")
    rng = np.random.default_rng(0)
    lengths = [5, 500] + [int(n) for n in rng.integers(5, 501, size=28)]
    seqs = [np.cumsum(rng.normal(size=(n, 2)), axis=0) for n in lengths]
    out = root / "small.h5"
    result = invoke("prepare", "sequences", write_npy(root / "src", seqs), out, "--valid-frac", 0.1,
                    "--test-frac", 0.1)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def jax_run(small_corpus, tmp_path_factory):
    """3 updates in JAX mode (monitored at 0, 2, 3), then resumed to 4 with m_batch_size=2 (the
    3 validation sequences in batches of 2 and 1)."""
    run = tmp_path_factory.mktemp("jax") / "run"
    first = invoke("train", "sequences", "--data", small_corpus, "--out", run, "--mode", "jax",
                   *sets(TINY + ["batch_size=8"]), "--max-updates", 3)
    resumed = invoke("train", "--resume", run, "--set", "m_batch_size=2", "--max-updates", 4)
    return run, first, resumed


def test_a_validation_split_smaller_than_m_batch_size_is_monitored_in_jax_mode(jax_run):
    run, first, _ = jax_run
    assert first.exit_code == 0, first.output
    assert [r["batch_seen"] for r in monitor_rows(run)][:3] == [0, 2, 3]


def test_resume_may_change_the_monitoring_batch_size(jax_run):
    run, _, resumed = jax_run
    assert resumed.exit_code == 0, resumed.output
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["m_batch_size"] == 2
    rows = monitor_rows(run)
    assert rows[-1]["batch_seen"] == 4 and np.isfinite(rows[-1]["valid_nll_upper_bound"])


def test_the_small_run_evaluates_in_jax_mode(jax_run):
    run, _, _ = jax_run
    result = invoke("eval", run, "--samples", 2)
    assert result.exit_code == 0, result.output
    result_json = json.loads((run / "eval_test_best.json").read_text())
    assert result_json["n_sequences"] == 3
    assert result_json["n_steps"] == sum(result_json["per_sequence"]["steps"])
    assert result_json["lower_bound_per_step"] == pytest.approx(
        sum(result_json["per_sequence"]["lower_bound"]) / result_json["n_steps"])
    assert "per time step: >= " in result.output


def test_max_updates_is_not_capped_by_the_presets_epoch_count(small_corpus, tmp_path):
    # 24 training sequences in batches of 8: the preset's epoch=4 alone would stop at 12 updates.
    run = tmp_path / "run"
    result = invoke("train", "sequences", "--data", small_corpus, "--out", run, "--mode", "jax",
                    *sets(TINY + ["batch_size=8", "monitoring_freq=100"]), "--max-updates", 14)
    assert result.exit_code == 0, result.output
    assert "stopped: max_updates=14 reached" in result.output
    assert "done: 14 updates" in result.output


def test_a_limit_the_user_set_stops_max_updates_first_and_is_named(small_corpus, tmp_path):
    run = tmp_path / "run"
    result = invoke("train", "sequences", "--data", small_corpus, "--out", run, "--mode", "jax",
                    *sets(TINY + ["batch_size=8", "monitoring_freq=100"]), "--max-updates", 14,
                    "--epochs", 1)
    assert result.exit_code == 0, result.output
    assert "stopped: epoch=1 reached" in result.output


def test_every_training_sequence_is_seen_each_epoch_with_the_default_batch_size(small_corpus, tmp_path):
    # 24 training sequences, batch_size 32 (the default): a few batches of similar lengths.
    run = tmp_path / "run"
    result = invoke("train", "sequences", "--data", small_corpus, "--out", run, "--mode", "jax",
                    *sets(TINY), "--max-updates", 2)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("an epoch:"))
    assert line.startswith("an epoch: 24 of 24 training sequences in ")
    assert "shuffled each epoch; padded to " in line and "of the computed frames real" in line


def last_params(run):
    with np.load(run / "checkpoints" / "last" / "params.npz") as saved:
        return {k: saved[k] for k in saved.files}


def test_a_resumed_run_draws_the_same_shuffled_batches_as_a_straight_run(small_corpus, tmp_path):
    args = ["--data", small_corpus, "--mode", "jax", *sets(TINY + ["batch_size=8"])]
    first = invoke("train", "sequences", "--out", tmp_path / "resumed", *args, "--max-updates", 2)
    assert first.exit_code == 0, first.output
    loop = tmp_path / "resumed" / "checkpoints" / "last" / "loop.json"
    end = json.loads(loop.read_text())["iterator"]["nbatch"] + 2  # into the second epoch
    resumed = invoke("train", "--resume", tmp_path / "resumed", "--max-updates", end)
    assert resumed.exit_code == 0, resumed.output
    straight = invoke("train", "sequences", "--out", tmp_path / "straight", *args, "--max-updates", end)
    assert straight.exit_code == 0, straight.output
    a, b = last_params(tmp_path / "straight"), last_params(tmp_path / "resumed")
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    loops = [json.loads((tmp_path / r / "checkpoints" / "last" / "loop.json").read_text())["iterator"]
             for r in ("straight", "resumed")]
    assert loops[0] == loops[1] and loops[0]["passes"] == 1


@pytest.mark.parametrize("patience, expected", [(0, None), (3, 3)])
def test_patience_is_the_early_stopping_patience(patience, expected):
    config = ModelConfig(patience=patience)
    extensions = trainer.training_extensions(config, monitoring=None, checkpoint_root=None, on_record=print)
    stopping = [e for e in extensions if isinstance(e, EarlyStopping)]
    assert len(stopping) == 1 and stopping[0].patience == expected


class Lengths:
    def __init__(self, lengths):
        self._lengths = np.asarray(lengths)

    def num_examples(self):
        return len(self._lengths)

    def lengths(self, start, end):
        return self._lengths[start:end]


def test_a_kl_near_zero_for_a_long_stretch_is_said_once():
    config = ModelConfig(data="sequences", output="gauss", cost_norm="sequence_sum", reset_freq=0)
    collapse = trainer.KlCollapse(config, Lengths([100, 100]))  # 100 steps per sequence
    said = [collapse.check({"batch_seen": i, "valid_kl_term": 0.2}) for i in range(1, 12)]
    assert [i for i, text in enumerate(said) if text] == [trainer.KL_COLLAPSE_RECORDS - 1]
    assert "posterior may have collapsed" in said[trainer.KL_COLLAPSE_RECORDS - 1]
    healthy = trainer.KlCollapse(config, Lengths([100, 100]))
    assert not any(healthy.check({"batch_seen": i, "valid_kl_term": 5.0}) for i in range(1, 12))


def test_log_to_tensorboard_writes_every_monitored_channel_and_each_update(small_corpus, tmp_path):
    from nips2015_vrnn.models.app.experiment_log import read_scalars

    run = tmp_path / "run"
    result = invoke("train", "sequences", "--data", small_corpus, "--out", run, "--mode", "jax",
                    *sets(TINY + ["batch_size=8"]), "--max-updates", 3, "--log-to", "tensorboard")
    assert result.exit_code == 0, result.output
    scalars = read_scalars(run / "tensorboard")
    logged = {r["batch_seen"]: r for r in monitor_rows(run)}
    assert [step for step, _ in scalars["valid_nll_upper_bound"]] == sorted(logged) == [0, 2, 3]
    for step, value in scalars["valid_kl_term"]:
        assert value == pytest.approx(logged[step]["valid_kl_term"], rel=1e-6)
    assert [step for step, _ in scalars["update/nll_upper_bound"]] == [1, 2, 3]


@pytest.mark.parametrize("width", [5, None])
def test_every_sequence_weighs_one_over_batch_size_whatever_its_batch_width(width):
    from cle.backend import Backend, function
    from nips2015_vrnn.models import build_model, get_preset

    config = get_preset("sequences/vrnn_gauss", x_dim=2, z_dim=2, rnn_dim=4, x2s_dim=3, z2s_dim=3, q_z_dim=3,
                        p_z_dim=3, p_x_dim=3, batch_size=8)
    model = build_model(config, dtype="float64")
    model = model.static(6, width) if width else model
    graph = model.training_graph(eps_input=True)
    outputs = [graph.outputs[name] for name in ("nll_upper_bound", "recon_term", "kl_term")]
    cost = trainer._training_cost(graph, outputs, model)
    fn = function(graph.inputs, [cost, outputs[0]], backend=Backend(floatX="float64"))
    rng = np.random.default_rng(0)
    x, eps = rng.normal(size=(6, 5, 2)), rng.normal(size=(6, 5, 2))
    scaled, per_sequence_mean = fn(x, np.ones((6, 5)), eps)
    np.testing.assert_allclose(scaled, per_sequence_mean * 5 / 8, rtol=1e-12)
    assert trainer._training_cost(graph, outputs) is outputs[0]  # the legacy batches: the bound itself


def test_the_collapse_warning_is_said_once_to_a_listener_or_else_to_the_log(caplog):
    config = ModelConfig(data="sequences", output="gauss", cost_norm="sequence_sum", reset_freq=0)
    records = [{"batch_seen": i, "valid_kl_term": 0.2} for i in range(1, trainer.KL_COLLAPSE_RECORDS + 1)]
    events = []
    echo = trainer._monitor_echo(lambda kind, **info: events.append(kind), trainer.KlCollapse(config, Lengths([100])))
    with caplog.at_level("WARNING"):
        for record in records:
            echo(record)
    assert events.count("warning") == 1 and events.count("monitor") == len(records)
    assert not [r for r in caplog.records if "collapsed" in r.getMessage()]   # not printed twice
    quiet = trainer._monitor_echo(None, trainer.KlCollapse(config, Lengths([100])))
    with caplog.at_level("WARNING"):
        for record in records:
            quiet(record)
    assert len([r for r in caplog.records if "collapsed" in r.getMessage()]) == 1
