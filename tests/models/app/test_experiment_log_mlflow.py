"""``--log-to mlflow``: the logged metrics and parameters read back with MLflow's own client."""
import json

import pytest

from nips2015_vrnn.models.app import experiment_log

mlflow_tracking = pytest.importorskip("mlflow.tracking")


def _history(client, run_id, key):
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def test_mlflow_log_holds_the_records_the_updates_and_the_config_and_goes_on_after_a_resume(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"corpus": "sequences", "mode": "jax",
                                                     "model": {"rnn_dim": 256, "z_dim": 16}}))
    [log] = experiment_log.open_loggers(run_dir, ["mlflow"])
    log.monitor({"batch_seen": 0, "epoch_seen": 0, "valid_nll_upper_bound": 6321.5, "valid_kl_term": 0.25})
    log.update(1, {"nll_upper_bound": 5736.0, "kl_term": 0.5})
    log.update(2, {"nll_upper_bound": 5000.0, "kl_term": 0.75})
    log.monitor({"batch_seen": 2, "epoch_seen": 1, "valid_nll_upper_bound": 4000.25, "valid_kl_term": 1.5})
    log.close()
    # a resumed run: the same MLflow run, found through RUN_DIR/mlflow_run_id
    [again] = experiment_log.open_loggers(run_dir, ["mlflow"])
    again.update(3, {"nll_upper_bound": 3000.0, "kl_term": 1.0})
    again.close()

    client = mlflow_tracking.MlflowClient(tracking_uri=f"sqlite:///{run_dir.resolve() / 'mlflow.db'}")
    run_id = (run_dir / experiment_log.MLFLOW_RUN_ID).read_text().strip()
    assert again.run_id == run_id
    assert _history(client, run_id, "valid_nll_upper_bound") == [(0, 6321.5), (2, 4000.25)]
    assert _history(client, run_id, "valid_kl_term") == [(0, 0.25), (2, 1.5)]
    assert _history(client, run_id, "update/nll_upper_bound") == [(1, 5736.0), (2, 5000.0), (3, 3000.0)]
    run = client.get_run(run_id)
    assert run.data.params["rnn_dim"] == "256" and run.data.params["corpus"] == "sequences"
    assert "epoch_seen" not in run.data.metrics
    assert run.info.run_name == "run" and run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == experiment_log.MLFLOW_EXPERIMENT
