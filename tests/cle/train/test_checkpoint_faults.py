"""Checkpoint faults made as they happen: a SIGKILL between the two renames of a write, a full
disk, and hand-edited manifests (wrong shapes, paths outside the checkpoint)."""
import errno
import hashlib
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from cle.train import checkpoint as ckpt
from cle.train.checkpoint import (
    CheckpointError,
    CheckpointWriteError,
    find_checkpoint,
    read_checkpoint,
    write_checkpoint,
)


def payload(value):
    return {"params": {"W": np.full((3, 2), value)}}, {"loop": {"value": value}}


#: Writes checkpoint 1, then checkpoint 2 with a SIGKILL at its second rename (.tmp -> last):
#: the moment strace's ``inject=rename:signal=KILL`` hits in the issue.
KILLED_BETWEEN_RENAMES = """
import os, signal, sys
import numpy as np
from cle.train import checkpoint as ckpt
ckpt.write_checkpoint(sys.argv[1], {"params": {"W": np.full((3, 2), 1.0)}}, {"loop": {"value": 1}})
real, calls = os.rename, []
def rename(src, dst):
    calls.append(dst)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
ckpt.os.rename = rename
ckpt.write_checkpoint(sys.argv[1], {"params": {"W": np.full((3, 2), 2.0)}}, {"loop": {"value": 2}})
"""


@pytest.fixture
def killed_between_renames(tmp_path):
    target = tmp_path / "checkpoints" / "last"
    done = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_RENAMES, str(target)])
    assert done.returncode == -signal.SIGKILL
    names = sorted(p.name for p in target.parent.iterdir())
    assert "last" not in names and ".last.old" in names
    assert any(name.startswith(".last.tmp-") for name in names)
    return target


def test_a_kill_between_the_renames_keeps_the_newer_complete_checkpoint(killed_between_renames):
    found = find_checkpoint(killed_between_renames)
    assert found.name.startswith(".last.tmp-")
    directory, arrays, documents = read_checkpoint(killed_between_renames.parent)
    assert directory == found and documents["loop"] == {"value": 2}


def test_the_next_write_after_such_a_kill_puts_last_back_first(killed_between_renames):
    write_checkpoint(killed_between_renames, *payload(3.0))
    names = sorted(p.name for p in killed_between_renames.parent.iterdir())
    assert names == ["last"]
    assert read_checkpoint(killed_between_renames)[2]["loop"] == {"value": 3.0}


def test_an_incomplete_temporary_is_not_taken_for_a_checkpoint(tmp_path):
    write_checkpoint(tmp_path / "last", *payload(1.0))
    os.rename(tmp_path / "last", tmp_path / ".last.old")
    partial = tmp_path / ".last.tmp-x"
    partial.mkdir()
    (partial / "params.npz").write_bytes(b"half")  # killed before its manifest was written
    assert find_checkpoint(tmp_path / "last") == tmp_path / ".last.old"


def test_a_full_disk_during_a_write_is_one_line_naming_the_file_and_keeps_the_previous(tmp_path, monkeypatch):
    write_checkpoint(tmp_path / "last", *payload(1.0))
    real = ckpt._write_bytes

    def full(path, data):
        if path.name == "loop.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(ckpt, "_write_bytes", full)
    with pytest.raises(CheckpointWriteError) as caught:
        write_checkpoint(tmp_path / "last", *payload(2.0))
    message = str(caught.value)
    assert "\n" not in message and "loop.json" in message and "No space left on device" in message
    monkeypatch.undo()
    assert read_checkpoint(tmp_path)[2]["loop"] == {"value": 1.0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def restamp(directory, edit_manifest=None):
    """Recompute the manifest's checksums after an edit (as a careful hand-editor would)."""
    manifest = json.loads((directory / "manifest.json").read_text())
    for name in manifest["files"]:
        data = (directory / name).read_bytes()
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    if edit_manifest:
        edit_manifest(manifest)
    (directory / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("edit, expected", [
    (lambda m: m.update(files=list(m["files"])), "lacks the 'files' and 'arrays' tables"),
    (lambda m: m.pop("arrays"), "lacks the 'files' and 'arrays' tables"),
    (lambda m: m["files"]["loop.json"].pop("bytes"), "entry of loop.json"),
    (lambda m: m["files"]["loop.json"].update(bytes="12"), "entry of loop.json"),
    (lambda m: m["arrays"]["params.npz"]["W"].update(shape="3x2"), "array params.npz[W]"),
    (lambda m: m["files"].update({"/etc/hostname": m["files"]["loop.json"]}), "'/etc/hostname'"),
    (lambda m: m["files"].update({"../x.json": m["files"]["loop.json"]}), "'../x.json'"),
    (lambda m: m["files"].update({"run.py": m["files"]["loop.json"]}), "'run.py'"),
])
def test_a_hand_edited_manifest_is_refused_naming_it(tmp_path, edit, expected):
    target = write_checkpoint(tmp_path / "last", *payload(1.0))
    restamp(target, edit)
    with pytest.raises(CheckpointError, match="manifest.json") as caught:
        read_checkpoint(target)
    assert expected in str(caught.value)


def test_a_manifest_path_outside_the_checkpoint_is_never_opened(tmp_path, monkeypatch):
    outside = tmp_path / "secret.json"
    outside.write_text("{}")
    target = write_checkpoint(tmp_path / "last", *payload(1.0))
    restamp(target, lambda m: m["files"].update({f"{outside}": {"sha256": "0" * 64, "bytes": 2}}))
    opened = []
    real = type(outside).read_bytes
    monkeypatch.setattr(type(outside), "read_bytes", lambda self: opened.append(self) or real(self))
    with pytest.raises(CheckpointError):
        read_checkpoint(target)
    assert outside not in opened


def test_a_json_file_that_is_not_utf8_is_refused_naming_it(tmp_path):
    target = write_checkpoint(tmp_path / "last", *payload(1.0))
    (target / "loop.json").write_bytes(b'{"value": "\xff"}')
    restamp(target)
    with pytest.raises(CheckpointError, match="loop.json is not UTF-8 JSON"):
        read_checkpoint(target)
