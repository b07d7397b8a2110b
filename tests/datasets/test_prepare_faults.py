"""Prepared files under faults: a write failing for want of room (a real file-size limit in a
child process, and an injected ENOSPC), a preparation killed mid-way, attributes changed after
writing, a damaged data chunk, and bad IAM-OnDB values and split files."""
import errno
import os
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest
from corpus_fixtures import write_line_xml, write_wav

from nips2015_vrnn.datasets import blizzard as blizzard_module
from nips2015_vrnn.datasets.blizzard import Blizzard, normal_path, prepare_blizzard
from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.hdf5 import INTEGRITY, integrity_of
from nips2015_vrnn.datasets.iamondb import IAMOnDB, prepare_iamondb
from nips2015_vrnn.datasets.iamondb_files import read_split_file

SEQ, B, F = 400, 4, 100


@pytest.fixture
def speech(tmp_path):
    rng = np.random.default_rng(0)
    write_wav(tmp_path / "src" / "a.wav", 16000, (rng.normal(size=30 * B * SEQ) * 3000).astype(np.int16))
    return tmp_path / "src"


@pytest.fixture
def prepared(speech, tmp_path):
    return prepare_blizzard(speech, tmp_path / "out" / "bz.h5", seq_len=SEQ, batch_size=B)["path"]


#: ``vrnn-prepare blizzard`` with the output file limited to argv[1] bytes: writes beyond it
#: fail (EFBIG) the way they fail on a full disk (ENOSPC), inside HDF5.
LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
from nips2015_vrnn.models.app.cli import prepare
prepare(["blizzard", sys.argv[2], sys.argv[3], "--batch-size", "4", "--seq-len", "8000"])
"""


@pytest.mark.parametrize("limit", [30_000, 150_000, 600_000])
def test_a_write_failing_for_want_of_room_is_one_line_never_a_segfault(tmp_path, limit):
    rng = np.random.default_rng(1)
    write_wav(tmp_path / "src" / "a.wav", 16000, (rng.normal(size=16000 * 30) * 3000).astype(np.int16))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", LIMITED, str(limit), str(tmp_path / "src"),
                           str(out / "b.h5")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"{out / 'b.h5'}: cannot be written (File too large" in errors[0]
    assert list(out.iterdir()) == []


def test_an_injected_enospc_is_one_line_naming_the_file_and_leaves_nothing(speech, tmp_path, monkeypatch):
    def full(self):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(blizzard_module._StreamWriter, "_flush", full)
    out = tmp_path / "out" / "bz.h5"
    with pytest.raises(DataError) as caught:
        prepare_blizzard(speech, out, seq_len=SEQ, batch_size=B)
    assert str(caught.value).startswith(f"{out}: cannot be written (No space left on device")
    assert list(out.parent.iterdir()) == []


def test_the_h5_and_its_normal_npz_appear_together_or_not_at_all(speech, tmp_path, monkeypatch):
    out = tmp_path / "out" / "bz.h5"

    def full(handle, **arrays):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), handle.name)

    monkeypatch.setattr(blizzard_module.np, "savez", full)
    with pytest.raises(DataError, match="No space left on device"):
        prepare_blizzard(speech, out, seq_len=SEQ, batch_size=B)
    assert list(out.parent.iterdir()) == []
    monkeypatch.undo()
    info = prepare_blizzard(speech, out, seq_len=SEQ, batch_size=B)
    assert sorted(p.name for p in out.parent.iterdir()) == ["bz.h5", "bz_normal.npz"]
    assert float(np.load(normal_path(out))["X_std"]) == info["X_std"]


KILLED = """
import os, signal, sys
from nips2015_vrnn.datasets.blizzard import prepare_blizzard
def progress(done, total):
    if done > total // 2:
        os.kill(os.getpid(), signal.SIGKILL)
prepare_blizzard(sys.argv[1], sys.argv[2], seq_len=400, batch_size=4, progress=progress)
"""


def test_the_temporary_of_a_killed_preparation_is_removed_by_the_next(speech, tmp_path):
    out = tmp_path / "out" / "bz.h5"
    done = subprocess.run([sys.executable, "-c", KILLED, str(speech), str(out)], timeout=300)
    assert done.returncode == -signal.SIGKILL
    left = [p.name for p in out.parent.iterdir()]
    assert len(left) == 1 and left[0].startswith(".bz.h5.tmp-")
    prepare_blizzard(speech, out, seq_len=SEQ, batch_size=B)
    assert sorted(p.name for p in out.parent.iterdir()) == ["bz.h5", "bz_normal.npz"]


def test_a_flipped_bit_in_x_std_is_refused(prepared):
    with h5py.File(prepared, "r+") as f:
        bits = np.array(f.attrs["X_std"], dtype=np.float64).view(np.uint64) ^ np.uint64(1 << 52)
        f.attrs["X_std"] = bits.view(np.float64)        # doubles (or halves) it
    with pytest.raises(DataError, match="fails its integrity check"):
        Blizzard("train", prepared, frame_size=F)


def test_a_file_without_its_checksum_is_refused(prepared):
    with h5py.File(prepared, "r+") as f:
        del f.attrs[INTEGRITY]
    with pytest.raises(DataError, match="has no integrity checksum"):
        Blizzard("train", prepared, frame_size=F)


def restamp(path, edit):
    """Edit a prepared file and stamp a matching checksum (a crafted file)."""
    with h5py.File(path, "r+") as f:
        edit(f)
        f.attrs[INTEGRITY] = integrity_of(f)


@pytest.mark.parametrize("edit, expected", [
    (lambda f: f.attrs.__delitem__("seq_len"), "has no readable attribute 'seq_len'"),
    (lambda f: f.attrs.__delitem__("X_mean"), "has no readable attribute 'X_mean'"),
    (lambda f: f.attrs.__setitem__("train_rows", [0, 10 ** 6]), "train_rows (0, 1000000) is not a row range"),
    (lambda f: f.attrs.__setitem__("seq_len", "x"), "not integers"),
    (lambda f: f.attrs.__setitem__("X_std", np.nan), "X_std must be > 0"),
    (lambda f: (f.__delitem__("data"), f.create_dataset("data", data=np.zeros((120, 200), np.int16))),
     "dataset 'data' has shape (120, 200)"),
    (lambda f: f.__delitem__("data"), "has no dataset 'data'"),
])
def test_a_crafted_file_is_refused_on_open_naming_the_file(prepared, edit, expected):
    restamp(prepared, edit)
    with pytest.raises(DataError) as caught:
        Blizzard("train", prepared, frame_size=F)
    assert str(caught.value).startswith(str(prepared)) and expected in str(caught.value)


def damage_chunk(path, row):
    """Overwrite the stored (gzip) chunk of ``row`` with bytes that do not inflate."""
    with h5py.File(path, "r") as f:
        info = f["data"].id.get_chunk_info_by_coord((row, 0))
    with open(path, "r+b") as handle:
        handle.seek(info.byte_offset)
        handle.write(b"\xff" * info.size)


def test_a_damaged_chunk_is_a_data_error_naming_the_file_and_row(prepared):
    damage_chunk(prepared, 6)
    data = Blizzard("train", prepared, frame_size=F)
    data.slices(0, 4)                                   # other rows still read
    with pytest.raises(DataError) as caught:
        data.slices(4, 8)
    assert str(caught.value).startswith(f"{prepared}: row 6 of dataset /data")


# ------------------------------------------------------------------------------ IAM-OnDB
@pytest.mark.parametrize("value", ["nan", "1e309", "-inf"])
def test_a_non_finite_coordinate_skips_that_file_by_name(tiny_iamondb, tmp_path, value):
    bad = next((tiny_iamondb / "lineStrokes").rglob("a01-000u-02.xml"))
    bad.write_text(bad.read_text().replace('x="3"', f'x="{value}"', 1))
    info = prepare_iamondb(tiny_iamondb, tmp_path / "c.h5")
    assert np.all(np.isfinite(info["X_mean"])) and np.all(np.isfinite(info["X_std"]))
    assert any(str(bad) in message and "finite" in message for message in info["skipped"])
    assert info["lines"]["train"] == 2


def test_coordinates_whose_differences_overflow_skip_that_file(tiny_iamondb, tmp_path):
    bad = next((tiny_iamondb / "lineStrokes").rglob("a01-001w-01.xml"))
    write_line_xml(bad, [[(1e308, 0), (-1e308, 0)]])
    info = prepare_iamondb(tiny_iamondb, tmp_path / "c.h5")
    assert any(str(bad) in message for message in info["skipped"])
    assert np.all(np.isfinite(info["X_std"]))


def test_a_form_in_two_splits_is_refused_naming_both_split_files(tiny_iamondb, tmp_path):
    (tiny_iamondb / "testset_f.txt").write_text("c03-020z\na01-001w\n")
    with pytest.raises(DataError) as caught:
        prepare_iamondb(tiny_iamondb, tmp_path / "c.h5")
    message = str(caught.value)
    assert "testset_f.txt" in message and "trainset.txt" in message and "a01-001w" in message
    assert not (tmp_path / "c.h5").exists()


def test_a_split_file_that_is_not_utf8_is_refused_naming_the_line(tiny_iamondb):
    (tiny_iamondb / "trainset.txt").write_bytes(b"a01-000u\na01-\xff01w\n")
    with pytest.raises(DataError, match=r"trainset.txt: line 2: byte 0xff is not UTF-8"):
        read_split_file(tiny_iamondb / "trainset.txt")


def test_an_ascii_file_that_is_not_utf8_is_named_not_stored_as_replacement_chars(tiny_iamondb, tmp_path):
    ascii_file = next((tiny_iamondb / "ascii").rglob("a01-001w.txt"))
    ascii_file.write_bytes(ascii_file.read_bytes().replace(b"ok 9", b"ok \xe9"))
    info = prepare_iamondb(tiny_iamondb, tmp_path / "c.h5")
    assert any(str(ascii_file) in m and "not UTF-8" in m for m in info["skipped"])
    with IAMOnDB("train", tmp_path / "c.h5") as data:
        assert all("\ufffd" not in text for text in data.texts(0, data.num_examples()))
