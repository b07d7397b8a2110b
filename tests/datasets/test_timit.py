"""TIMIT: an LDC-layout folder of NIST SPHERE files (written by the tests) into whole utterances."""
import numpy as np
import pytest
import soundfile as sf
from user_corpora import write_timit

from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.timit import TIMIT, TIMIT_chunks, find_utterances, prepare_timit


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("timit") / "TIMIT"
    written = write_timit(root)
    out = root.parent / "timit.h5"
    info = prepare_timit(root.parent, out, valid_frac=0.2, seed=3, chunk_frames=3)
    return written, out, info


def test_the_split_is_by_speaker_with_every_test_utterance(corpus):
    written, out, info = corpus
    assert info["utterances"] == {"train": 32, "valid": 8, "test": 12}
    assert info["speakers"] == {"train": 8, "valid": 2, "test": 3}
    with TIMIT("train", out) as train, TIMIT("valid", out) as valid, TIMIT("test", out) as test:
        speakers = [{"/".join(n.split("/")[1:3]) for n in r.names(0, r.num_examples())} for r in (train, valid)]
        assert not speakers[0] & speakers[1]
        assert all(n.startswith("TEST/") for n in test.names(0, test.num_examples()))


def test_utterances_are_normalised_200_sample_frames_padded_and_masked(corpus):
    written, out, _ = corpus
    train_samples = np.concatenate([written[tuple(n.split("/"))].astype(np.float64)
                                    for n in TIMIT("train", out).names(0, 32)])
    with TIMIT("test", out, dtype="float64") as test:
        assert test.X_mean == pytest.approx(train_samples.mean(), rel=1e-9)
        assert test.X_std == pytest.approx(train_samples.std(), rel=1e-9)
        x, mask = test.slices(0, 4)
        for b, name in enumerate(test.names(0, 4)):
            s = (written[tuple(name.split("/"))] - test.X_mean) / test.X_std
            n_frames = -(-len(s) // 200)
            expected = np.zeros(n_frames * 200)
            expected[:len(s)] = s
            np.testing.assert_allclose(x[:n_frames, b].reshape(-1), expected, rtol=1e-12, atol=1e-12)
            assert mask[:, b].tolist() == [1.0] * n_frames + [0.0] * (len(mask) - n_frames)
            assert not x[n_frames:, b].any()


def test_training_reads_chunks_that_rebuild_each_utterance(corpus):
    _, out, _ = corpus
    with TIMIT("train", out, dtype="float64") as whole, TIMIT_chunks("train", out, dtype="float64") as chunks:
        assert chunks.chunk_frames == 3
        assert chunks.num_examples() == int(sum(-(-n // 3) for n in whole.n_frames))
        x_all, mask_all = chunks.slices(0, chunks.num_examples())
        assert mask_all.sum(axis=0).max() == 3
        rebuilt = np.concatenate([x_all[:int(m.sum()), b] for b, m in enumerate(mask_all.T)])
        x, mask = whole.slices(0, whole.num_examples())
        expected = np.concatenate([x[:int(m.sum()), b] for b, m in enumerate(mask.T)])
        np.testing.assert_array_equal(rebuilt, expected)


def test_lower_case_layouts_and_riff_copies_give_each_utterance_once(tmp_path):
    written = write_timit(tmp_path / "timit", n_train=3, n_test=2, lower=True, riff=True)
    found = find_utterances(tmp_path)
    assert set(found) == set(written)
    info = prepare_timit(tmp_path, tmp_path / "t.h5", valid_frac=0.34, include_sa=False)
    assert sum(info["utterances"].values()) == 5 * 2  # SA1, SA2 left out
    with TIMIT("test", tmp_path / "t.h5") as test:
        assert not any(n.split("/")[-1].startswith("SA") for n in test.names(0, test.num_examples()))


def test_a_folder_without_the_layout_is_an_error(tmp_path):
    sf.write(str(tmp_path / "a.wav"), np.zeros(100, np.int16), 16000)
    with pytest.raises(DataError, match="no TIMIT utterances in the LDC layout"):
        prepare_timit(tmp_path, tmp_path / "t.h5")


def test_a_truncated_utterance_is_named_or_skipped(tmp_path):
    write_timit(tmp_path, n_train=3, n_test=2)
    bad = tmp_path / "TRAIN" / "DR1" / "FSPK0" / "SX1.WAV"
    bad.write_bytes(bad.read_bytes()[:1500])
    with pytest.raises(DataError, match=r"SX1\.WAV: decodes to \d+ frames but its header says"):
        prepare_timit(tmp_path, tmp_path / "t.h5", valid_frac=0.34)
    info = prepare_timit(tmp_path, tmp_path / "t.h5", valid_frac=0.34, skip_bad=True)
    assert len(info["skipped"]) == 1 and "SX1.WAV" in info["skipped"][0]
    assert info["utterances"]["train"] + info["utterances"]["valid"] == 3 * 4 - 1
