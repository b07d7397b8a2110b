"""benchmarks/chorales.py: a score's piano roll at eighth-note frames (worked out here by hand), and
the epoch of the code before issue 28 computed from a prepared file."""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))
chorales = importlib.import_module("chorales")


def test_a_scores_piano_roll_at_eighth_note_frames():
    music21 = pytest.importorskip("music21")
    part = music21.stream.Part()
    part.insert(0.0, music21.chord.Chord(["C4", "E4", "G4"], quarterLength=1.0))  # frames 0, 1
    part.insert(1.0, music21.note.Note("A0", quarterLength=0.75))                 # frames 2, 3
    part.insert(1.25, music21.note.Note("C8", quarterLength=0.25))                # frame 2
    part.insert(2.0, music21.note.Note("D4").getGrace())                          # no duration: left out
    part.insert(2.5, music21.note.Note("B0", quarterLength=0.5))                  # frame 5
    part.insert(3.0, music21.note.Note("C2", quarterLength=0.5))                  # frame 6
    part.insert(3.0, music21.note.Note("G#8", quarterLength=0.5))                 # above C8: left out
    roll = chorales.chorale_roll(music21.stream.Score([part]))
    expected = np.zeros((7, 88), dtype=np.uint8)
    expected[0:2, [60 - 21, 64 - 21, 67 - 21]] = 1
    expected[2:4, 0] = 1
    expected[2, 87] = 1
    expected[5, 23 - 21] = 1
    expected[6, 36 - 21] = 1
    assert roll.dtype == np.uint8
    np.testing.assert_array_equal(roll, expected)


def test_the_legacy_epoch_sees_whole_batches_padded_to_the_longest_sequence(tmp_path):
    from user_corpora import write_npy

    from nips2015_vrnn.datasets.sequences import prepare_sequences

    train = [np.ones((n, 2), dtype=np.uint8) for n in (10, 20, 30, 40, 50)]
    write_npy(tmp_path / "src" / "train", train)
    write_npy(tmp_path / "src" / "valid", [np.ones((60, 2), dtype=np.uint8)])
    write_npy(tmp_path / "src" / "test", [np.ones((5, 2), dtype=np.uint8)])
    prepare_sequences(tmp_path / "src", tmp_path / "s.h5")
    epoch = chorales.legacy_epoch(tmp_path / "s.h5", batch_size=2)
    # two batches of 2 (the 5th sequence never seen), padded to the validation's 60 steps
    assert epoch == {"seen": 4, "total": 5, "batches": 2, "real_percent": round(100 * 100 / (4 * 60)),
                     "epoch_frames": 100}


def test_the_training_summary_reads_a_fresh_and_a_resumed_final_line():
    fresh = chorales.parse_train("done: 30 updates, 7 epochs in 422.7 s (128.1 s in updates)\n")
    assert (fresh["updates"], fresh["total_updates"], fresh["epochs"], fresh["update_s"]) == (30, 30, 7, 128.1)
    resumed = chorales.parse_train("done: 60 updates (30 by this command), 14 epochs in 170.5 s "
                                   "(137.3 s in updates)\n")
    summary = (resumed["updates"], resumed["total_updates"], resumed["wall_s"], resumed["update_s"])
    assert summary == (30, 60, 170.5, 137.3)
