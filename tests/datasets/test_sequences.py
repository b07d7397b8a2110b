"""A user's own sequences: .npy / .npz / CSV sources, their checks, splits, statistics and reader."""
import numpy as np
import pytest
from user_corpora import write_csv, write_npy

from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.sequences import Sequences, load_sources, prepare_sequences, split_indices


def _sequences(n=12, width=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(2.0, 3.0, size=(int(rng.integers(2, 9)), width)) for _ in range(n)]


@pytest.mark.parametrize("kind", ["npy", "npz", "csv"])
def test_every_source_kind_loads_the_same_sequences(tmp_path, kind):
    seqs = _sequences()
    if kind == "npy":
        src = write_npy(tmp_path / "src", seqs)
    elif kind == "csv":
        src = write_csv(tmp_path / "src", seqs)
    else:
        src = tmp_path / "all.npz"
        np.savez(src, *seqs)
    items = load_sources(src)
    assert len(items) == len(seqs)
    for (_, got), want in zip(items, seqs):
        np.testing.assert_array_equal(got, want)


def test_prepared_file_holds_the_splits_and_train_statistics(tmp_path):
    seqs = _sequences(n=20)
    src = write_npy(tmp_path / "src", seqs)
    info = prepare_sequences(src, tmp_path / "s.h5", valid_frac=0.1, test_frac=0.2, seed=5)
    train, valid, test = split_indices(20, 0.1, 0.2, seed=5)
    assert info["sequences"] == {"train": len(train), "valid": 2, "test": 4}
    frames = np.concatenate([seqs[i] for i in train])
    with Sequences("train", tmp_path / "s.h5", dtype="float64") as data:
        np.testing.assert_allclose(data.X_mean, frames.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(data.X_std, frames.std(axis=0), rtol=1e-12)
        x, mask = data.slices(0, 3)
        for b, i in enumerate(train[:3]):
            n = len(seqs[i])
            np.testing.assert_allclose(x[:n, b], (seqs[i] - data.X_mean) / data.X_std, rtol=1e-12)
            assert mask[:, b].sum() == n and not x[n:, b].any()
    assert Sequences.config_overrides(tmp_path / "s.h5") == {"x_dim": 3}


def test_binary_data_are_not_normalised_by_default(tmp_path):
    rng = np.random.default_rng(1)
    seqs = [(rng.random((5, 4)) < 0.5).astype(np.uint8) for _ in range(10)]
    info = prepare_sequences(write_npy(tmp_path / "src", seqs), tmp_path / "b.h5")
    assert info["binary"] and not info["normalised"]
    with Sequences("train", tmp_path / "b.h5") as data:
        assert set(np.unique(data.slices(0, data.num_examples())[0])) <= {0.0, 1.0}
    assert prepare_sequences(tmp_path / "src", tmp_path / "n.h5", normalise="yes")["normalised"]


def test_ragged_width_is_an_error_naming_the_file(tmp_path):
    seqs = _sequences(n=4)
    seqs[2] = seqs[2][:, :2]
    with pytest.raises(DataError, match=r"s002\.npy: has 2 values per step; expected 3"):
        load_sources(write_npy(tmp_path / "src", seqs))


def test_nan_is_an_error_naming_the_file_step_and_dimension(tmp_path):
    seqs = _sequences(n=3)
    seqs[1][1, 2] = np.nan
    with pytest.raises(DataError, match=r"s001\.npy: step 1, dimension 2 is NaN"):
        load_sources(write_npy(tmp_path / "src", seqs))


def test_an_empty_file_is_an_error_naming_it(tmp_path):
    src = write_npy(tmp_path / "src", _sequences(n=2))
    np.save(src / "s999.npy", np.zeros((0, 3)))
    with pytest.raises(DataError, match=r"s999\.npy: holds an empty sequence"):
        load_sources(src)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "e.csv").write_text("")
    with pytest.raises(DataError, match=r"e\.csv: holds no rows of numbers"):
        load_sources(tmp_path / "c")


def test_non_numeric_csv_is_an_error_naming_the_file_and_row(tmp_path):
    src = write_csv(tmp_path / "src", _sequences(n=2))
    (src / "s001.csv").write_text("a,b,c\n1,2,3\n4,oops,6\n")
    with pytest.raises(DataError, match=r"s001\.csv: row 3, column 2 is 'oops'; expected a number"):
        load_sources(src)
    (src / "s001.csv").write_text("1,2,3\n4,5\n")
    with pytest.raises(DataError, match=r"s001\.csv: row 2 has 2 columns; expected 3"):
        load_sources(src)


def test_a_missing_source_or_too_few_sequences_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no such folder or .npz file"):
        load_sources(tmp_path / "nope")
    src = write_npy(tmp_path / "src", _sequences(n=2))
    with pytest.raises(DataError, match="leave none for training"):
        prepare_sequences(src, tmp_path / "s.h5", valid_frac=0.1, test_frac=0.1)


def test_binary_frames_are_stored_as_uint8_and_read_back_exactly(tmp_path):
    import h5py

    rng = np.random.default_rng(3)
    seqs = [(rng.random((int(rng.integers(2, 7)), 88)) < 0.05).astype(np.uint8) for _ in range(10)]
    info = prepare_sequences(write_npy(tmp_path / "src", seqs), tmp_path / "b.h5", valid_frac=0, test_frac=0)
    assert info["stored_as"] == "uint8" and "X_mean" not in info and "not normalised" in info["statistics"]
    with h5py.File(tmp_path / "b.h5", "r") as f:
        assert f["train/frames"].dtype == np.uint8
    with Sequences("train", tmp_path / "b.h5", dtype="float64") as data:
        x, mask = data.slices(0, 10)
    for b, seq in enumerate(seqs):
        np.testing.assert_array_equal(x[:len(seq), b], seq)


def test_data_that_come_split_keep_their_split(tmp_path):
    seqs = _sequences(n=9)
    for split, part in (("train", seqs[:5]), ("valid", seqs[5:7]), ("test", seqs[7:])):
        write_npy(tmp_path / "src" / split, part)
    info = prepare_sequences(tmp_path / "src", tmp_path / "s.h5", valid_frac=0.5, test_frac=0.3)
    assert info["sequences"] == {"train": 5, "valid": 2, "test": 2}
    assert info["split"] == "the train/, valid/, test/ folders"
    with Sequences("valid", tmp_path / "s.h5", dtype="float64") as data:
        x, mask = data.slices(0, 2)
    np.testing.assert_allclose(x[:len(seqs[5]), 0] * data.X_std + data.X_mean, seqs[5], rtol=1e-12)


def test_a_train_folder_without_valid_or_test_is_an_error_naming_them(tmp_path):
    write_npy(tmp_path / "src" / "train", _sequences(n=3))
    write_npy(tmp_path / "src" / "valid", _sequences(n=1))
    with pytest.raises(DataError, match="no test/"):
        prepare_sequences(tmp_path / "src", tmp_path / "s.h5")
