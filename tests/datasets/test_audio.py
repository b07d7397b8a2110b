from fractions import Fraction

import numpy as np
import pytest
import scipy.signal
from corpus_fixtures import write_wav

from nips2015_vrnn.datasets import audio
from nips2015_vrnn.datasets.audio import AudioFile, find_audio, frames_to_waveforms, to_int16
from nips2015_vrnn.datasets.errors import DataError

#: Independent conversions to int16 units, per WAV sample type.
SCALE = {np.uint8: lambda x: (x - 128.0) * 256.0, np.int16: lambda x: x,
         np.int32: lambda x: x / 65536.0, np.float32: lambda x: x * 32768.0}


def _signal(dtype, n, channels, rng):
    x = rng.normal(0.0, 0.2, size=(n, channels)).clip(-0.99, 0.99)
    if dtype == np.float32:
        data = x.astype(np.float32)
    elif dtype == np.uint8:
        data = (128 + 120 * x).astype(np.uint8)
    else:
        data = (x * np.iinfo(dtype).max).astype(dtype)
    return data if channels > 1 else data[:, 0]


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100])
@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.uint8, np.float32])
@pytest.mark.parametrize("channels", [1, 2])
def test_wav_is_mixed_to_mono_and_resampled_to_16k(tmp_path, rate, dtype, channels):
    rng = np.random.default_rng(rate + channels)
    data = _signal(dtype, 3001, channels, rng)
    path = write_wav(tmp_path / "a.wav", rate, data)
    mono = SCALE[dtype](data.astype(np.float64).reshape(len(data), -1)).mean(axis=1)
    ratio = Fraction(16000, rate)
    expected = scipy.signal.resample_poly(mono, ratio.numerator, ratio.denominator)
    f = AudioFile(path)
    got = np.concatenate(list(f.blocks(block_samples=700)))  # many blocks
    assert f.n_out == len(expected) == len(got)
    np.testing.assert_allclose(got, expected, atol=1e-6 * np.abs(expected).max())


def test_blocks_read_only_bounded_ranges(tmp_path, monkeypatch):
    path = write_wav(tmp_path / "a.wav", 44100, np.zeros(50000, np.int16))
    spans = []
    original = AudioFile._read
    monkeypatch.setattr(AudioFile, "_read",
                        lambda self, a, b: spans.append(b - a) or original(self, a, b))
    list(AudioFile(path).blocks(block_samples=1000))
    assert len(spans) > 10
    assert max(spans) < 4000  # one block (~2756 input frames) plus the filter margins


def test_to_int16_rounds_and_clips():
    assert to_int16(np.array([1.4, 1.6, -40000.0, 40000.0])).tolist() == [1, 2, -32768, 32767]


def test_frames_to_waveforms_denormalises_and_joins_frames_in_time_order():
    frames = np.array([[[0.0, 1.0]], [[-1.0, 0.5]]])          # (T=2, B=1, F=2)
    waves = frames_to_waveforms(frames, X_mean=10.0, X_std=100.0)
    assert waves.dtype == np.int16
    assert waves.tolist() == [[10, 110, -90, 60]]


def test_frames_to_waveforms_clips_and_rejects_non_3d_input():
    assert frames_to_waveforms(np.full((1, 1, 1), 1e9), 0.0, 1.0).tolist() == [[32767]]
    with pytest.raises(ValueError, match=r"shape \(T, B, F\)"):
        frames_to_waveforms(np.zeros((4, 2)), 0.0, 1.0)


def test_find_audio_is_recursive_and_sorted(tmp_path):
    for name in ("b/z.wav", "a.WAV", "b/c/y.wav"):
        write_wav(tmp_path / name, 16000, np.zeros(10, np.int16))
    assert [p.relative_to(tmp_path).as_posix() for p in find_audio(tmp_path)] == \
        ["a.WAV", "b/c/y.wav", "b/z.wav"]


def test_missing_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        find_audio(tmp_path / "nope")


def test_folder_without_audio_is_a_data_error(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="no audio found"):
        find_audio(tmp_path)


def test_an_undecodable_mp3_is_a_data_error_naming_it(tmp_path):
    (tmp_path / "x.mp3").write_bytes(b"ID3")
    assert find_audio(tmp_path) == [tmp_path / "x.mp3"]
    with pytest.raises(DataError, match=r"x\.mp3: cannot be decoded"):
        AudioFile(tmp_path / "x.mp3").check()


def test_legacy_npy_needs_allow_pickle(tmp_path):
    np.save(tmp_path / "data_0.npy", np.array([np.zeros(5, np.int16)], dtype=object),
            allow_pickle=True)
    with pytest.raises(DataError, match="allow_pickle"):
        find_audio(tmp_path)
    assert find_audio(tmp_path, allow_pickle=True) == [tmp_path / "data_0.npy"]


def test_legacy_npy_waveforms_are_joined(tmp_path):
    waves = [np.arange(5, dtype=np.int16), np.arange(100, 103, dtype=np.int16)]
    obj = np.empty(2, dtype=object)
    obj[:] = waves
    np.save(tmp_path / "data_0.npy", obj, allow_pickle=True)
    f = AudioFile(tmp_path / "data_0.npy")
    assert np.concatenate(list(f.blocks())).tolist() == [0, 1, 2, 3, 4, 100, 101, 102]


def test_unreadable_wav_is_a_data_error(tmp_path):
    path = tmp_path / "bad.wav"
    path.write_bytes(b"this is not a RIFF file at all")
    with pytest.raises(DataError, match=r"bad\.wav: cannot be decoded"):
        AudioFile(path)


def test_empty_wav_is_a_data_error(tmp_path):
    path = write_wav(tmp_path / "empty.wav", 16000, np.zeros(0, np.int16))
    with pytest.raises(DataError, match=r"empty\.wav: holds no samples"):
        AudioFile(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_sample_is_a_data_error(tmp_path, bad):
    data = np.zeros(100, np.float32)
    data[42] = bad
    path = write_wav(tmp_path / "nan.wav", 16000, data)
    with pytest.raises(DataError, match=r"nan\.wav: sample 42 is NaN or infinite"):
        list(AudioFile(path).blocks())


def test_resampled_length_is_the_ceiling():
    assert audio.resampled_length(441, 44100) == 160
    assert audio.resampled_length(442, 44100) == 161
