"""The frames/s of vrnn-train's progress line count the real frames an update trains on
(found running issue 28's protocol on the Bach chorales: with length buckets, and with a training
split smaller than batch_size, it counted batch_size x the mean length, 1.2x and 13x too many)."""
from types import SimpleNamespace

import numpy as np
import pytest
from user_corpora import write_npy

from nips2015_vrnn.datasets.sequences import Sequences, prepare_sequences
from nips2015_vrnn.models import get_preset
from nips2015_vrnn.models.app import trainer


@pytest.mark.parametrize("lengths", [[5, 9, 40, 64, 300, 5000],             # fewer than batch_size
                                     [64 + 7 * i for i in range(45)]])      # buckets, partial batches
def test_frames_per_update_are_an_epochs_real_frames_over_its_updates(tmp_path, lengths):
    rng = np.random.default_rng(0)
    seqs = [(rng.random((n, 3)) < 0.3).astype(np.uint8) for n in lengths]
    write_npy(tmp_path / "src" / "train", seqs)
    write_npy(tmp_path / "src" / "valid", seqs[:1])
    write_npy(tmp_path / "src" / "test", seqs[:1])
    prepare_sequences(tmp_path / "src", tmp_path / "s.h5")
    train = Sequences("train", path=tmp_path / "s.h5")
    config = get_preset("sequences/vrnn_bernoulli", x_dim=3)
    batches = trainer.training_batches(config, train)
    updates, real = 0, 0.0
    for _, mask in batches:  # one epoch, the masks counted
        updates, real = updates + 1, real + float(np.sum(mask))
    assert real == sum(lengths)
    expected = sum(lengths) / updates
    assert trainer.real_frames_per_update(batches, config.batch_size) == pytest.approx(expected, rel=1e-12)
    wrapped = SimpleNamespace(iterator=batches, data=train)  # as HostBatches holds it (JAX mode)
    assert trainer.real_frames_per_update(wrapped, config.batch_size) == pytest.approx(expected, rel=1e-12)
