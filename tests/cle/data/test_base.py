"""Data, DesignMatrix and TemporalSeries: slicing, masks and zero padding."""
import numpy as np

from cle.data import DesignMatrix, TemporalSeries


def test_design_matrix_slices_rows():
    d = DesignMatrix("d", data=[np.arange(12).reshape(6, 2)])
    assert d.num_examples() == 6
    assert d.slices(1, 3)[0].tolist() == [[2, 3], [4, 5]]


def test_temporal_series_slices_are_time_major():
    x = np.arange(2 * 3 * 4).reshape(2, 3, 4)          # (N, T, D)
    out = TemporalSeries("t", data=[x]).slices(0, 2)[0]
    assert out.shape == (3, 2, 4)
    np.testing.assert_array_equal(out[:, 1], x[1])


def test_data_loads_an_npz_without_pickle(tmp_path):
    np.savez(tmp_path / "d.npz", a=np.ones((3, 2)), b=np.zeros(3))
    d = DesignMatrix("d", path=tmp_path / "d.npz")
    assert [m.shape for m in d.data] == [(3, 2), (3,)]


def test_mask_and_zero_pad_of_variable_length_sequences():
    batch = [np.ones((2, 3)), 2 * np.ones((4, 3)), 3 * np.ones((1, 3))]
    x, mask = TemporalSeries.create_mask_and_zero_pad(batch)
    assert x.shape == (4, 3, 3) and mask.shape == (4, 3)
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 1, 0], [0, 1, 0], [0, 1, 0]])
    assert x[1, 0, 0] == 1 and x[2, 0, 0] == 0 and x[3, 1, 2] == 2
    np.testing.assert_array_equal(TemporalSeries.zero_pad(batch), x)
    np.testing.assert_array_equal(TemporalSeries.create_mask(batch), mask)
