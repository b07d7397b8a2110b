import hashlib

import numpy as np
import pytest

from nips2015_vrnn.datasets.blizzard import Blizzard_tbptt
from nips2015_vrnn.datasets.demo import DEMO_BATCH_SIZE, make_demo_corpus, prepare_demo
from nips2015_vrnn.datasets.iamondb import IAMOnDB


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
    assert sum(counts.values()) == 200 and min(counts.values()) > 0
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
