"""TrainLog serialisation, the JSON-lines writer and the quiet progress display."""
import io
import json
import math

from cle.train import TrainLog
from cle.train.log import JsonLinesWriter, Progress


def test_an_empty_train_log_round_trips():
    empty = TrainLog()
    restored = TrainLog.from_saved(empty.to_arrays(), empty.to_json())
    assert restored.batches == [] and restored.batch_seen == 0


def test_a_train_log_round_trips_exactly():
    trainlog = TrainLog()
    trainlog.batches = [[0.1 + 0.2, 1 / 3], [math.pi, 2.0]]
    trainlog.times, trainlog.batch_seen, trainlog.epoch_seen = [0.5, 0.25], 2, 1
    trainlog.monitor = [{"batch_seen": 2, "valid_nll": 1 / 7}]
    restored = TrainLog.from_saved(trainlog.to_arrays(), json.loads(json.dumps(trainlog.to_json())))
    assert restored.batches == trainlog.batches and restored.channels["valid_nll"] == [1 / 7]


def test_json_lines_are_strict_json_even_for_nan(tmp_path):
    writer = JsonLinesWriter(tmp_path / "log.jsonl")
    writer.write("monitor", batch_seen=3, cost=float("nan"))
    writer.write("monitor", batch_seen=4, cost=1.5)
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["cost"] for r in lines] == ["nan", 1.5]


def test_progress_is_silent_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream=stream)
    progress.update(0, 1, 5, {"cost": 1.0})
    progress.close()
    assert stream.getvalue() == ""
