"""Where sampling and evaluation write, and the warning about an untrained checkpoint."""
import json
import types

import pytest

from nips2015_vrnn.models.app import outputs
from nips2015_vrnn.models.app.rundir import RunError


def fake_run(tmp_path, updates):
    checkpoint = tmp_path / "checkpoints" / "best"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainlog.json").write_text(json.dumps({"batch_seen": updates}))
    return types.SimpleNamespace(path=tmp_path, checkpoint_dir=lambda which: tmp_path / "checkpoints" / which)


def test_a_checkpoint_of_update_0_warns(tmp_path):
    warning = outputs.untrained_warning(fake_run(tmp_path, 0), "best")
    assert "update 0" in warning and "untrained" in warning


def test_a_trained_checkpoint_does_not_warn(tmp_path):
    assert outputs.untrained_warning(fake_run(tmp_path, 50), "best") is None


def test_claim_refuses_an_existing_file_and_replaces_it_when_forced(tmp_path):
    path = tmp_path / "eval_test_best.json"
    path.write_text("{}")
    with pytest.raises(RunError, match="--force"):
        outputs.claim(path)
    outputs.claim(path, force=True)
    assert not path.exists()


def test_claim_accepts_an_empty_folder(tmp_path):
    assert outputs.claim(tmp_path) == tmp_path
