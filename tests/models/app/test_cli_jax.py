"""Every command in JAX mode on both demo corpora, and runs that change backend on resume.

Tiny models (``--set rnn_dim=8`` ...) so each graph compiles in seconds. Checked:

- ``vrnn-train demo --mode jax`` (speech, TBPTT carry) and ``--corpus handwriting --mode jax``
  (padded, masked batches) exit 0 with their checkpoints and log; no JAX truncation warning;
- a JAX run stopped at 2 updates and resumed to 4 equals the same run trained straight to 4,
  bit for bit (parameters, optimizer state, TBPTT state, noise generator);
- a C run resumed with ``--mode jax`` (recorded in config.json) and the JAX-trained checkpoint
  read back by the C backend: the checkpoints are backend-neutral; the C -> JAX run and the JAX
  run agree within float32 rounding (both draw the same noise from the same generator);
- ``vrnn-sample`` and ``vrnn-eval`` in JAX mode write their files.

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

#: Compiles and trains several models: part of the full suite, not of the quick subset.
pytestmark = pytest.mark.slow

TINY = ["rnn_dim=8", "x2s_dim=6", "z2s_dim=6", "q_z_dim=6", "p_z_dim=6", "p_x_dim=6", "z_dim=3",
        "k=2", "monitoring_freq=2", "batch_size=8", "m_batch_size=8"]
TINY_ARGS = [arg for item in TINY for arg in ("--set", item)]
#: float32 on two backends (different fusion, reduction order and accumulators): the training
#: costs of the same 4 updates agree to ~1e-7 relative (measured); this leaves room.
RTOL32 = 1e-5


def invoke(command, args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)
    truncations = [str(w.message) for w in caught if "truncated" in str(w.message)]
    assert not truncations, truncations
    return result


@pytest.fixture(scope="module", autouse=True)
def restore_mode():
    previous = backend._state["mode"]
    yield
    backend._state["mode"] = previous


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "data"
    result = invoke(cli.prepare, ["demo", out])
    assert result.exit_code == 0, result.output
    return out


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
def speech_runs(demo_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("jax-runs")
    _train(demo_dir, root / "jax4", "jax", 4)
    _train(demo_dir, root / "jax2", "jax", 2)
    _resume(root / "jax2", 4)
    _train(demo_dir, root / "c2", "c", 2)
    switched = _resume(root / "c2", 4, mode="jax")
    return root, switched.output


def test_jax_training_writes_checkpoints_and_log(speech_runs):
    root, _ = speech_runs
    run = root / "jax4"
    assert json.loads((run / "config.json").read_text())["mode"] == "jax"
    assert (run / "checkpoints" / "best" / "params.npz").is_file()
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    monitored = [e for e in events if e.get("event") == "monitor"]
    assert [e["batch_seen"] for e in monitored] == [0, 2]  # stopping at max_updates does not monitor
    assert all(np.isfinite(e["valid_nll_upper_bound"]) for e in monitored)


def test_jax_resume_equals_the_straight_run_bit_for_bit(speech_runs):
    root, _ = speech_runs
    straight, resumed = _state(root / "jax4"), _state(root / "jax2")
    assert straight.keys() == resumed.keys()
    assert straight["model_state/step_count"] == 4
    for key in straight:
        if key == "rng":
            assert straight[key] == resumed[key]
        else:
            np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)


def _costs(run):
    """The per-update training costs (nll_upper_bound, recon_term) of checkpoints/last."""
    with np.load(run / "checkpoints" / "last" / "trainlog.npz") as saved:
        return saved["batches"][:, :2]


def test_a_c_run_resumes_in_jax_within_float32_rounding(speech_runs):
    """C for 2 updates then JAX for 2 against JAX for all 4: the same noise (both backends draw
    it from the same numpy generator), so the training costs agree within float32 rounding.

    The parameters are compared loosely on purpose: where a gradient is at the float32
    rounding level (the KL biases of a fresh model, KL ~ 1e-7), Adam's normalised step turns
    its rounding into a step of up to ``lr`` either way, so such parameters may differ by up to
    2 * lr per update between any two float32 backends, while the costs cannot tell."""
    root, output = speech_runs
    assert "switching the run's backend from c to jax" in output
    assert json.loads((root / "c2" / "config.json").read_text())["mode"] == "jax"
    reference, switched = _state(root / "jax4"), _state(root / "c2")
    assert reference.keys() == switched.keys()
    assert switched["model_state/step_count"] == 4 and switched["model_state/step_count"].dtype == np.int32
    np.testing.assert_allclose(_costs(root / "c2"), _costs(root / "jax4"), rtol=RTOL32)
    lr = reference["optimizer/lr"]
    for key in reference:
        if key.startswith("params/"):
            np.testing.assert_allclose(switched[key], reference[key], rtol=0, atol=2 * lr * 4, err_msg=key)


def test_jax_run_samples_and_evaluates_in_jax_and_in_c(speech_runs):
    root, _ = speech_runs
    run = root / "jax4"
    result = invoke(cli.sample, [run, "--n", 2, "--steps", 3, "--seed", 1])
    assert result.exit_code == 0, result.output
    assert len(list((run / "samples").glob("*.wav"))) == 2
    jax_wav = sorted((run / "samples").glob("*.wav"))[0].read_bytes()
    result = invoke(cli.evaluate, [run, "--split", "valid", "--samples", 3, "--limit", 5])
    assert result.exit_code == 0, result.output
    jax_eval = json.loads((run / "eval_valid.json").read_text())
    assert jax_eval["n_sequences"] == 5 and np.isfinite(jax_eval["loglik_is"])
    # The same checkpoint in the C backend (e.g. trained on a GPU box, sampled on a laptop).
    result = invoke(cli.evaluate, [run, "--split", "valid", "--samples", 3, "--limit", 5, "--mode", "c"])
    assert result.exit_code == 0, result.output
    c_eval = json.loads((run / "eval_valid.json").read_text())
    np.testing.assert_allclose(c_eval["loglik_is"], jax_eval["loglik_is"], rtol=1e-4)
    np.testing.assert_allclose(c_eval["lower_bound"], jax_eval["lower_bound"], rtol=1e-4)
    result = invoke(cli.sample, [run, "--n", 2, "--steps", 3, "--seed", 1, "--mode", "c"])
    assert result.exit_code == 0, result.output
    assert len(sorted((run / "samples").glob("*.wav"))[0].read_bytes()) == len(jax_wav)


def test_handwriting_in_jax_trains_samples_and_evaluates(demo_dir, tmp_path):
    run = tmp_path / "hw"
    _train(demo_dir, run, "jax", 2, corpus="handwriting")
    assert (run / "checkpoints" / "last" / "params.npz").is_file()
    result = invoke(cli.sample, [run, "--n", 2, "--steps", 5])
    assert result.exit_code == 0, result.output
    assert len(list((run / "samples").glob("*.svg"))) == 2
    result = invoke(cli.evaluate, [run, "--split", "valid", "--samples", 2, "--limit", 3])
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "eval_valid.json").read_text())
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
