"""vrnn-prepare pianoroll end to end: a tiny pickle of the standard layout prepared, trained for
a few updates, evaluated and sampled (pictures with pitch on the axis); a payload refused."""
import importlib.util
import json
import os
import pickle

import numpy as np
import pytest
from click.testing import CliRunner

from nips2015_vrnn.models.app import cli

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
TINY = ["rnn_dim=8", "x2s_dim=4", "z2s_dim=4", "q_z_dim=4", "p_z_dim=4", "p_x_dim=4", "z_dim=2",
        "monitoring_freq=2", "batch_size=4", "m_batch_size=4"]


def invoke(command, args):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


def chorales(n, seed):
    """``n`` four-voice 'chorales' of 6..12 steps as pitch lists."""
    rng = np.random.default_rng(seed)
    return [[sorted(int(p) for p in rng.choice(np.arange(48, 80), 4, replace=False))
             for _ in range(int(rng.integers(6, 13)))] for _ in range(n)]


class Payload:
    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("model", ["vrnn-bernoulli"])
def test_a_piano_roll_pickle_prepares_trains_evaluates_and_samples(tmp_path, model):
    src = tmp_path / "tiny.pickle"
    src.write_bytes(pickle.dumps({"train": chorales(8, 0), "valid": chorales(2, 1), "test": chorales(2, 2)},
                                 protocol=2))
    result = invoke(cli.prepare, ["pianoroll", src, tmp_path / "data"])
    assert result.exit_code == 0, result.output
    assert "pianoroll.h5" in result.output and "'train': 8" in result.output
    run = tmp_path / "run"
    sets = [arg for item in TINY for arg in ("--set", item)]
    result = invoke(cli.train, ["pianoroll", "--data", tmp_path / "data", "--out", run, "--model", model,
                                *sets, "--max-updates", 4])
    assert result.exit_code == 0, result.output
    result = invoke(cli.evaluate, [run, "--samples", 2])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((run / "eval_test_best.json").read_text())
    assert evaluation["n_sequences"] == 2 and np.isfinite(evaluation["lower_bound_per_step"])
    # 88 fair coins per step is 88 log 2 = 61 nats; a few updates already do no worse than that.
    assert -evaluation["lower_bound_per_step"] < 88 * np.log(2) * 1.05
    result = invoke(cli.sample, [run, "--n", 2, "--steps", 7])
    assert result.exit_code == 0, result.output
    samples = np.load(run / "samples" / "best-seed0" / "samples.npy")
    assert samples.shape == (2, 7, 88) and set(np.unique(samples)) <= {0.0, 1.0}
    if HAVE_MATPLOTLIB:
        assert (run / "samples" / "best-seed0" / "sample_01.png").is_file()


def test_a_payload_in_the_standard_layout_is_one_error_line_and_never_runs(tmp_path):
    marker = tmp_path / "ran"
    payload = Payload()
    payload.marker = marker
    src = tmp_path / "evil.pickle"
    src.write_bytes(pickle.dumps({"train": [[[60]], payload], "valid": [], "test": []}, protocol=2))
    result = invoke(cli.prepare, ["pianoroll", src, tmp_path / "data"])
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert len(errors) == 1 and "evil.pickle" in errors[0] and "system" in errors[0]
    assert not marker.exists() and not (tmp_path / "data" / "pianoroll.h5").exists()


def test_the_prepare_pianoroll_help_has_an_example():
    result = invoke(cli.prepare, ["pianoroll", "--help"])
    assert result.exit_code == 0 and "Example" in result.output and "nothing in it runs" in result.output
