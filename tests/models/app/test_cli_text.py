"""vrnn-prepare text end to end: a short text prepared, a tiny character model trained for a few
updates, evaluated in bits per character, and sampled as text files with a prime."""
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from nips2015_vrnn.models.app import cli

TINY = ["rnn_dim=16", "x2s_dim=8", "z2s_dim=8", "q_z_dim=8", "p_z_dim=8", "p_x_dim=8", "z_dim=2",
        "monitoring_freq=5", "batch_size=4", "m_batch_size=4"]
TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness.\n") * 6


def invoke(command, args):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("model", ["vrnn-categorical"])
def test_text_prepares_trains_evaluates_in_bits_and_samples_with_a_prime(tmp_path, model):
    (tmp_path / "tale.txt").write_text(TEXT, encoding="utf-8")
    result = invoke(cli.prepare, ["text", tmp_path / "tale.txt", tmp_path / "data", "--seq-len", 10,
                                  "--batch-size", 4, "--eval-len", 40])
    assert result.exit_code == 0, result.output
    assert "text.h5" in result.output and "vocabulary: 22 symbols" in result.output
    run = tmp_path / "run"
    sets = [arg for item in TINY for arg in ("--set", item)]
    result = invoke(cli.train, ["text", "--data", tmp_path / "data", "--out", run, "--model", model, *sets,
                                "--max-updates", 5])
    assert result.exit_code == 0, result.output
    assert "in order" in result.output  # the TBPTT streams, not shuffled
    result = invoke(cli.evaluate, [run, "--samples", 2])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((run / "eval_test_best.json").read_text())
    bits = evaluation["bits_per_character_bound"]
    assert bits == pytest.approx(-evaluation["lower_bound_per_step"] / math.log(2))
    assert f"bits per character: <= {bits:.3f}" in result.output and "uniform over the 22 symbols" in result.output
    result = invoke(cli.sample, [run, "--n", 2, "--steps", 12, "--prime", "It was", "--temperature", 0.8])
    assert result.exit_code == 0, result.output
    texts = [(run / "samples" / "best-seed0" / f"sample_{i:02d}.txt").read_text(encoding="utf-8") for i in range(2)]
    assert all(t.startswith("It was") and len(t) == 6 + 12 for t in texts)
    assert set("".join(texts)) <= set(TEXT[:int(len(TEXT) * 0.9)])


def test_non_utf8_text_is_one_error_line_naming_the_file_and_line(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"ok\n\xc3\x28 bad\n")
    result = invoke(cli.prepare, ["text", tmp_path / "bad.txt", tmp_path / "data"])
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code != 0 and len(errors) == 1 and "bad.txt: line 2" in errors[0]
    assert not np.any([p.suffix == ".h5" for p in (tmp_path / "data").glob("*")])


def test_the_prepare_text_help_has_an_example():
    result = invoke(cli.prepare, ["text", "--help"])
    assert result.exit_code == 0 and "Example" in result.output and "--seq-len" in result.output


def test_in_jax_mode_text_trains_at_its_row_length_unpadded(tmp_path, monkeypatch):
    """The static training graph is seq_len steps long (the carried state is each row's last real
    step's), while monitoring pads the validation blocks to their own length."""
    from nips2015_vrnn.models.app import trainer

    made = []

    def recording(iterator, rng, dim, dtype, n_steps=None):
        made.append((type(iterator.data).__name__, n_steps))
        return host_batches(iterator, rng, dim, dtype, n_steps)

    host_batches = trainer.HostBatches
    monkeypatch.setattr(trainer, "HostBatches", recording)
    (tmp_path / "tale.txt").write_text(TEXT, encoding="utf-8")
    invoke(cli.prepare, ["text", tmp_path / "tale.txt", tmp_path / "data", "--seq-len", 10, "--batch-size", 4,
                         "--eval-len", 40])
    sets = [arg for item in TINY for arg in ("--set", item)]
    result = invoke(cli.train, ["text", "--data", tmp_path / "data", "--out", tmp_path / "run", "--mode", "jax",
                                "--model", "rnn-categorical", *sets, "--max-updates", 2])
    assert result.exit_code == 0, result.output
    assert made == [("TextStreams", None), ("TextBlocks", 33)]  # the valid block: 33 characters
