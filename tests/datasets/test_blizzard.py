import logging

import h5py
import numpy as np
import pytest
from corpus_fixtures import write_wav

from nips2015_vrnn.datasets.blizzard import Blizzard, Blizzard_tbptt, normal_path, prepare_blizzard, split_segments
from nips2015_vrnn.datasets.errors import DataError

SEQ, B, F = 400, 4, 100  # tiny rows: T = 4 frames of 100 samples


@pytest.fixture
def ramp_corpus(tmp_path):
    """Two 16 kHz files whose joined signal is a known sequence (values cycle through int16)."""
    joined = (np.arange(23 * B * SEQ + 123) % 20011 - 10005).astype(np.int16)
    cut = 5 * SEQ + 17
    write_wav(tmp_path / "src" / "a.wav", 16000, joined[:cut])
    write_wav(tmp_path / "src" / "sub" / "b.wav", 16000, joined[cut:])
    return tmp_path / "src", joined


@pytest.fixture
def prepared(ramp_corpus, tmp_path):
    src, joined = ramp_corpus
    info = prepare_blizzard(src, tmp_path / "out" / "bz.h5", seq_len=SEQ, batch_size=B)
    return info, joined


def _expected_rows(joined, n_seg):
    """Independent layout: B streams of n_seg * SEQ samples; row k*B + b = segment k of stream b."""
    streams = joined[:B * n_seg * SEQ].reshape(B, n_seg, SEQ)
    return streams.transpose(1, 0, 2).reshape(-1, SEQ)


def test_rows_follow_the_stream_layout(prepared):
    info, joined = prepared
    with h5py.File(info["path"]) as f:
        data = f["data"][()]
    np.testing.assert_array_equal(data, _expected_rows(joined, 23))


def test_row_plus_batch_size_continues_the_stream(prepared):
    info, _ = prepared
    with h5py.File(info["path"]) as f:
        data = f["data"][()].astype(np.int64)
    # the ramp steps by one sample (mod 20011): row r + B starts where row r ends
    step = (data[B:, 0] - data[:-B, -1]) % 20011
    assert np.all(step == 1)


def test_consecutive_tbptt_batches_continue_each_stream(prepared):
    info, _ = prepared
    d = Blizzard_tbptt("train", info["path"], frame_size=F)
    wave_1 = d.to_waveforms(d.slices(0, B)[0]).astype(np.int64)
    wave_2 = d.to_waveforms(d.slices(B, 2 * B)[0]).astype(np.int64)
    assert np.all((wave_2[:, 0] - wave_1[:, -1]) % 20011 == 1)


def test_split_ranges_are_whole_batches(prepared):
    info, _ = prepared
    assert info["train_rows"] == (0, 21 * B)
    assert info["valid_rows"] == (21 * B, 22 * B)
    assert info["test_rows"] == (22 * B, 23 * B)
    for name, rows in (("train", 21 * B), ("valid", B), ("test", B)):
        assert Blizzard(name, info["path"], frame_size=F).num_examples() == rows


def test_default_fractions_are_90_5_5():
    assert split_segments(880, 0.05, 0.05) == (792, 44, 44)


def test_statistics_are_numpys_over_training_rows(prepared):
    info, joined = prepared
    train = _expected_rows(joined, 23)[:21 * B].astype(np.float64)
    with h5py.File(info["path"]) as f:
        assert f.attrs["X_mean"] == pytest.approx(train.mean(), rel=1e-12)
        assert f.attrs["X_std"] == pytest.approx(train.std(), rel=1e-12)
    npz = np.load(normal_path(info["path"]))
    assert float(npz["X_mean"]) == pytest.approx(train.mean(), rel=1e-12)
    assert float(npz["X_std"]) == pytest.approx(train.std(), rel=1e-12)


def test_attributes_record_the_layout(prepared, ramp_corpus):
    info, _ = prepared
    with h5py.File(info["path"]) as f:
        attrs = f.attrs
        assert (attrs["sample_rate"], attrs["seq_len"], attrs["batch_size"]) == (16000, SEQ, B)
        assert [s.decode() for s in f["sources"][()]] == ["a.wav", "sub/b.wav"]
        assert f.attrs["layout"] == "vrnn-blizzard-tbptt" and f.attrs["version"] == 1
        assert f["data"].dtype == np.int16 and f["data"].compression == "gzip"


def test_slices_give_normalised_frames(prepared):
    info, joined = prepared
    d = Blizzard("valid", info["path"], frame_size=F)
    (x,) = d.slices(1, 3)
    rows = _expected_rows(joined, 23)[21 * B + 1:21 * B + 3].astype(np.float64)
    expected = ((rows - d.X_mean) / d.X_std).reshape(2, SEQ // F, F).transpose(1, 0, 2)
    assert x.shape == (SEQ // F, 2, F) and x.dtype == np.float32
    np.testing.assert_allclose(x, expected, rtol=1e-5, atol=1e-5)


def test_dtype_and_explicit_statistics_are_used(prepared):
    info, joined = prepared
    d = Blizzard("train", info["path"], frame_size=F, X_mean=10.0, X_std=2.0, dtype="float64")
    (x,) = d.slices(0, 1)
    assert x.dtype == np.float64
    np.testing.assert_allclose(x[:, 0].reshape(-1), (joined[:SEQ] - 10.0) / 2.0)


def test_frame_size_must_divide_seq_len(prepared):
    with pytest.raises(ValueError, match="divisor of seq_len=400"):
        Blizzard("train", prepared[0]["path"], frame_size=300)


def test_slices_read_only_the_requested_rows(prepared, monkeypatch):
    info, _ = prepared
    d = Blizzard("valid", info["path"], frame_size=F)
    reads = []
    original = h5py.Dataset.__getitem__
    monkeypatch.setattr(h5py.Dataset, "__getitem__",
                        lambda self, key: reads.append((self.name, key)) or original(self, key))
    d.slices(1, 3)
    assert reads == [("/data", slice(21 * B + 1, 21 * B + 3))]


def test_misaligned_tbptt_slice_warns_once(prepared, caplog):
    d = Blizzard_tbptt("train", prepared[0]["path"], frame_size=F)
    with caplog.at_level(logging.WARNING):
        d.slices(1, 1 + B)
        d.slices(2, 2 + B)
    assert sum("not one aligned batch" in r.message for r in caplog.records) == 1


def test_resampled_mixed_formats_fill_the_expected_rows(tmp_path):
    rng = np.random.default_rng(0)
    write_wav(tmp_path / "s" / "a.wav", 44100, rng.integers(-99, 99, (44100, 2)).astype(np.int16))
    write_wav(tmp_path / "s" / "b.wav", 8000, rng.normal(0, 0.1, 8000).astype(np.float32))
    info = prepare_blizzard(tmp_path / "s", tmp_path / "o.h5", seq_len=SEQ, batch_size=B,
                            valid_frac=0.1, test_frac=0.1)
    # 16000 + 16000 samples at 16 kHz -> 20 whole segments of B * SEQ = 1600
    assert info["rows"] == 20 * B


def test_progress_reports_reach_the_total(prepared, ramp_corpus, tmp_path):
    calls = []
    prepare_blizzard(ramp_corpus[0], tmp_path / "p.h5", seq_len=SEQ, batch_size=B,
                     progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (23 * B * SEQ, 23 * B * SEQ)


def test_too_little_audio_is_a_data_error(tmp_path):
    write_wav(tmp_path / "s" / "a.wav", 16000, np.zeros(1000, np.int16))
    with pytest.raises(DataError, match="expected at least 3 batches"):
        prepare_blizzard(tmp_path / "s", tmp_path / "o.h5", seq_len=SEQ, batch_size=B)


def test_failed_preparation_leaves_no_file(tmp_path):
    bad = np.zeros(100, np.float32)
    bad[3] = np.nan
    write_wav(tmp_path / "s" / "b.wav", 16000, bad)
    write_wav(tmp_path / "s" / "c.wav", 16000, np.zeros(5 * B * SEQ, np.float32))
    with pytest.raises(DataError, match=r"b\.wav: sample 3 is NaN"):
        prepare_blizzard(tmp_path / "s", tmp_path / "o" / "o.h5", seq_len=SEQ, batch_size=B)
    # the check pass fails before anything is written (the folder may not even exist)
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []


def test_reader_rejects_another_layout(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layout"], f.attrs["version"] = "vrnn-blizzard-tbptt", 0
    expected = "version 0; expected layout 'vrnn-blizzard-tbptt' version 1"
    with pytest.raises(DataError, match=expected):
        Blizzard("train", path)


def test_reader_rejects_a_non_hdf5_file(tmp_path):
    path = tmp_path / "x.h5"
    path.write_text("hello")
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        Blizzard("train", path)


def test_reader_rejects_a_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        Blizzard("train", tmp_path / "none.h5")


def test_bad_split_name_is_a_value_error(prepared):
    with pytest.raises(ValueError, match="name must be one of"):
        Blizzard("dev", prepared[0]["path"])


def test_theano_vars_is_a_tensor3_of_the_dtype(prepared):
    (x,) = Blizzard("train", prepared[0]["path"], frame_size=F, dtype="float64").theano_vars()
    assert x.ndim == 3 and x.dtype == "float64"
