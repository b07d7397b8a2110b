import numpy as np
import pytest

from nips2015_vrnn.datasets.stats import RunningMoments


def test_chunked_global_moments_equal_numpy():
    rng = np.random.default_rng(0)
    chunks = [rng.normal(3.0, 2.0, size=n) for n in (1, 7, 1000, 3, 250)]
    m = RunningMoments()
    for c in chunks:
        m.update(c)
    allv = np.concatenate(chunks)
    assert m.count == allv.size
    np.testing.assert_allclose(m.mean, allv.mean(), rtol=1e-12)
    np.testing.assert_allclose(m.std, allv.std(), rtol=1e-12)


def test_per_feature_moments_equal_numpy():
    rng = np.random.default_rng(1)
    chunks = [rng.normal([0.0, 5.0], [1.0, 3.0], size=(n, 2)) for n in (4, 90, 11)]
    m = RunningMoments(width=2)
    for c in chunks:
        m.update(c)
    allv = np.concatenate(chunks)
    np.testing.assert_allclose(m.mean, allv.mean(0), rtol=1e-12)
    np.testing.assert_allclose(m.std, allv.std(0), rtol=1e-12)


def test_large_offset_stays_accurate():
    # sum-of-squares formulas lose everything here; the chunk merge keeps the std exact
    values = 1e9 + np.tile([0.0, 1.0, 2.0, 3.0], 1000)
    m = RunningMoments()
    for c in np.split(values, 40):
        m.update(c)
    np.testing.assert_allclose(m.std, np.sqrt(1.25), rtol=1e-9)


def test_empty_stream_has_no_std():
    with pytest.raises(ValueError, match="no values"):
        RunningMoments().std


def test_bad_width_is_rejected():
    with pytest.raises(ValueError, match="width"):
        RunningMoments(width=0)
