"""A run logged to an experiment tracker as well as to ``log.jsonl``: TensorBoard event files or MLflow.

``vrnn-train --log-to tensorboard`` writes ``RUN_DIR/tensorboard/events.out.tfevents.*`` through
tensorboardX (the ``tensorboard`` extra: it needs neither TensorFlow nor PyTorch): every monitored
channel of each monitoring record under its own name at step ``batch_seen`` (``valid_nll_upper_bound``,
``nll_upper_bound`` (the training means), ``opt_lr`` ...), and the training cost's channels of every
update under ``update/<channel>``. A resumed run writes a new event file into the same folder;
TensorBoard shows them as one run (``tensorboard --logdir RUN_DIR/tensorboard``).

:func:`read_scalars` reads the scalars back (no TensorBoard needed).

``vrnn-train --log-to mlflow`` (the ``mlflow`` extra) logs the same numbers as MLflow metrics
(monitored channels at step ``batch_seen``, ``update/<channel>`` per update, sent in one batch per
monitoring step and at the end) and the run's configuration as parameters, to the tracking server
of ``MLFLOW_TRACKING_URI`` when it is set, else to ``sqlite:///RUN_DIR/mlflow.db``
(``mlflow ui --backend-store-uri sqlite:///RUN_DIR/mlflow.db``), in the experiment ``vrnn``, as an
MLflow run named after the run directory. Its MLflow run id is kept in ``RUN_DIR/mlflow_run_id``,
so a resumed run goes on logging into the same MLflow run.
"""
import os
import struct
from pathlib import Path

from cle.errors import UserError

__all__ = ["LOG_TARGETS", "TENSORBOARD_DIR", "MLFLOW_EXPERIMENT", "MLFLOW_RUN_ID", "open_loggers",
           "TensorBoardLog", "MlflowLog", "mlflow_tracking_uri", "read_scalars"]

#: The trackers ``--log-to`` knows.
LOG_TARGETS = ("tensorboard", "mlflow")
#: The folder of a run's TensorBoard event files.
TENSORBOARD_DIR = "tensorboard"
#: The MLflow experiment that runs are logged in.
MLFLOW_EXPERIMENT = "vrnn"
#: The file of a run directory holding its MLflow run id.
MLFLOW_RUN_ID = "mlflow_run_id"
#: Record fields that are the record's position, not channels.
_POSITION = ("batch_seen", "epoch_seen")


def open_loggers(run_dir, targets):
    """One logger per name of ``targets`` (of :data:`LOG_TARGETS`) for the run in ``run_dir``."""
    loggers = []
    for target in targets:
        if target not in LOG_TARGETS:
            raise UserError(f"--log-to {target!r}: expected one of {', '.join(LOG_TARGETS)}")
        if target == "mlflow":
            loggers.append(MlflowLog(run_dir))
        else:
            loggers.append(TensorBoardLog(Path(run_dir) / TENSORBOARD_DIR))
    return loggers


def _numeric(record):
    """The channels of a monitoring record: its numeric fields but the position."""
    return {name: float(value) for name, value in record.items()
            if name not in _POSITION and isinstance(value, (int, float)) and not isinstance(value, bool)}


class TensorBoardLog:
    """Scalars of a run into a TensorBoard event file in ``folder``.

    Parameters
    ----------
    folder : str or Path
    """

    def __init__(self, folder):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise UserError("--log-to tensorboard needs tensorboardX: pip install -e \".[tensorboard]\" "
                            "(or pip install tensorboardX)") from None
        self.folder = Path(folder)
        self.writer = SummaryWriter(logdir=str(self.folder))

    def monitor(self, record):
        """Every numeric channel of a monitoring record, at step ``batch_seen``."""
        step = int(record["batch_seen"])
        for name, value in _numeric(record).items():
            self.writer.add_scalar(name, value, step)
        self.writer.flush()

    def update(self, step, values):
        """The training function's outputs of update ``step`` (name -> value)."""
        for name, value in values.items():
            self.writer.add_scalar(f"update/{name}", float(value), int(step))

    def close(self):
        self.writer.close()


def mlflow_tracking_uri(run_dir):
    """Where ``--log-to mlflow`` logs: ``$MLFLOW_TRACKING_URI``, else ``RUN_DIR/mlflow.db`` (SQLite)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(run_dir).resolve() / 'mlflow.db'}"


class MlflowLog:
    """Metrics and parameters of a run in MLflow (module docstring), through ``MlflowClient``.

    Parameters
    ----------
    run_dir : str or Path
        The run directory: its ``config.json`` fields become parameters of a new MLflow run; its
        ``mlflow_run_id`` names the MLflow run to go on with.
    """

    def __init__(self, run_dir):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise UserError("--log-to mlflow needs MLflow: pip install -e \".[mlflow]\" "
                            "(or pip install mlflow)") from None
        self.run_dir = Path(run_dir)
        self.client = MlflowClient(tracking_uri=mlflow_tracking_uri(run_dir))
        self.pending = []
        id_file = self.run_dir / MLFLOW_RUN_ID
        if id_file.is_file():
            self.run_id = id_file.read_text().strip()
            self.client.update_run(self.run_id, status="RUNNING")
            return
        experiment = self.client.get_experiment_by_name(MLFLOW_EXPERIMENT)
        experiment_id = (experiment.experiment_id if experiment is not None
                         else self.client.create_experiment(MLFLOW_EXPERIMENT))
        self.run_id = self.client.create_run(experiment_id, run_name=self.run_dir.name).info.run_id
        partial = id_file.with_name(id_file.name + ".partial")
        partial.write_text(self.run_id + "\n")
        os.replace(partial, id_file)
        self._log_params()

    def _log_params(self):
        import json

        from mlflow.entities import Param

        config_file = self.run_dir / "config.json"
        if not config_file.is_file():
            return
        record = json.loads(config_file.read_text())
        fields = {**{k: v for k, v in record.items() if not isinstance(v, (dict, list))},
                  **record.get("model", {})}  # the model's keys, then the run's (corpus, mode ...)
        params = [Param(str(key), str(value)[:500]) for key, value in sorted(fields.items())]
        for at in range(0, len(params), 100):  # MLflow's limit of parameters per batch
            self.client.log_batch(self.run_id, params=params[at:at + 100])

    def _metric(self, name, value, step):
        import time

        from mlflow.entities import Metric

        self.pending.append(Metric(name, value, int(time.time() * 1000), int(step)))

    def flush(self):
        """Send the metrics held so far (MLflow takes at most 1000 per batch)."""
        for at in range(0, len(self.pending), 1000):
            self.client.log_batch(self.run_id, metrics=self.pending[at:at + 1000])
        self.pending = []

    def monitor(self, record):
        """Every numeric channel of a monitoring record, at step ``batch_seen``; then a flush."""
        step = int(record["batch_seen"])
        for name, value in _numeric(record).items():
            self._metric(name, value, step)
        self.flush()

    def update(self, step, values):
        """The training function's outputs of update ``step`` (held until the next flush)."""
        for name, value in values.items():
            self._metric(f"update/{name}", float(value), step)

    def close(self):
        self.flush()
        self.client.set_terminated(self.run_id)


def read_scalars(folder):
    """The scalars of every event file in ``folder``: {tag: [(step, value), ...]} in file order."""
    from tensorboardX.proto import event_pb2

    scalars = {}
    for path in sorted(Path(folder).glob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            record = data[at + 12:at + 12 + length]  # after the length and its CRC
            at += 12 + length + 4                      # the record and its CRC
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((int(event.step), float(value.simple_value)))
    return scalars
