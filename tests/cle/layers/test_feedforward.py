"""cle.layers.feedforward.FullyConnectedLayer and the units, against numpy."""
import numpy as np
import pytensor.tensor as pt
import pytest

import cle.backend as B
from cle.layers import UNITS, InitCell
from cle.layers.feedforward import FullyConnectedLayer
from cle.utils import init_tparams

RNG = np.random.default_rng(42)
Z = RNG.normal(scale=2.0, size=(3, 2, 5))


def np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


NUMPY_UNITS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "softplus": lambda z: np.log1p(np.exp(z)),
    "softmax": np_softmax,
    "hard_tanh": lambda z: np.clip(z, -1, 1),
    "hard_sigmoid": lambda z: np.clip(0.2 * z + 0.5, 0, 1),
    "steeper_sigmoid": lambda z: 1 / (1 + np.exp(-3.75 * z)),
}


@pytest.fixture(scope="module")
def unit_outputs():
    """Every unit on a 3-D and a 2-D input, one compiled function."""
    with B.precision("float64"):
        z3 = pt.tensor3("z3", dtype="float64")
        z2 = pt.matrix("z2", dtype="float64")
        outs = [UNITS[name](z) for name in UNITS for z in (z3, z2)]
        fn = B.function([z3, z2], outs)
    values = fn(Z, Z[0])
    return {(name, nd): values[2 * i + j] for i, name in enumerate(UNITS) for j, nd in enumerate((3, 2))}


@pytest.mark.parametrize("name", list(NUMPY_UNITS))
def test_unit_matches_numpy_on_3d_and_2d(unit_outputs, name):
    np.testing.assert_allclose(unit_outputs[(name, 3)], NUMPY_UNITS[name](Z), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(unit_outputs[(name, 2)], NUMPY_UNITS[name](Z[0]), rtol=1e-12, atol=1e-15)


def test_registry_has_every_documented_unit():
    assert set(UNITS) == set(NUMPY_UNITS)


def test_softmax_rows_sum_to_one_over_last_axis(unit_outputs):
    np.testing.assert_allclose(unit_outputs[("softmax", 3)].sum(axis=-1), np.ones((3, 2)), rtol=1e-12)


# --------------------------------------------------------------------------------------------
# The layer: two parents, the second fed wider than its parent_dim (column slice), cons
# --------------------------------------------------------------------------------------------

LAYER = FullyConnectedLayer("h", parent=["a", "s_tm1"], parent_dim=[3, 2], nout=4, unit="softplus", cons=1e-4,
                            init_W=InitCell("randn", stddev=0.5, seed=1), init_b=InitCell("rand", seed=2))
A = RNG.normal(size=(5, 2, 3))
S = RNG.normal(size=(5, 2, 6))  # wider than parent_dim 2: only S[..., :2] is read


def np_layer(params, a, s):
    z = a @ params["W_a__h"] + s[..., :2] @ params["W_s_tm1__h"] + params["b_h"]
    return np.log1p(np.exp(z)) + 1e-4


@pytest.fixture(scope="module")
def layer_outputs():
    with B.precision("float64"):
        values = LAYER.initialize()
        params = init_tparams(values)
        a3, s3 = pt.tensor3("a3", dtype="float64"), pt.tensor3("s3", dtype="float64")
        a2, s2 = pt.matrix("a2", dtype="float64"), pt.matrix("s2", dtype="float64")
        fn = B.function([a3, s3, a2, s2], [LAYER.fprop([a3, s3], params), LAYER.fprop([a2, s2], params)])
    out3, out2 = fn(A, S, A[0], S[0])
    return values, out3, out2


def test_initialize_names_and_shapes():
    shapes = {k: v.shape for k, v in LAYER.initialize().items()}
    assert shapes == {"W_a__h": (3, 4), "W_s_tm1__h": (2, 4), "b_h": (4,)}


def test_fprop_3d_matches_numpy(layer_outputs):
    values, out3, _ = layer_outputs
    assert out3.shape == (5, 2, 4)
    np.testing.assert_allclose(out3, np_layer(values, A, S), rtol=1e-12)


def test_fprop_2d_matches_numpy(layer_outputs):
    values, _, out2 = layer_outputs
    assert out2.shape == (2, 4)
    np.testing.assert_allclose(out2, np_layer(values, A[0], S[0]), rtol=1e-12)


def test_column_slice_ignores_extra_columns(layer_outputs):
    values, out3, _ = layer_outputs
    s_other = S.copy()
    s_other[..., 2:] = 1e6  # columns beyond parent_dim must not matter
    np.testing.assert_allclose(out3, np_layer(values, A, s_other), rtol=1e-12)


def test_cons_is_added_after_the_unit(layer_outputs):
    values, out3, _ = layer_outputs
    z = A @ values["W_a__h"] + S[..., :2] @ values["W_s_tm1__h"] + values["b_h"]
    np.testing.assert_allclose(out3 - np.log1p(np.exp(z)), np.full(out3.shape, 1e-4), atol=1e-12)


def test_float32_layer_stays_float32():
    with B.precision("float32"):
        layer = FullyConnectedLayer("h", ["x"], [3], 2, unit="softplus", cons=1e-4)
        params = init_tparams(layer.initialize())
        assert layer.fprop([pt.matrix("x", dtype="float32")], params).dtype == "float32"


def test_missing_parent_raises():
    with pytest.raises(ValueError, match="at least one parent"):
        FullyConnectedLayer("h", [], [], 3)


def test_wrong_number_of_inputs_raises():
    layer = FullyConnectedLayer("h", ["a", "b"], [2, 2], 3)
    with pytest.raises(ValueError, match="got 1 inputs for 2 parents"):
        layer.fprop([pt.matrix("a")], init_tparams(layer.initialize()))
