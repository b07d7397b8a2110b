"""What a resume has left to do, decided from the checkpoint before anything compiles."""
import json
import types

import pytest

from nips2015_vrnn.models.app import resume
from nips2015_vrnn.models.app.rundir import RunError


def fake_run(max_updates=None, epochs=2):
    return types.SimpleNamespace(path="runs/x", record={"max_updates": max_updates},
                                 config=types.SimpleNamespace(epoch=epochs))


def at(monkeypatch, updates, epochs, mid_epoch):
    monkeypatch.setattr(resume, "_checkpoint_position", lambda run: (updates, epochs, mid_epoch, [0]))


def test_a_run_at_its_epoch_limit_says_how_to_extend_it(monkeypatch):
    at(monkeypatch, 52, 2, False)
    with pytest.raises(RunError, match=r"finished 2 epochs \(epoch=2\); give --epochs above 2"):
        resume.plan_resume(fake_run())


def test_a_run_mid_way_through_its_last_epoch_continues(monkeypatch):
    at(monkeypatch, 30, 1, True)
    run, limits = resume.plan_resume(fake_run(epochs=2))
    assert limits == resume.Limits(None, 2)


def test_a_run_at_max_updates_says_how_to_extend_it(monkeypatch):
    at(monkeypatch, 40, 1, True)
    with pytest.raises(RunError, match="max_updates=40; give --max-updates above 40"):
        resume.plan_resume(fake_run(max_updates=40))


def test_new_limits_are_written_to_config_json(monkeypatch, tmp_path):
    at(monkeypatch, 40, 2, False)
    (tmp_path / "config.json").write_text(json.dumps({"max_updates": 40, "model": {"epoch": 2}}))
    run = types.SimpleNamespace(path=tmp_path, record={"max_updates": 40, "model": {"epoch": 2}},
                                config=types.SimpleNamespace(epoch=2))
    monkeypatch.setattr(resume, "RunDir", lambda path: "reread")
    new_run, limits = resume.plan_resume(run, max_updates=100, epochs=4)
    assert new_run == "reread" and limits == resume.Limits(100, 4)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["max_updates"] == 100 and saved["model"]["epoch"] == 4


def test_a_resume_may_set_monitoring_keys_and_they_are_written_to_config_json(monkeypatch, tmp_path):
    from nips2015_vrnn.models.config import ModelConfig

    at(monkeypatch, 40, 1, True)
    model = {"epoch": 2, "m_batch_size": 32}
    (tmp_path / "config.json").write_text(json.dumps({"max_updates": None, "model": model}))
    run = types.SimpleNamespace(path=tmp_path, record={"max_updates": None, "model": model},
                                config=ModelConfig(epoch=2))
    monkeypatch.setattr(resume, "RunDir", lambda path: "reread")
    resume.plan_resume(run, overrides={"m_batch_size": 3, "monitoring_freq": 7})
    saved = json.loads((tmp_path / "config.json").read_text())["model"]
    assert saved["m_batch_size"] == 3 and saved["monitoring_freq"] == 7


def test_a_resume_refuses_keys_the_model_or_optimizer_depends_on(monkeypatch):
    at(monkeypatch, 40, 1, True)
    with pytest.raises(RunError, match="cannot change lr, rnn_dim"):
        resume.plan_resume(fake_run(), overrides={"lr": 0.1, "rnn_dim": 3})


def test_a_run_without_an_epoch_limit_resumes_to_its_max_updates(monkeypatch):
    at(monkeypatch, 40, 9, False)
    run, limits = resume.plan_resume(fake_run(max_updates=100, epochs=0))
    assert limits == resume.Limits(100, 0) and limits.describe() == "max_updates=100, no epoch limit"
