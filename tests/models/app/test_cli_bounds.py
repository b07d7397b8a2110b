"""The demo trains with each bound (config ``bound`` through ``--set``; FIVO in C and in JAX mode,
whose noise is drawn on the host) and is evaluated with all three: the objective recorded in
config.json, finite monitored bounds, elbo / iwae / fivo in eval_*.json. Slow: four short trainings."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from nips2015_vrnn.models.app import cli

TINY = ["rnn_dim=16", "x2s_dim=8", "z2s_dim=8", "q_z_dim=8", "p_z_dim=8", "p_x_dim=8", "z_dim=4",
        "k=2", "monitoring_freq=2", "particles=3"]
TINY_ARGS = [arg for item in TINY for arg in ("--set", item)]


def invoke(command, args):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "data"
    result = invoke(cli.prepare, ["demo", out])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
@pytest.mark.parametrize("bound, mode", [("elbo", "c"), ("iwae", "c"), ("fivo", "c"), ("fivo", "jax")])
def test_demo_trains_with_each_bound_and_evaluates_all_three(demo_dir, tmp_path, bound, mode):
    out = tmp_path / bound
    result = invoke(cli.train, ["demo", "--out", out, "--data", demo_dir, "--mode", mode, *TINY_ARGS,
                                "--set", f"bound={bound}", "--max-updates", 4])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["bound"] == bound and config["model"]["particles"] == 3
    text = (out / "log.jsonl").read_text()
    assert "valid_nll_upper_bound" in text and "NaN" not in text
    result = invoke(cli.evaluate, [out, "--samples", 3, "--limit", 4])
    assert result.exit_code == 0, result.output
    evaluation = json.loads(next(out.glob("eval_test_*.json")).read_text())
    per_seq = evaluation["per_sequence"]
    assert np.all(np.isfinite([per_seq[k] for k in ("elbo", "iwae", "fivo")]))
    assert evaluation["elbo"] == evaluation["lower_bound"] and "fivo_per_step" in evaluation
