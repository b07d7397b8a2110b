"""The new corpora end to end through the command line (CliRunner): vrnn-prepare blizzard on
MP3 / FLAC / OGG / SPHERE files, vrnn-prepare timit on an LDC-layout folder, vrnn-prepare
sequences on .npy / .npz / CSV (and binary data with the Bernoulli models), each followed by
vrnn-train (2 updates of a tiny model), vrnn-sample and vrnn-eval. All inputs are written here."""
import importlib.util
import json
import wave

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from user_corpora import write_csv, write_npy, write_timit

from nips2015_vrnn.models.app import cli

#: Compiles and trains several models: part of the full suite, not of the quick subset.
pytestmark = pytest.mark.slow

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
TINY = ["rnn_dim=8", "x2s_dim=4", "z2s_dim=4", "q_z_dim=4", "p_z_dim=4", "p_x_dim=4", "z_dim=2", "k=2",
        "depth=1", "monitoring_freq=1", "batch_size=4", "m_batch_size=4"]
TINY_ARGS = [arg for item in TINY for arg in ("--set", item)]


def invoke(command, args):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


def train_sample_eval(tmp_path, corpus, data, model="vrnn-gmm"):
    """Train 2 updates, sample 2 sequences, evaluate; returns (run folder, sample output, eval json)."""
    run = tmp_path / "run"
    result = invoke(cli.train, [corpus, "--data", data, "--out", run, "--model", model, *TINY_ARGS,
                                "--max-updates", 2])
    assert result.exit_code == 0, result.output
    result = invoke(cli.sample, [run, "--n", 2, "--steps", 5])
    assert result.exit_code == 0, result.output
    sampled = result.output
    result = invoke(cli.evaluate, [run, "--samples", 2])
    assert result.exit_code == 0, result.output
    assert "per_sequence" in result.output
    evaluation = json.loads((run / "eval_test_best.json").read_text())
    per = evaluation["per_sequence"]
    assert len(per["lower_bound"]) == len(per["loglik_is"]) == evaluation["n_sequences"]
    assert np.mean(per["lower_bound"]) == pytest.approx(evaluation["lower_bound"])
    assert np.all(np.isfinite(per["loglik_is"]))
    return run, sampled, evaluation


def test_blizzard_from_mp3_flac_ogg_and_sphere_files(tmp_path):
    src = tmp_path / "audio"
    src.mkdir()
    rng = np.random.default_rng(0)
    formats = [("FLAC", "PCM_16", "a.flac"), ("OGG", "VORBIS", "b.ogg"), ("NIST", "PCM_16", "c.sph"),
               ("WAV", "FLOAT", "d.wav")]
    if "MP3" in sf.available_formats():
        formats.append(("MP3", "MPEG_LAYER_III", "e.mp3"))
    for fmt, subtype, name in formats:
        sf.write(str(src / name), 0.2 * rng.standard_normal((22050, 2)), 22050, format=fmt, subtype=subtype)
    out = tmp_path / "blizzard.h5"
    result = invoke(cli.prepare, ["blizzard", src, out, "--seq-len", 800, "--batch-size", 4])
    assert result.exit_code == 0, result.output
    assert f"files: {len(formats)}" in result.output
    run, _, evaluation = train_sample_eval(tmp_path, "blizzard", out)
    assert sorted(p.suffix for p in (run / "samples" / "best-seed0").glob("*.wav")) == [".wav", ".wav"]
    assert evaluation["n_sequences"] > 0


def test_timit_from_an_ldc_layout_folder(tmp_path):
    write_timit(tmp_path / "TIMIT", n_train=6, n_test=2)
    out = tmp_path / "data"
    result = invoke(cli.prepare, ["timit", tmp_path / "TIMIT", out, "--valid-frac", 0.34, "--chunk-frames", 4])
    assert result.exit_code == 0, result.output
    assert "'test': 8" in result.output  # 2 test speakers x 4 utterances
    run, _, evaluation = train_sample_eval(tmp_path, "timit", out)
    assert evaluation["n_sequences"] == 8  # whole test utterances
    with wave.open(str(run / "samples" / "best-seed0" / "sample_00.wav")) as w:
        assert w.getframerate() == 16000 and w.getnframes() == 5 * 200
    assert json.loads((run / "config.json").read_text())["model"]["data"] == "utterances"


@pytest.mark.parametrize("kind", ["npy", "npz", "csv"])
def test_own_sequences_of_every_source_kind(tmp_path, kind):
    rng = np.random.default_rng(1)
    seqs = [np.cumsum(rng.normal(size=(int(rng.integers(3, 9)), 2)), axis=0) for _ in range(16)]
    src = {"npy": lambda: write_npy(tmp_path / "src", seqs), "csv": lambda: write_csv(tmp_path / "src", seqs),
           "npz": lambda: (np.savez(tmp_path / "s.npz", *seqs), tmp_path / "s.npz")[1]}[kind]()
    out = tmp_path / "seq.h5"
    result = invoke(cli.prepare, ["sequences", src, out, "--valid-frac", 0.25, "--test-frac", 0.25])
    assert result.exit_code == 0, result.output
    run, sampled, evaluation = train_sample_eval(tmp_path, "sequences", out, model="vrnn-gauss")
    samples = np.load(run / "samples" / "best-seed0" / "samples.npy")
    assert samples.shape == (2, 5, 2)
    assert evaluation["n_sequences"] == 4
    if HAVE_MATPLOTLIB:
        assert (run / "samples" / "best-seed0" / "sample_01.png").is_file()


@pytest.mark.parametrize("model", ["vrnn-bernoulli", "rnn-bernoulli"])
def test_binary_sequences_with_the_bernoulli_models(tmp_path, model):
    rng = np.random.default_rng(2)
    seqs = [(rng.random((int(rng.integers(3, 8)), 6)) < 0.3).astype(np.uint8) for _ in range(12)]
    out = tmp_path / "bin.h5"
    result = invoke(cli.prepare, ["sequences", write_npy(tmp_path / "src", seqs), out])
    assert result.exit_code == 0, result.output
    assert "binary: True" in result.output and "normalised: False" in result.output
    run, _, evaluation = train_sample_eval(tmp_path, "sequences", out, model=model)
    samples = np.load(run / "samples" / "best-seed0" / "samples.npy")
    assert samples.shape == (2, 5, 6) and set(np.unique(samples)) <= {0.0, 1.0}
    assert all(v < 0 for v in evaluation["per_sequence"]["lower_bound"])


def test_bad_sequences_are_a_one_line_error_naming_the_file(tmp_path):
    src = tmp_path / "src"
    write_npy(src, [np.zeros((3, 2)), np.zeros((4, 3))])
    result = invoke(cli.prepare, ["sequences", src, tmp_path / "o.h5"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "s001.npy" in errors[0]


def test_a_bernoulli_model_on_speech_is_a_one_line_error(tmp_path):
    write_timit(tmp_path / "TIMIT", n_train=3, n_test=1)
    invoke(cli.prepare, ["timit", tmp_path / "TIMIT", tmp_path / "t.h5", "--valid-frac", 0.34])
    result = invoke(cli.train, ["timit", "--data", tmp_path / "t.h5", "--out", tmp_path / "r",
                                "--model", "vrnn-bernoulli"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "not available for timit" in result.output


@pytest.mark.parametrize("sub", ["timit", "sequences"])
def test_the_new_prepare_subcommands_have_help_with_an_example(sub):
    result = invoke(cli.prepare, [sub, "--help"])
    assert result.exit_code == 0 and "Example" in result.output
