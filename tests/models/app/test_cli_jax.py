"""Every command in JAX mode on both demo corpora, and runs that change backend on resume.

Tiny models (``--set rnn_dim=8`` ...) so each graph compiles in seconds. Quick subset (what CI
runs; one run that goes through both backends, so two JAX training compiles in all):

- ``vrnn-train demo --mode jax`` for 2 updates, ``--resume --mode c`` to 4, ``--resume --mode jax``
  to 6: exit 0 with checkpoints and log, no JAX truncation warning; the checkpoints are
  backend-neutral, and the mixed run agrees with a C run trained straight to 6 within float32
  rounding (both draw the same noise from the same generator);
- ``vrnn-sample`` and ``vrnn-eval`` in JAX mode write their files and emit no warning (once the
  functions of the dynamic-shape model were compiled in JAX and PyTensor warned that it skipped
  their broadcast checks).

Full suite only (``slow``): a JAX run stopped at 2 updates and resumed to 4 equals the same run
trained straight to 4, bit for bit (parameters, optimizer state, TBPTT state, noise generator);
the JAX-trained checkpoint sampled and evaluated by the C backend; handwriting (padded, masked
batches) trained, sampled and evaluated in JAX.

jax is imported unconditionally: CI installs the ``jax`` extra, and these tests must not skip.
"""
import json
import warnings

import jax  # noqa: F401  (CI installs the jax extra: a missing jax is a failure, not a skip)
import numpy as np
import pytest
from click.testing import CliRunner

from cle import backend
from nips2015_vrnn.models.app import cli

#: Widths of 3 to 8 (the demo's are 32 to 128): each command compiles in seconds.
TINY = ["rnn_dim=8", "x2s_dim=6", "z2s_dim=6", "q_z_dim=6", "p_z_dim=6", "p_x_dim=6", "z_dim=3",
        "k=2", "depth=1", "monitoring_freq=2", "batch_size=8", "m_batch_size=8"]
TINY_ARGS = [arg for item in TINY for arg in ("--set", item)]
#: float32 on two backends (different fusion, reduction order and accumulators): the training
#: costs of the same updates agree to ~1e-7 relative (measured); this leaves room.
RTOL32 = 1e-5
#: Warnings that are not the commands' (PyTensor's notice that it uses numpy's BLAS).
KNOWN_WARNINGS = ("could not link to a BLAS",)


def invoke(command, args, quiet=False):
    """Run ``command``; no JAX truncation warning (``quiet``: no warning at all)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)
    messages = [str(w.message) for w in caught if not any(k in str(w.message) for k in KNOWN_WARNINGS)]
    truncations = [m for m in messages if "truncated" in m]
    assert not truncations, truncations
    if quiet:
        assert not messages, messages
    return result


@pytest.fixture(scope="module", autouse=True)
def restore_x64():
    """The commands set JAX's x64 switch at their start, as programs do; restored after."""
    previous = jax.config.jax_enable_x64
    yield
    jax.config.update("jax_enable_x64", previous)


def _train(demo_dir, out, mode, updates, corpus="speech"):
    result = invoke(cli.train, ["demo", "--out", out, "--data", demo_dir, "--corpus", corpus, *TINY_ARGS,
                                "--max-updates", updates, "--mode", mode])
    assert result.exit_code == 0, result.output
    return result


def _resume(out, updates, mode=None):
    result = invoke(cli.train, ["--resume", out, "--max-updates", updates] + (["--mode", mode] if mode else []))
    assert result.exit_code == 0, result.output
    return result


def _state(out):
    """Every array of checkpoints/last (params, optimizer, model_state) by file and name."""
    last = out / "checkpoints" / "last"
    arrays = {}
    for stem in ("params", "optimizer", "model_state"):
        with np.load(last / f"{stem}.npz") as saved:
            arrays.update({f"{stem}/{k}": saved[k] for k in saved.files})
    arrays["rng"] = json.loads((last / "rng.json").read_text())
    return arrays


@pytest.fixture(scope="module")
def mixed_run(demo_dir, tmp_path_factory):
    """JAX for 2 updates, C to 4, JAX to 6; and a C run straight to 6. Returns the root and the
    output of the two resumes."""
    root = tmp_path_factory.mktemp("mixed")
    _train(demo_dir, root / "mixed", "jax", 2)
    to_c = _resume(root / "mixed", 4, mode="c")
    to_jax = _resume(root / "mixed", 6, mode="jax")
    _train(demo_dir, root / "c6", "c", 6)
    return root, to_c.output + to_jax.output


def test_jax_training_writes_checkpoints_and_log(mixed_run):
    root, _ = mixed_run
    run = root / "mixed"
    assert json.loads((run / "config.json").read_text())["mode"] == "jax"
    assert (run / "checkpoints" / "best" / "params.npz").is_file()
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    monitored = [e for e in events if e.get("event") == "monitor"]
    # every monitoring_freq (2) updates and at the end, across the three backend segments
    assert sorted({e["batch_seen"] for e in monitored}) == [0, 2, 4, 6]
    assert all(np.isfinite(e["valid_nll_upper_bound"]) for e in monitored)


def _costs(run):
    """The per-update training costs (nll_upper_bound, recon_term) of checkpoints/last."""
    with np.load(run / "checkpoints" / "last" / "trainlog.npz") as saved:
        return saved["batches"][:, :2]


def test_runs_resume_across_backends_within_float32_rounding(mixed_run):
    """JAX -> C -> JAX against C straight through: the same noise (both backends draw it from the
    same numpy generator), so the training costs agree within float32 rounding.

    The parameters are compared loosely on purpose: where a gradient is at the float32
    rounding level (the KL biases of a fresh model, KL ~ 1e-7), Adam's normalised step turns
    its rounding into a step of up to ``lr`` either way, so such parameters may differ by up to
    2 * lr per update between any two float32 backends, while the costs cannot tell."""
    root, output = mixed_run
    assert "switching the run's backend from jax to c" in output
    assert "switching the run's backend from c to jax" in output
    reference, mixed = _state(root / "c6"), _state(root / "mixed")
    assert reference.keys() == mixed.keys()
    assert mixed["model_state/step_count"] == 6 and mixed["model_state/step_count"].dtype == np.int32
    np.testing.assert_allclose(_costs(root / "mixed"), _costs(root / "c6"), rtol=RTOL32)
    lr = reference["optimizer/lr"]
    for key in reference:
        if key.startswith("params/"):
            np.testing.assert_allclose(mixed[key], reference[key], rtol=0, atol=2 * lr * 6, err_msg=key)


def test_jax_run_samples_and_evaluates_without_warnings(mixed_run):
    root, _ = mixed_run
    run = root / "mixed"
    result = invoke(cli.sample, [run, "--n", 2, "--steps", 3, "--seed", 1], quiet=True)
    assert result.exit_code == 0, result.output
    assert len(list((run / "samples" / "best-seed1").glob("*.wav"))) == 2
    result = invoke(cli.evaluate, [run, "--split", "valid", "--samples", 3, "--limit", 5], quiet=True)
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "eval_valid_best.json").read_text())
    assert saved["n_sequences"] == 5 and np.isfinite(saved["loglik_is"]) and np.isfinite(saved["lower_bound"])


@pytest.fixture(scope="module")
def jax_resume_runs(demo_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("jax-runs")
    _train(demo_dir, root / "jax4", "jax", 4)
    _train(demo_dir, root / "jax2", "jax", 2)
    _resume(root / "jax2", 4)
    return root


@pytest.mark.slow
def test_jax_resume_equals_the_straight_run_bit_for_bit(jax_resume_runs):
    root = jax_resume_runs
    straight, resumed = _state(root / "jax4"), _state(root / "jax2")
    assert straight.keys() == resumed.keys()
    assert straight["model_state/step_count"] == 4
    for key in straight:
        if key == "rng":
            assert straight[key] == resumed[key]
        else:
            np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)


@pytest.mark.slow
def test_jax_run_samples_and_evaluates_in_jax_and_in_c(jax_resume_runs):
    """The same checkpoint in the C backend (e.g. trained on a GPU box, sampled on a laptop)."""
    run = jax_resume_runs / "jax4"
    args = [run, "--split", "valid", "--samples", 3, "--limit", 5, "--checkpoint", "last"]
    result = invoke(cli.evaluate, args)
    assert result.exit_code == 0, result.output
    jax_eval = json.loads((run / "eval_valid_last.json").read_text())
    result = invoke(cli.evaluate, args + ["--mode", "c", "--force"])
    assert result.exit_code == 0, result.output
    c_eval = json.loads((run / "eval_valid_last.json").read_text())
    np.testing.assert_allclose(c_eval["loglik_is"], jax_eval["loglik_is"], rtol=1e-4)
    np.testing.assert_allclose(c_eval["lower_bound"], jax_eval["lower_bound"], rtol=1e-4)
    result = invoke(cli.sample, [run, "--n", 2, "--steps", 3, "--seed", 1])
    assert result.exit_code == 0, result.output
    jax_wav = sorted((run / "samples" / "best-seed1").glob("*.wav"))[0].read_bytes()
    result = invoke(cli.sample, [run, "--n", 2, "--steps", 3, "--seed", 1, "--mode", "c", "--force"])
    assert result.exit_code == 0, result.output
    assert len(sorted((run / "samples" / "best-seed1").glob("*.wav"))[0].read_bytes()) == len(jax_wav)


@pytest.mark.slow
def test_handwriting_in_jax_trains_samples_and_evaluates(demo_dir, tmp_path):
    run = tmp_path / "hw"
    _train(demo_dir, run, "jax", 2, corpus="handwriting")
    assert (run / "checkpoints" / "last" / "params.npz").is_file()
    result = invoke(cli.sample, [run, "--n", 2, "--steps", 5], quiet=True)
    assert result.exit_code == 0, result.output
    assert len(list((run / "samples" / "best-seed0").glob("*.svg"))) == 2
    result = invoke(cli.evaluate, [run, "--split", "valid", "--samples", 2, "--limit", 3], quiet=True)
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "eval_valid_best.json").read_text())
    assert saved["n_sequences"] == 3 and np.isfinite(saved["lower_bound"])


def test_jax_mode_without_jax_is_one_line_with_the_install_command(demo_dir, tmp_path, monkeypatch):
    real_find_spec = backend.importlib.util.find_spec
    monkeypatch.setattr(backend.importlib.util, "find_spec",
                        lambda name, *a: None if name == "jax" else real_find_spec(name, *a))
    result = invoke(cli.train, ["demo", "--out", tmp_path / "nojax", "--data", demo_dir, *TINY_ARGS,
                                "--mode", "jax"])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "pip install" in errors[0] and "jax" in errors[0], result.output
    assert "Traceback" not in result.output and "compiling" not in result.output
    assert not (tmp_path / "nojax" / "config.json").exists()
