"""The demo trains with each bound (config ``bound`` through ``--set``; FIVO in C and in JAX mode,
whose noise is drawn on the host) and is evaluated with all three: the objective recorded in
config.json, finite monitored bounds, elbo / iwae / fivo in eval_*.json; vrnn-eval's FIVO in JAX
mode is the C mode's, compiled for static shapes (no graph falls back to C). Slow: short trainings."""
import json
import logging

import numpy as np
import pytest
from cli_helpers import invoke

from nips2015_vrnn.models.app import cli

TINY = ["rnn_dim=16", "x2s_dim=8", "z2s_dim=8", "q_z_dim=8", "p_z_dim=8", "p_x_dim=8", "z_dim=4",
        "k=2", "monitoring_freq=2", "particles=3"]
TINY_ARGS = [arg for item in TINY for arg in ("--set", item)]


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
    result = invoke(cli.evaluate, [out, "--samples", 3, "--particles", 3, "--limit", 4])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((out / "eval_test_best_fivo3-ess.json").read_text())
    per_seq = evaluation["per_sequence"]
    assert np.all(np.isfinite([per_seq[k] for k in ("elbo", "iwae", "fivo")]))
    assert evaluation["elbo"] == evaluation["lower_bound"] and "fivo_per_step" in evaluation


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["speech", "handwriting"])  # unmasked and masked (padded in JAX)
def test_eval_fivo_in_jax_mode_is_the_c_modes_and_compiles_nothing_in_c(demo_dir, tmp_path, caplog, corpus):
    out = tmp_path / corpus
    result = invoke(cli.train, ["demo", "--corpus", corpus, "--out", out, "--data", demo_dir, "--mode", "c",
                                *TINY_ARGS, "--max-updates", 2])
    assert result.exit_code == 0, result.output
    found = {}
    for mode in ("c", "jax"):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            result = invoke(cli.evaluate, [out, "--samples", 3, "--particles", 5, "--resample", "always",
                                           "--limit", 6, "--seed", 7, "--mode", mode, "--force"])
        assert result.exit_code == 0, result.output
        assert not [r for r in caplog.records if " in C" in r.getMessage()], caplog.text
        found[mode] = json.loads((out / "eval_test_best_fivo5-always.json").read_text())
    assert found["jax"]["backend"]["mode"] == "jax" and found["jax"]["resample"] == "always"
    for key in ("fivo", "iwae", "elbo"):  # float32 in both modes, the same noise (seed 7)
        np.testing.assert_allclose(found["jax"]["per_sequence"][key], found["c"]["per_sequence"][key], rtol=1e-5)
