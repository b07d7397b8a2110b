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

__all__ = ["LOG_FILE", "TRAIN_EVENTS", "read_log", "monitor_records", "finished", "last_kl_terms", "format_kl"]

#: Events of the JSON-lines log that mark the course of a run (besides "monitor").
TRAIN_EVENTS = ("start", "resume", "checkpoint", "interrupted", "failed", "end")
#: A KL term per frame below this (nats) says the latent variable is as good as unused (posterior
#: collapse): z carries less than a hundredth of a nat per frame.
UNUSED_KL = 0.01
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


def last_kl_terms(records, cost_norm="frame_mean"):
    """The KL term of the last monitoring step that has one: how much the latent is used.

    Parameters
    ----------
    records : list of dict, the log's events (:func:`read_log`)
    cost_norm : {'frame_mean', 'sequence_sum'}
        The run's cost normalisation: its cost channels are per frame or per sequence.

    Returns
    -------
    dict ``{'train': float or None, 'valid': float or None, 'per': 'frame' | 'sequence',
    'batch_seen': int}`` (nats), or None when no monitoring step has a KL term (an RNN)

    >>> last_kl_terms([{'event': 'monitor', 'batch_seen': 3, 'kl_term': 0.5, 'valid_kl_term': 0.25}])
    {'train': 0.5, 'valid': 0.25, 'per': 'frame', 'batch_seen': 3}
    """
    for row in reversed(monitor_records(records)):
        if "kl_term" in row or "valid_kl_term" in row:
            return {"train": row.get("kl_term"), "valid": row.get("valid_kl_term"),
                    "per": "frame" if cost_norm == "frame_mean" else "sequence",
                    "batch_seen": row.get("batch_seen")}
    return None


def format_kl(kl):
    """One line of :func:`last_kl_terms`' result.

    >>> format_kl({'train': 0.00054355, 'valid': 0.00064406, 'per': 'frame', 'batch_seen': 312})
    'KL term per frame at update 312: train 0.000544, valid 0.000644 nats (near 0: z is unused)'
    """
    values = [f"{name} {kl[name]:.3g}" for name in ("train", "valid") if kl.get(name) is not None]
    top = max((kl[name] for name in ("train", "valid") if kl.get(name) is not None), default=0.0)
    note = " (near 0: z is unused)" if kl["per"] == "frame" and top < UNUSED_KL else ""
    return f"KL term per {kl['per']} at update {kl['batch_seen']}: {', '.join(values)} nats{note}"
