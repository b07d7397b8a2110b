"""The shared reader base: both corpus readers are cle.data.Data with one set of checks."""
import h5py
import numpy as np
import pytest

from cle.data import Data, Iterator
from nips2015_vrnn.datasets import blizzard, iamondb
from nips2015_vrnn.datasets.audio import frames_to_waveforms
from nips2015_vrnn.datasets.blizzard import Blizzard, Blizzard_tbptt
from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.hdf5 import atomic_h5
from nips2015_vrnn.datasets.iamondb import IAMOnDB
from nips2015_vrnn.datasets.reader import SplitReader


@pytest.fixture
def blizzard_file(tmp_path):
    """A hand-written Blizzard file: 8 rows of 400 samples, batch 2, splits of 4 / 2 / 2 rows."""
    path = tmp_path / "bz.h5"
    with atomic_h5(path, blizzard.LAYOUT, blizzard.VERSION) as f:
        f["data"] = np.arange(3200, dtype=np.int16).reshape(8, 400)
        f.attrs.update(sample_rate=16000, seq_len=400, batch_size=2, train_rows=[0, 4],
                       valid_rows=[4, 6], test_rows=[6, 8], X_mean=1.0, X_std=2.0)
    return path


@pytest.fixture
def iamondb_file(tmp_path):
    """A hand-written IAM-OnDB cache: train lines of 2 and 3 steps, valid / test one line each."""
    path = tmp_path / "iam.h5"
    with atomic_h5(path, iamondb.LAYOUT, iamondb.VERSION) as f:
        for split, lengths in (("train", [2, 3]), ("valid", [2]), ("test", [2])):
            g = f.create_group(split)
            g["points"] = np.arange(3 * sum(lengths), dtype=np.float32).reshape(-1, 3)
            g["offsets"] = np.cumsum([0] + lengths)
            g["labels"] = np.zeros(len(lengths), np.int8)
            g["label_offsets"] = np.arange(len(lengths) + 1)
            g.create_dataset("text", data=np.array(["a"] * len(lengths), dtype=object),
                             dtype=h5py.string_dtype())
        f.attrs.update(X_mean=[0.0, 1.0, 2.0], X_std=[1.0, 2.0, 4.0])
    return path


@pytest.fixture(params=["blizzard", "iamondb"])
def reader_case(request, blizzard_file, iamondb_file):
    """(reader class, its file, its unit word, what its file is called)."""
    if request.param == "blizzard":
        return Blizzard, blizzard_file, "rows", "file"
    return IAMOnDB, iamondb_file, "lines", "cache"


def test_readers_are_cle_data(blizzard_file, iamondb_file):
    for reader in (Blizzard("train", blizzard_file), Blizzard_tbptt("train", blizzard_file),
                   IAMOnDB("train", iamondb_file)):
        with reader:
            assert isinstance(reader, SplitReader) and isinstance(reader, Data)


def test_cle_iterator_serves_reader_batches(blizzard_file):
    with Blizzard("train", blizzard_file, frame_size=100) as d:
        batches = list(Iterator(d, batch_size=2))
    assert [b[0].shape for b in batches] == [(4, 2, 100), (4, 2, 100)]


def test_context_manager_closes_the_file(reader_case):
    cls, path, _, _ = reader_case
    with cls("train", path) as reader:
        assert reader._file.id.valid
    assert not reader._file.id.valid


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "dev"}, "name must be one of"),
    ({"dtype": "int32"}, "dtype must be a float dtype"),
])
def test_shared_argument_checks(reader_case, kwargs, message):
    cls, path, _, _ = reader_case
    with pytest.raises(ValueError, match=message):
        cls(**{"name": "train", "path": path, **kwargs})


def test_missing_path_names_the_producer(reader_case):
    cls, _, _, kind = reader_case
    with pytest.raises(ValueError, match=f"path is required: the HDF5 {kind} written by "
                                         f"{cls.PRODUCER}"):
        cls("train")


def test_other_layout_is_a_data_error(blizzard_file, iamondb_file):
    with pytest.raises(DataError, match="expected layout 'vrnn-blizzard-tbptt'"):
        Blizzard("train", iamondb_file)
    with pytest.raises(DataError, match="expected layout 'vrnn-iamondb'"):
        IAMOnDB("train", blizzard_file)


def test_range_check_names_the_unit(reader_case):
    cls, path, unit, _ = reader_case
    with cls("valid", path) as reader:
        n = reader.num_examples()
        with pytest.raises(IndexError, match=rf"{unit} \[0, 9\) outside the valid split of "
                                             rf"{n} {unit}"):
            reader.slices(0, 9)


def test_statistics_default_to_the_file_and_can_be_given(blizzard_file, iamondb_file):
    with Blizzard("train", blizzard_file) as d:
        assert (d.X_mean, d.X_std) == (1.0, 2.0) and isinstance(d.X_std, float)
    with Blizzard("train", blizzard_file, X_mean=np.array([3.0]), X_std=5) as d:
        assert (d.X_mean, d.X_std) == (3.0, 5.0)
    with IAMOnDB("train", iamondb_file) as d:
        np.testing.assert_array_equal(d.X_std, [1.0, 2.0, 4.0])
    with IAMOnDB("train", iamondb_file, X_mean=np.zeros(3), X_std=np.ones(3)) as d:
        np.testing.assert_array_equal(d.denormalise(np.ones((2, 3))), np.ones((2, 3)))


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan])
def test_non_positive_std_is_rejected(blizzard_file, iamondb_file, bad):
    with pytest.raises(ValueError, match="X_std must be > 0"):
        Blizzard("train", blizzard_file, X_std=bad)
    with pytest.raises(ValueError, match=r"shape \(3,\) with X_std > 0"):
        IAMOnDB("train", iamondb_file, X_std=[1.0, bad, 1.0])


def test_iamondb_statistics_need_three_values(iamondb_file):
    with pytest.raises(ValueError, match=r"must have shape \(3,\)"):
        IAMOnDB("train", iamondb_file, X_mean=[0.0, 0.0])


def test_denormalise_inverts_slices(reader_case):
    cls, path, _, _ = reader_case
    with cls("train", path) as reader:
        x = reader.slices(0, 2)[0]
        raw = reader.denormalise(x)
    if cls is Blizzard:
        np.testing.assert_allclose(raw.transpose(1, 0, 2).reshape(2, -1),
                                   np.arange(800).reshape(2, 400))
    else:
        np.testing.assert_allclose(raw[:, 1], np.arange(6, 15).reshape(3, 3))


def test_blizzard_to_waveforms_is_frames_to_waveforms(blizzard_file):
    with Blizzard("train", blizzard_file, frame_size=2) as d:
        x = d.slices(0, 4)[0]
        waves = d.to_waveforms(x)
        np.testing.assert_array_equal(waves, frames_to_waveforms(x, d.X_mean, d.X_std))
    np.testing.assert_array_equal(waves, np.arange(1600).reshape(4, 400))
