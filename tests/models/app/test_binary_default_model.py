"""A new run on binary sequences without --model gets the Bernoulli VRNN (found running issue 28's
protocol: the default VRNN-GMM put Gaussian densities on {0, 1} piano-roll frames)."""
import numpy as np
import pytest
from cli_helpers import invoke
from user_corpora import write_npy

from nips2015_vrnn.datasets import lookup
from nips2015_vrnn.datasets.sequences import prepare_sequences
from nips2015_vrnn.models.app import trainer
from nips2015_vrnn.models.app.cli import command


def prepared(tmp_path, binary, normalise="auto"):
    rng = np.random.default_rng(0)
    seqs = [rng.random((n, 4)) for n in (5, 9, 12, 20, 7)]
    if binary:
        seqs = [(s < 0.3).astype(np.uint8) for s in seqs]
    out = tmp_path / f"{binary}-{normalise}.h5"
    prepare_sequences(write_npy(tmp_path / f"src-{binary}-{normalise}", seqs), out, normalise=normalise)
    return out


def test_the_default_model_of_binary_frames_kept_as_0_1_is_the_bernoulli_vrnn(tmp_path):
    assert lookup.default_model("sequences", prepared(tmp_path, True)) == "vrnn-bernoulli"
    assert lookup.default_model("sequences", prepared(tmp_path, False)) is None
    assert lookup.default_model("sequences", prepared(tmp_path, True, normalise="yes")) is None


class Stop(Exception):
    pass


@pytest.mark.parametrize("args, output", [((), "bernoulli"), (("--model", "vrnn-gauss"), "gauss")])
def test_vrnn_train_without_model_on_binary_sequences_trains_the_bernoulli_vrnn(tmp_path, monkeypatch,
                                                                               args, output):
    seen = {}

    def stop(run, *rest, **options):  # the run as created, before anything is compiled
        seen["config"] = run.config
        raise Stop

    monkeypatch.setattr(trainer, "train_run", stop)
    with pytest.raises(Stop):
        invoke(command("train"), ["sequences", "--data", prepared(tmp_path, True), "--out", tmp_path / "run",
               "--mode", "c", *args])
    assert (seen["config"].family, seen["config"].output) == ("vrnn", output)
