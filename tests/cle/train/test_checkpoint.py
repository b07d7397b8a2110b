"""Checkpoint files: atomic replacement, survival of killed writers, refusal of damaged files."""
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from cle.train import checkpoint as ckpt
from cle.train.checkpoint import CheckpointError, read_checkpoint, resolve_checkpoint, write_checkpoint


def payload(value):
    arrays = {"params": {"W_x__h": np.full((3, 2), value), "b_h": np.arange(2.0)},
              "model_state": {"step_count": np.int64(value)}}
    return arrays, {"loop": {"value": value}}


def test_round_trip_keeps_names_shapes_dtypes_and_json(tmp_path):
    write_checkpoint(tmp_path / "last", *payload(1.0))
    directory, arrays, documents = read_checkpoint(tmp_path)
    assert directory == tmp_path / "last"
    np.testing.assert_array_equal(arrays["params"]["W_x__h"], np.full((3, 2), 1.0))
    assert arrays["model_state"]["step_count"].dtype == np.int64
    assert documents["loop"] == {"value": 1.0}


def test_a_writer_failing_mid_way_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    write_checkpoint(tmp_path / "last", *payload(1.0))
    calls = []
    real = ckpt._write_bytes

    def fail_on_second_file(path, data):
        calls.append(path)
        if len(calls) == 2:
            real(path, data[: len(data) // 2])     # a half-written file, then the "crash"
            raise OSError("disk full")
        real(path, data)

    monkeypatch.setattr(ckpt, "_write_bytes", fail_on_second_file)
    with pytest.raises(ckpt.CheckpointWriteError, match="disk full"):
        write_checkpoint(tmp_path / "last", *payload(2.0))
    _, arrays, _ = read_checkpoint(tmp_path)
    assert arrays["params"]["W_x__h"][0, 0] == 1.0


def test_a_writer_killed_between_the_renames_leaves_a_loadable_checkpoint(tmp_path, monkeypatch):
    write_checkpoint(tmp_path / "last", *payload(1.0))
    real_rename = ckpt.os.rename
    calls = []

    def die_after_first_rename(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        real_rename(src, dst)

    monkeypatch.setattr(ckpt.os, "rename", die_after_first_rename)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint(tmp_path / "last", *payload(2.0))
    monkeypatch.undo()
    assert not (tmp_path / "last").exists()
    directory, arrays, _ = read_checkpoint(tmp_path)
    assert directory.name == ".last.old" and arrays["params"]["W_x__h"][0, 0] == 1.0
    write_checkpoint(tmp_path / "last", *payload(3.0))       # the next write recovers
    assert read_checkpoint(tmp_path)[1]["params"]["W_x__h"][0, 0] == 3.0
    assert not (tmp_path / ".last.old").exists()


WRITER = """
import sys, numpy as np
from cle.train.checkpoint import write_checkpoint
i = 0
while True:
    i += 1
    write_checkpoint(sys.argv[1], {"params": {"W": np.full((400, 400), float(i))}}, {"loop": {"i": i}})
    print(i, flush=True)
"""


def test_a_process_killed_while_writing_leaves_a_loadable_checkpoint(tmp_path):
    target = tmp_path / "last"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "1"      # at least one checkpoint is complete
        time.sleep(0.3)                                   # then kill it, most likely mid-write
    finally:
        proc.kill()
        proc.wait()
    _, arrays, documents = read_checkpoint(tmp_path)
    assert np.all(arrays["params"]["W"] == documents["loop"]["i"])


def test_a_truncated_file_is_refused_naming_the_file(tmp_path):
    write_checkpoint(tmp_path / "last", *payload(1.0))
    path = tmp_path / "last" / "params.npz"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="params.npz.*truncated"):
        read_checkpoint(tmp_path)


def test_an_edited_file_fails_its_checksum(tmp_path):
    write_checkpoint(tmp_path / "last", *payload(1.0))
    path = tmp_path / "last" / "loop.json"
    path.write_text(path.read_text().replace("1.0", "2.0"))
    with pytest.raises(CheckpointError, match="loop.json.*sha256"):
        read_checkpoint(tmp_path)


def test_a_missing_file_is_named(tmp_path):
    write_checkpoint(tmp_path / "last", *payload(1.0))
    (tmp_path / "last" / "model_state.npz").unlink()
    with pytest.raises(CheckpointError, match="model_state.npz is missing"):
        read_checkpoint(tmp_path)


def test_an_unreadable_manifest_is_refused(tmp_path):
    write_checkpoint(tmp_path / "last", *payload(1.0))
    (tmp_path / "last" / "manifest.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="manifest.json"):
        read_checkpoint(tmp_path)


def test_loading_never_unpickles(tmp_path):
    """An object array, even with a consistent manifest, is refused rather than unpickled."""
    directory = tmp_path / "last"
    write_checkpoint(directory, *payload(1.0))
    np.savez(directory / "params.npz", W=np.array([{"a": 1}], dtype=object))
    manifest = json.loads((directory / "manifest.json").read_text())
    data = (directory / "params.npz").read_bytes()
    import hashlib
    manifest["files"]["params.npz"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    manifest["arrays"]["params.npz"] = {"W": {"shape": [1], "dtype": "|O"}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="params.npz"):
        read_checkpoint(tmp_path)


def test_object_arrays_cannot_be_written(tmp_path):
    with pytest.raises(CheckpointError, match="object"):
        write_checkpoint(tmp_path / "last", {"params": {"W": np.array([None])}}, {})


def test_no_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        resolve_checkpoint(tmp_path)



def test_a_checkpoint_rewritten_while_it_is_read_reads_whole_never_an_error(tmp_path):
    """A reader beside a writer replacing ``best`` again and again (as a trainer does) gets the
    old or the new checkpoint, each consistent (params and trainlog of one write), never an error."""
    import threading

    target = tmp_path / "best"

    def arrays(i):
        return {"params": {"W": np.full((64, 64), float(i))}}

    write_checkpoint(target, arrays(0), {"trainlog": {"batch_seen": 0}})
    stop, written = threading.Event(), []

    def writer():
        i = 0
        while not stop.is_set():
            i += 1
            write_checkpoint(target, arrays(i), {"trainlog": {"batch_seen": i}})
            written.append(i)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 3
        reads = 0
        while time.monotonic() < deadline or reads < 50:
            _, loaded, documents = read_checkpoint(target)
            assert loaded["params"]["W"][0, 0] == documents["trainlog"]["batch_seen"]
            reads += 1
    finally:
        stop.set()
        thread.join()
    assert len(written) > 10  # the writer really ran meanwhile
