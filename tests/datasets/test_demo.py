import hashlib
import shutil

import numpy as np
import pytest

from nips2015_vrnn.datasets import lookup
from nips2015_vrnn.datasets.audio import frames_to_waveforms
from nips2015_vrnn.datasets.blizzard import Blizzard_tbptt
from nips2015_vrnn.datasets.demo import (
    CORPUS_VERSION,
    DEMO_BATCH_SIZE,
    DEMO_LINES,
    VERSION_FILE,
    make_demo_corpus,
    prepare_demo,
    prepared_version,
)
from nips2015_vrnn.datasets.iamondb import IAMOnDB
from nips2015_vrnn.models.app.sample_stats import handwriting_statistics, speech_statistics


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return prepare_demo(tmp_path_factory.mktemp("demo"), seed=0)


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_demo_handwriting_loads_through_the_real_loader(demo):
    counts = {name: IAMOnDB(name, demo["iamondb_h5"]).num_examples()
              for name in ("train", "valid", "test")}
    assert sum(counts.values()) == DEMO_LINES and min(counts.values()) > 0
    x, mask = IAMOnDB("train", demo["iamondb_h5"]).slices(0, 20)
    assert x.shape[1:] == (20, 3) and mask.shape == x.shape[:2]
    assert set(np.unique(x[..., 0][mask > 0])) == {0.0, 1.0}


def test_demo_speech_loads_through_the_real_loader(demo):
    d = Blizzard_tbptt("train", demo["blizzard_h5"])
    assert d.batch_size == DEMO_BATCH_SIZE
    assert 3 * 60 * 16000 <= d.num_examples() * d.seq_len  # at least 3 minutes of training audio
    (x,) = d.slices(0, DEMO_BATCH_SIZE)
    assert x.shape == (40, DEMO_BATCH_SIZE, 200)
    assert abs(float(x.mean())) < 0.5 and 0.3 < float(x.std()) < 3.0


def test_raw_demo_is_in_the_real_formats(demo):
    root = demo["iamondb_dir"]
    assert (root / "trainset.txt").is_file() and (root / "testset_v.txt").is_file()
    assert any(root.glob("lineStrokes/*/*/*-01.xml")) and any(root.glob("ascii/*/*/*.txt"))
    assert len(list(demo["blizzard_dir"].rglob("*.wav"))) == 12


def test_same_seed_gives_identical_files(tmp_path):
    a = make_demo_corpus(tmp_path / "a", seed=3, n_lines=12, audio_seconds=4, n_voices=2)
    b = make_demo_corpus(tmp_path / "b", seed=3, n_lines=12, audio_seconds=4, n_voices=2)
    assert _digest(a["iamondb_dir"]) == _digest(b["iamondb_dir"])
    assert _digest(a["blizzard_dir"]) == _digest(b["blizzard_dir"])


def test_another_seed_gives_other_files(tmp_path):
    a = make_demo_corpus(tmp_path / "a", seed=3, n_lines=12, audio_seconds=4, n_voices=2)
    b = make_demo_corpus(tmp_path / "b", seed=4, n_lines=12, audio_seconds=4, n_voices=2)
    assert _digest(a["iamondb_dir"]) != _digest(b["iamondb_dir"])
    assert _digest(a["blizzard_dir"]) != _digest(b["blizzard_dir"])


def test_demo_speech_training_rows_have_pauses_and_bursts(demo):
    # What vrnn-sample compares the samples with: the first batch of training rows, de-normalised.
    with Blizzard_tbptt("train", demo["blizzard_h5"]) as d:
        (x,) = d.slices(0, DEMO_BATCH_SIZE)
        waves = frames_to_waveforms(np.asarray(x), d.X_mean, d.X_std)
    stats = speech_statistics(waves, 200)
    assert 0.3 < stats["silent_fraction"] < 0.55
    assert 0.8 < stats["envelope_cv"] < 1.5
    assert 0.25 < stats["near_silent_fraction"] < 0.5   # pauses 40 dB under the vowels
    assert stats["loud_flatness"] < 0.03                 # voiced (white noise: 0.56)


def test_demo_handwriting_lines_are_short_with_strokes_from_a_dot_to_a_word(demo):
    with IAMOnDB("train", demo["iamondb_h5"]) as d:
        x, mask = d.slices(0, d.num_examples())
    x, mask = np.asarray(x), np.asarray(mask)
    lines = [x[:int(mask[:, b].sum()), b] for b in range(x.shape[1])]
    assert 150 < mask.sum(axis=0).mean() < 300          # pen steps per line
    stats = handwriting_statistics(lines)
    assert 0.04 < stats["pen_up_rate"] < 0.08
    # Cursive writers: a few long strokes pull the mean above the median (as in IAM-OnDB).
    assert stats["stroke_length_median"] < 0.85 * stats["stroke_length_mean"]
    lengths = np.diff(np.flatnonzero(np.concatenate([line[:, 0] for line in lines]) > 0.5))
    assert lengths.min() <= 3 and lengths.max() >= 60


def test_prepared_demo_is_stamped_with_the_corpus_version(demo):
    assert prepared_version(demo["iamondb_dir"].parent) == CORPUS_VERSION


def test_demo_cache_of_another_corpus_version_is_prepared_again(demo, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in ("iamondb.h5", "blizzard.h5", VERSION_FILE):
        shutil.copy(demo["iamondb_dir"].parent / name, cache / name)
    assert lookup.demo_is_prepared(cache)
    (cache / VERSION_FILE).write_text(f"{CORPUS_VERSION - 1}\n")
    assert not lookup.demo_is_prepared(cache)
    (cache / VERSION_FILE).unlink()                    # made before the version stamp
    assert not lookup.demo_is_prepared(cache)


def test_demo_cache_folder_is_named_by_corpus_version_and_seed(monkeypatch, tmp_path):
    monkeypatch.delenv(lookup.DEMO_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert lookup.demo_data_dir() == tmp_path / "vrnn-pytensor" / f"demo-v{CORPUS_VERSION}-seed{lookup.DEMO_SEED}"
