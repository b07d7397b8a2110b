"""Pictures of a user's sequences label their axes: time steps across, pitch for piano rolls."""
import numpy as np
import pytest

from nips2015_vrnn.models.app import sequence_samples

matplotlib = pytest.importorskip("matplotlib")


@pytest.mark.parametrize("width, binary, labels", [
    (88, True, ("time step", "pitch (key)")),
    (20, True, ("time step", "dimension")),
    (2, False, ("x (dimension 0)", "y (dimension 1)")),
])
def test_pictures_label_their_axes(tmp_path, monkeypatch, width, binary, labels):
    import matplotlib.pyplot as plt

    kept = []
    monkeypatch.setattr(plt, "close", kept.append)
    seq = (np.random.default_rng(0).random((30, width)) < 0.1).astype(float)
    kind = sequence_samples.picture_kind(width, binary)
    sequence_samples.sequence_png(tmp_path / "s.png", seq, kind)
    axes = kept[0].axes[0]
    assert (axes.get_xlabel(), axes.get_ylabel()) == labels
    assert (tmp_path / "s.png").is_file()
    monkeypatch.undo()
    plt.close("all")
