"""Audio through soundfile: every format libsndfile writes here, read back mixed, resampled and
checked; truncated and undecodable files named; samples beyond full scale reported."""
import logging
from fractions import Fraction

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from nips2015_vrnn.datasets.audio import AudioFile, check_sources, find_audio
from nips2015_vrnn.datasets.audio_headers import declared_frames, ogg_is_complete
from nips2015_vrnn.datasets.blizzard import prepare_blizzard
from nips2015_vrnn.datasets.errors import DataError

#: (format, subtype, suffix, lossless) for every format the tests write.
FORMATS = [
    ("WAV", "PCM_U8", ".wav", True), ("WAV", "PCM_16", ".wav", True), ("WAV", "PCM_24", ".wav", True),
    ("WAV", "PCM_32", ".wav", True), ("WAV", "FLOAT", ".wav", True), ("WAV", "DOUBLE", ".wav", True),
    ("FLAC", "PCM_16", ".flac", True), ("FLAC", "PCM_24", ".flac", True), ("OGG", "VORBIS", ".ogg", False),
    ("NIST", "PCM_16", ".sph", True), ("AIFF", "PCM_16", ".aiff", True), ("AU", "PCM_16", ".au", True),
    ("CAF", "PCM_16", ".caf", True), ("W64", "PCM_16", ".w64", True), ("RF64", "PCM_16", ".rf64", True),
    ("WAVEX", "PCM_16", ".wav", True),
]
if "MP3" in sf.available_formats():
    FORMATS.append(("MP3", "MPEG_LAYER_III", ".mp3", False))
#: Formats whose truncation the reader must catch (a cut OGG is caught by its missing last page).
CUT_FORMATS = [f for f in FORMATS if f[0] in ("WAV", "FLAC", "NIST", "AIFF", "OGG", "MP3")]
#: Quantisation step of each subtype, in int16 units (the tolerance of the lossless round trip).
STEP = {"PCM_U8": 256.0, "PCM_16": 1.0, "PCM_24": 1 / 256, "PCM_32": 1 / 65536, "FLOAT": 1e-3, "DOUBLE": 1e-9}


def _signal(n, channels, seed=0):
    t = np.arange(n) / 22050.0
    rng = np.random.default_rng(seed)
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)[:, None] + 0.05 * rng.standard_normal((n, channels))
    return np.clip(tone, -0.95, 0.95)


def _write(path, fmt, subtype, x, rate=22050):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, rate, format=fmt, subtype=subtype)
    return path


@pytest.mark.parametrize("fmt,subtype,suffix,lossless", FORMATS, ids=[f"{f[0]}-{f[1]}" for f in FORMATS])
def test_every_format_is_mixed_to_mono_and_resampled_to_16k(tmp_path, fmt, subtype, suffix, lossless):
    x = _signal(22050, 2)
    path = _write(tmp_path / f"a{suffix}", fmt, subtype, x)
    source = AudioFile(path).check()
    got = np.concatenate(list(source.blocks(block_samples=3000)))  # several blocks
    # Oracle: libsndfile's own decode of the whole file, mixed and resampled in one go.
    decoded = sf.read(str(path), dtype="float64", always_2d=True)[0].mean(axis=1) * 32768.0
    ratio = Fraction(16000, 22050)
    expected = scipy.signal.resample_poly(decoded, ratio.numerator, ratio.denominator)
    assert source.rate == 22050 and source.n_out == len(expected) == len(got)
    np.testing.assert_allclose(got, expected, atol=1e-6 * np.abs(expected).max())
    if lossless:  # and the decode is the written signal, to the subtype's quantisation
        mono = x.mean(axis=1) * 32768.0
        assert len(decoded) == len(mono)
        assert np.max(np.abs(decoded - mono)) <= STEP[subtype]


@pytest.mark.parametrize("fmt,subtype,suffix,lossless", CUT_FORMATS, ids=[f"{f[0]}-{f[1]}" for f in CUT_FORMATS])
def test_a_file_cut_to_half_its_length_is_an_error_naming_it(tmp_path, fmt, subtype, suffix, lossless):
    whole = _write(tmp_path / f"whole{suffix}", fmt, subtype, _signal(44100, 1))
    AudioFile(whole).check()  # the whole file is fine
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(DataError, match=rf"cut\{suffix}: .*(truncated|cannot be decoded)"):
        AudioFile(cut).check()


def test_a_cut_wav_read_without_check_still_fails_naming_it(tmp_path):
    whole = _write(tmp_path / "w.wav", "WAV", "PCM_16", _signal(44100, 1))
    data = whole.read_bytes()
    whole.write_bytes(data[:len(data) // 2])
    source = AudioFile(whole)
    source.n_in = declared_frames(whole)  # as if the header were trusted
    with pytest.raises(DataError, match=r"w\.wav: decodes to \d+ frames but its header says 44100"):
        list(source.blocks())


def test_declared_frames_reads_the_headers(tmp_path):
    for fmt, subtype, suffix in [("WAV", "PCM_16", ".wav"), ("NIST", "PCM_16", ".sph"), ("AIFF", "PCM_16", ".aif")]:
        path = _write(tmp_path / f"a{suffix}", fmt, subtype, _signal(1234, 2))
        assert declared_frames(path) == 1234
    assert declared_frames(_write(tmp_path / "a.flac", "FLAC", "PCM_16", _signal(10, 1))) is None
    ogg = _write(tmp_path / "a.ogg", "OGG", "VORBIS", _signal(5000, 1))
    assert ogg_is_complete(ogg)


def test_an_undecodable_file_is_an_error_and_skip_bad_names_and_counts_it(tmp_path, caplog):
    _write(tmp_path / "src" / "good.flac", "FLAC", "PCM_16", _signal(22050, 1))
    (tmp_path / "src" / "junk.ogg").write_bytes(b"OggS but not really")
    files = find_audio(tmp_path / "src")
    with pytest.raises(DataError, match=r"junk\.ogg: cannot be decoded"):
        check_sources(files)
    with caplog.at_level(logging.WARNING):
        checked = check_sources(files, skip_bad=True)
    assert [p.name for p in checked["files"]] == ["good.flac"]
    assert len(checked["skipped"]) == 1 and "junk.ogg" in checked["skipped"][0]
    assert any("junk.ogg" in r.getMessage() for r in caplog.records)


def test_float_samples_beyond_full_scale_are_reported_not_hidden(tmp_path, caplog):
    x = _signal(16000, 1)[:, 0]
    x[:400] = 1.5  # 2.5 % of the samples beyond full scale
    path = _write(tmp_path / "src" / "loud.wav", "WAV", "FLOAT", x, rate=16000)
    source = AudioFile(path).check()
    assert source.beyond_full_scale == pytest.approx(400 / 16000)
    np.testing.assert_allclose(np.concatenate(list(source.blocks()))[:400], 1.5 * 32768)  # not clipped on read
    _write(tmp_path / "src" / "quiet.wav", "WAV", "PCM_16", _signal(16000 * 3, 1), rate=16000)
    with caplog.at_level(logging.WARNING):
        info = prepare_blizzard(tmp_path / "src", tmp_path / "o.h5", seq_len=400, batch_size=4)
    assert info["beyond_full_scale"] == 1
    assert any("loud.wav" in r.getMessage() and "2.5%" in r.getMessage() for r in caplog.records)


def test_prepare_blizzard_reads_a_folder_of_mixed_formats_and_skips_a_cut_file(tmp_path):
    src = tmp_path / "src"
    for i, (fmt, subtype, suffix, _) in enumerate(FORMATS):
        _write(src / f"{i:02d}{suffix}", fmt, subtype, _signal(22050, 1 + i % 2, seed=i))
    data = (src / "00.wav").read_bytes()
    (src / "zz_cut.wav").write_bytes(data[:len(data) // 2])
    with pytest.raises(DataError, match=r"zz_cut\.wav"):
        prepare_blizzard(src, tmp_path / "o.h5", seq_len=400, batch_size=4)
    info = prepare_blizzard(src, tmp_path / "o.h5", seq_len=400, batch_size=4, skip_bad=True)
    assert info["files"] == len(FORMATS)
    assert len(info["skipped"]) == 1 and "zz_cut.wav" in info["skipped"][0]
