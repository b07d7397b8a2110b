"""Reading a run's JSON-lines log (``log.jsonl``, written by :class:`cle.train.Training`).

Each line is one event: ``start``, ``resume``, ``checkpoint``, ``interrupted``, ``end`` mark the
course of a run (:data:`TRAIN_EVENTS`); ``monitor`` lines hold one monitoring step (every channel).

Example
-------
>>> monitor_records([{'event': 'start'}, {'event': 'monitor', 'time': 1, 'batch_seen': 0, 'a': 1.0}])
[{'batch_seen': 0, 'a': 1.0}]
"""
import json
import logging

from cle.train.training import LOG_FILE

log = logging.getLogger(__name__)

__all__ = ["LOG_FILE", "TRAIN_EVENTS", "read_log", "monitor_records", "finished"]

#: Events of the JSON-lines log that mark the course of a run (besides "monitor").
TRAIN_EVENTS = ("start", "resume", "checkpoint", "interrupted", "failed", "end")
#: Keys of a log line that are bookkeeping, not channels.
EVENT_KEYS = ("event", "time")


def read_log(path):
    """The JSON objects of a JSON-lines log, in order.

    A line that is not a UTF-8 JSON object (a partly written line of a killed process, or a
    damaged one) is skipped with a warning naming the file and line.
    """
    records = []
    with open(path, "rb") as handle:
        lines = handle.read().split(b"\n")
    for number, raw in enumerate(lines, start=1):
        raw = raw.strip()
        if not raw:
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError is a ValueError
            record = None
        if not isinstance(record, dict):
            if number < len(lines):  # not the unfinished last line of a running trainer
                log.warning("%s, line %d: not a UTF-8 JSON object; skipped", path, number)
            continue
        records.append(record)
    return records


def monitor_records(records):
    """The monitoring records of a log (event 'monitor'), without the event bookkeeping keys."""
    return [{k: v for k, v in record.items() if k not in EVENT_KEYS}
            for record in records if record.get("event", "monitor") == "monitor"]


def finished(records):
    """True when the last course event of the log says the training has stopped."""
    course = [r["event"] for r in records if r.get("event") in TRAIN_EVENTS and r["event"] != "checkpoint"]
    return bool(course) and course[-1] in ("end", "interrupted", "failed")
