"""cle.layers.InitCell, set_seed and the unit registry."""
import numpy as np
import pytest

from cle.layers import InitCell, StemCell, get_unit, set_seed
from cle.layers.feedforward import FullyConnectedLayer

SHAPE = (200, 50)


def test_rand_is_uniform_in_range():
    w = InitCell("rand", seed=0).get(SHAPE)
    assert w.min() >= -0.08 and w.max() <= 0.08
    assert abs(w.std() - 0.16 / np.sqrt(12)) < 0.005


def test_rand_uses_low_and_high():
    w = InitCell("rand", low=1.0, high=2.0, seed=0).get(SHAPE)
    assert w.min() >= 1.0 and w.max() <= 2.0


def test_randn_has_requested_mean_and_std():
    w = InitCell("randn", mean=0.5, stddev=0.01, seed=0).get(SHAPE)
    assert abs(w.mean() - 0.5) < 0.001
    assert abs(w.std() - 0.01) < 0.0005


@pytest.mark.parametrize("init_type, value", [("zeros", 0.0), ("ones", 1.0), ("const", 0.6)])
def test_constant_inits(init_type, value):
    w = InitCell(init_type, mean=0.6).get((3, 4))
    np.testing.assert_array_equal(w, np.full((3, 4), value, dtype=w.dtype))


def test_get_returns_floatX():
    import cle.backend as B
    with B.precision("float64"):
        assert InitCell("randn").get((2,)).dtype == np.float64
    with B.precision("float32"):
        assert InitCell("randn").get((2,)).dtype == np.float32


def test_ortho_square_is_orthogonal():
    w = InitCell("ortho", seed=1).get((6, 6)).astype("float64")
    np.testing.assert_allclose(w @ w.T, np.eye(6), atol=1e-5)
    np.testing.assert_allclose(w.T @ w, np.eye(6), atol=1e-5)


def test_ortho_tall_has_orthonormal_columns():
    w = InitCell("ortho", seed=1).get((7, 3)).astype("float64")
    assert w.shape == (7, 3)
    np.testing.assert_allclose(w.T @ w, np.eye(3), atol=1e-5)


def test_ortho_wide_has_orthonormal_rows():
    w = InitCell("ortho", seed=1).get((3, 7)).astype("float64")
    assert w.shape == (3, 7)
    np.testing.assert_allclose(w @ w.T, np.eye(3), atol=1e-5)


def test_ortho_is_haar_distributed():
    """Every entry of a Haar-random orthogonal matrix is symmetric about 0 with variance 1/n. A Q
    factor without the sign correction has a biased first column (Q[0, 0] mean -0.42 for n = 4);
    the legacy scipy.linalg.orth basis carries LAPACK's sign convention on its diagonal (means
    -0.24, -0.12, -0.13, +0.22 for n = 4, measured): neither passes this test."""
    cell = InitCell("ortho", seed=3)
    draws = np.stack([cell.get((4, 4)).astype("float64") for _ in range(4000)])
    assert np.abs(draws.mean(axis=0)).max() < 0.05
    np.testing.assert_allclose(draws.var(axis=0), 0.25, atol=0.03)


def test_ortho_needs_2d_shape():
    with pytest.raises(ValueError, match="2-D"):
        InitCell("ortho").get((2, 2, 2))


def test_bad_init_type_raises():
    with pytest.raises(ValueError, match="unknown init_type 'gauss'"):
        InitCell("gauss")


def test_same_seed_gives_identical_draws():
    np.testing.assert_array_equal(InitCell("randn", seed=5).get((4, 3)), InitCell("randn", seed=5).get((4, 3)))


def test_different_seeds_give_different_draws():
    assert not np.array_equal(InitCell("randn", seed=5).get((4, 3)), InitCell("randn", seed=6).get((4, 3)))


def test_rng_argument_is_used():
    a = InitCell("rand", rng=np.random.RandomState(3)).get((5,))
    b = InitCell("rand", rng=np.random.RandomState(3)).get((5,))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, np.random.RandomState(3).uniform(-0.08, 0.08, size=5), rtol=1e-6)


def test_set_seed_makes_model_builds_identical():
    def build():
        layers = [FullyConnectedLayer("h", ["x"], [3], 4), FullyConnectedLayer("o", ["h"], [4], 2,
                                                                             init_W=InitCell("rand"))]
        params = {}
        for layer in layers:
            params.update(layer.initialize())
        return params

    set_seed(11)
    first = build()
    set_seed(11)
    second = build()
    set_seed(12)
    third = build()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    assert not np.array_equal(first["W_x__h"], third["W_x__h"])


def test_unknown_unit_raises():
    with pytest.raises(ValueError, match="unknown unit 'swish'"):
        get_unit("swish")


def test_stemcell_parent_lengths_must_agree():
    with pytest.raises(ValueError, match="2 entries.*1"):
        StemCell("h", parent=["a", "b"], parent_dim=[3], nout=2)


def test_stemcell_rejects_unknown_unit():
    with pytest.raises(ValueError, match="unknown unit"):
        StemCell("h", parent=["a"], parent_dim=[3], nout=2, unit="elu")
