import logging
import time

import h5py
import numpy as np
import pytest
from corpus_fixtures import TINY_FORMS, write_line_xml

from nips2015_vrnn.datasets import iamondb as iam
from nips2015_vrnn.datasets.alphabet import encode
from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.iamondb import IAMOnDB, offsets_to_strokes, prepare_iamondb


def _steps(strokes):
    """Independent [pen, dx, dy] of one line given in image coordinates."""
    pts = np.array([p for s in strokes for p in s], dtype=float) * [1, -1]
    pen = np.zeros(len(pts))
    pen[np.cumsum([len(s) for s in strokes]) - 1] = 1
    return np.column_stack([pen[1:], np.diff(pts, axis=0)])


TRAIN_LINES = TINY_FORMS["a01-000u"] + TINY_FORMS["a01-001w"]


@pytest.fixture
def cache(tiny_iamondb, tmp_path):
    return prepare_iamondb(tiny_iamondb, tmp_path / "iam.h5")


def test_splits_hold_the_listed_forms_lines(cache):
    assert cache["lines"] == {"train": 3, "valid": 1, "test": 1}
    assert IAMOnDB("train", cache["path"]).texts(0, 3) == ["Hi there", "bye", "ok 9"]


def test_normalisation_uses_training_offsets(cache):
    steps = np.concatenate([_steps(s) for _, s in TRAIN_LINES])
    np.testing.assert_allclose(cache["X_mean"], [0, *steps[:, 1:].mean(0)], rtol=1e-12)
    np.testing.assert_allclose(cache["X_std"], [1, *steps[:, 1:].std(0)], rtol=1e-12)


def test_slices_pad_and_mask_normalised_steps(cache):
    d = IAMOnDB("train", cache["path"])
    x, mask = d.slices(0, 3)
    expected = [(_steps(s) - cache["X_mean"]) / cache["X_std"] for _, s in TRAIN_LINES]
    assert x.shape == (6, 3, 3) and mask.shape == (6, 3)  # longest line: 7 points
    assert x.dtype == mask.dtype == np.float32
    for b, e in enumerate(expected):
        np.testing.assert_allclose(x[:len(e), b], e, rtol=1e-6, atol=1e-6)
        assert np.all(x[len(e):, b] == 0)
        assert mask[:, b].tolist() == [1.0] * len(e) + [0.0] * (6 - len(e))


def test_pen_bit_is_not_normalised(cache):
    x, mask = IAMOnDB("train", cache["path"]).slices(0, 1)
    assert x[:, 0, 0].tolist() == [0, 1, 0, 1]


def test_prep_none_gives_raw_offsets(cache):
    x, _ = IAMOnDB("valid", cache["path"], prep="none", dtype="float64").slices(0, 1)
    np.testing.assert_array_equal(x[:, 0], _steps(TINY_FORMS["b02-010x"][0][1]))


def test_labels_use_the_alphabet(cache):
    d = IAMOnDB("train", cache["path"])
    assert [c.tolist() for c in d.labels(1, 3)] == [encode("bye").tolist(), encode("ok 9").tolist()]


def test_strokes_come_back_from_offsets(cache):
    d = IAMOnDB("train", cache["path"])
    x, mask = d.slices(0, 3)
    strokes = d.to_strokes(x, mask)[2]
    original = TINY_FORMS["a01-001w"][0][1]
    first = np.array(original[0][0], dtype=float) * [1, -1]
    assert len(strokes) == len(original)
    for got, want in zip(strokes, original):
        np.testing.assert_allclose(got, np.array(want, dtype=float) * [1, -1] - first, atol=1e-4)


def test_offsets_to_strokes_splits_after_pen_up():
    strokes = offsets_to_strokes(np.array([[1, 2, 0], [0, 0, 3]]))
    assert [s.tolist() for s in strokes] == [[[0, 0], [2, 0]], [[2, 3]]]


def test_broken_and_empty_files_are_skipped_with_a_warning(tiny_iamondb, tmp_path, caplog):
    lines = tiny_iamondb / "lineStrokes" / "a01" / "a01-000"
    (lines / "a01-000u-01.xml").write_text("<StrokeSet><Stroke>")
    write_line_xml(lines / "a01-000u-02.xml", [[]])
    with caplog.at_level(logging.WARNING):
        info = prepare_iamondb(tiny_iamondb, tmp_path / "iam.h5")
    assert info["lines"]["train"] == 1
    assert any("a01-000u-01.xml" in r.message for r in caplog.records)
    assert any("a01-000u-02.xml" in r.message and "no Point" in r.message
               for r in caplog.records)
    with h5py.File(info["path"]) as f:
        assert len(f["skipped"]) == 2


def test_split_file_naming_absent_forms_is_a_data_error(tiny_iamondb, tmp_path):
    (tiny_iamondb / "testset_v.txt").write_text("b02-010x\nz99-999q\n")
    with pytest.raises(DataError, match=r"testset_v\.txt: names 1 form\(s\) absent .*z99-999q"):
        prepare_iamondb(tiny_iamondb, tmp_path / "iam.h5")
    assert not (tmp_path / "iam.h5").exists()


def test_split_whose_lines_are_all_broken_is_a_data_error(tiny_iamondb, tmp_path):
    xml = tiny_iamondb / "lineStrokes" / "c03" / "c03-020" / "c03-020z-01.xml"
    xml.write_text("not xml")
    with pytest.raises(DataError, match=r"testset_f\.txt: lists forms whose line files are all"):
        prepare_iamondb(tiny_iamondb, tmp_path / "iam.h5")


def test_caller_split_files_and_plain_names(tiny_iamondb, tmp_path):
    (tiny_iamondb / "mine.txt").write_text("c03-020z\n")
    info = prepare_iamondb(tiny_iamondb, tmp_path / "iam.h5",
                           split_files={"train": tiny_iamondb / "mine.txt"})
    assert info["lines"] == {"train": 1, "valid": 0, "test": 0}
    with pytest.raises(DataError, match="split 'valid' holds no lines"):
        IAMOnDB("valid", info["path"])


def test_missing_training_split_file_is_a_data_error(tiny_iamondb, tmp_path):
    (tiny_iamondb / "trainset.txt").unlink()
    with pytest.raises(DataError, match="no training split file"):
        prepare_iamondb(tiny_iamondb, tmp_path / "iam.h5")


def test_cache_is_reused_without_parsing(tiny_iamondb, tmp_path, monkeypatch):
    cache_file = tmp_path / "iam.h5"
    IAMOnDB.from_corpus(tiny_iamondb, cache_file).close()
    monkeypatch.setattr(iam, "read_points", lambda path: pytest.fail("parsed XML again"))
    began = time.perf_counter()
    d = IAMOnDB.from_corpus(tiny_iamondb, cache_file, name="test")
    assert d.num_examples() == 1 and time.perf_counter() - began < 2.0


def test_slices_read_only_the_requested_lines(cache, monkeypatch):
    d = IAMOnDB("train", cache["path"])
    reads = []
    original = h5py.Dataset.__getitem__
    monkeypatch.setattr(h5py.Dataset, "__getitem__",
                        lambda self, key: reads.append((self.name, key)) or original(self, key))
    d.slices(1, 3)
    # line 1 starts after line 0's 4 steps; lines 1 and 2 have 3 + 6 steps
    assert reads == [("/train/points", slice(4, 13))]


def test_folder_path_is_a_data_error(tiny_iamondb):
    with pytest.raises(DataError, match="is a folder; expected the HDF5 cache"):
        IAMOnDB("train", tiny_iamondb)


def test_blizzard_file_is_rejected_as_another_layout(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layout"], f.attrs["version"] = "vrnn-blizzard-tbptt", 1
    with pytest.raises(DataError, match="expected layout 'vrnn-iamondb' version 1"):
        IAMOnDB("train", path)


def test_theano_vars_are_x_and_mask(cache):
    x, mask = IAMOnDB("train", cache["path"]).theano_vars()
    assert (x.ndim, mask.ndim, x.dtype, mask.dtype) == (3, 2, "float32", "float32")
