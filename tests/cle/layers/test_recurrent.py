"""cle.layers.recurrent: one step of LSTM, GRU and SimpleRecurrent against numpy written here."""
import numpy as np
import pytensor.tensor as pt
import pytest

import cle.backend as B
from cle.layers import InitCell
from cle.layers.recurrent import GRU, LSTM, SimpleRecurrent
from cle.utils import init_tparams

N_HID = 4
BATCH = 3
RNG = np.random.default_rng(3)
X = RNG.normal(size=(BATCH, 3))
Z = RNG.normal(size=(BATCH, 5))  # wider than parent_dim 2: only Z[:, :2] is read
S_LSTM = RNG.normal(size=(BATCH, 2 * N_HID))
S_GRU = RNG.normal(size=(BATCH, N_HID))
MASK = np.array([1.0, 0.0, 1.0])

W_INIT = InitCell("randn", stddev=0.5, seed=10)
B_INIT = InitCell("rand", low=-0.5, high=0.5, seed=11)
LSTM_LAYER = LSTM("rnn", ["x", "z"], [3, 2], N_HID, init_W=W_INIT, init_U=InitCell("ortho", seed=12), init_b=B_INIT)
GRU_LAYER = GRU("gru", ["x", "z"], [3, 2], N_HID, init_W=W_INIT, init_U=InitCell("ortho", seed=13), init_b=B_INIT)
SIMPLE_LAYER = SimpleRecurrent("srn", ["x"], [3], N_HID, init_W=W_INIT, init_U=InitCell("ortho", seed=14),
                               init_b=B_INIT)


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def np_lstm(p, x, z, s):
    n = N_HID
    h, c = s[:, :n], s[:, n:]
    a = x @ p["W_x__rnn"] + z[:, :2] @ p["W_z__rnn"] + h @ p["U_rnn__rnn"] + p["b_rnn"]
    g, i, f, o = np.tanh(a[:, :n]), sigmoid(a[:, n:2 * n]), sigmoid(a[:, 2 * n:3 * n]), sigmoid(a[:, 3 * n:])
    c_new = f * c + i * g
    return np.concatenate([o * np.tanh(c_new), c_new], axis=1)


def np_gru(p, x, z, h):
    n = N_HID
    ax = x @ p["W_x__gru"] + z[:, :2] @ p["W_z__gru"] + p["b_gru"]
    U = p["U_gru__gru"]
    r = sigmoid(ax[:, :n] + h @ U[:, :n])
    u = sigmoid(ax[:, n:2 * n] + h @ U[:, n:2 * n])
    cand = np.tanh(ax[:, 2 * n:] + (r * h) @ U[:, 2 * n:])
    return u * h + (1 - u) * cand


def np_simple(p, x, h):
    return np.tanh(x @ p["W_x__srn"] + h @ p["U_srn__srn"] + p["b_srn"])


@pytest.fixture(scope="module")
def steps():
    """All one-step outputs from one compiled float64 function."""
    with B.precision("float64"):
        values = {**LSTM_LAYER.initialize(), **GRU_LAYER.initialize(), **SIMPLE_LAYER.initialize()}
        p = init_tparams(values)
        x, z = pt.matrix("x", dtype="float64"), pt.matrix("z", dtype="float64")
        s_lstm, s_gru = pt.matrix("s_lstm", dtype="float64"), pt.matrix("s_gru", dtype="float64")
        mask = pt.vector("mask", dtype="float64")
        outs = {
            "lstm": LSTM_LAYER.fprop([[x, z], [s_lstm]], p),
            "lstm_masked": LSTM_LAYER.fprop([[x, z], [s_lstm]], p, mask=mask),
            "lstm_preact": LSTM_LAYER.step_from_preact(LSTM_LAYER.input_preact([x, z], p), s_lstm, p),
            "lstm_init": LSTM_LAYER.get_init_state(x.shape[0]),
            "gru": GRU_LAYER.fprop([[x, z], [s_gru]], p),
            "gru_masked": GRU_LAYER.fprop([[x, z], [s_gru]], p, mask=mask),
            "simple": SIMPLE_LAYER.fprop([[x], [s_gru]], p),
        }
        fn = B.function([x, z, s_lstm, s_gru, mask], list(outs.values()))
    return values, dict(zip(outs, fn(X, Z, S_LSTM, S_GRU, MASK)))


def test_lstm_param_names_and_shapes():
    shapes = {k: v.shape for k, v in LSTM_LAYER.initialize().items()}
    assert shapes == {"W_x__rnn": (3, 16), "W_z__rnn": (2, 16), "U_rnn__rnn": (4, 16), "b_rnn": (16,)}


def test_lstm_recurrent_weight_is_four_orthogonal_blocks():
    U = LSTM_LAYER.initialize()["U_rnn__rnn"].astype("float64")
    for k in range(4):
        block = U[:, k * N_HID:(k + 1) * N_HID]
        np.testing.assert_allclose(block @ block.T, np.eye(N_HID), atol=1e-5)
    assert not np.allclose(U[:, :N_HID], U[:, N_HID:2 * N_HID])


def test_lstm_step_matches_numpy(steps):
    values, out = steps
    assert out["lstm"].shape == (BATCH, 2 * N_HID)
    np.testing.assert_allclose(out["lstm"], np_lstm(values, X, Z, S_LSTM), rtol=1e-12)


def test_lstm_step_from_preact_equals_fprop(steps):
    _, out = steps
    np.testing.assert_allclose(out["lstm_preact"], out["lstm"], rtol=1e-12)


def test_lstm_init_state_is_zeros_of_width_2n(steps):
    _, out = steps
    np.testing.assert_array_equal(out["lstm_init"], np.zeros((BATCH, 2 * N_HID)))


def test_lstm_mask_carries_state_over(steps):
    values, out = steps
    want = np_lstm(values, X, Z, S_LSTM)
    want[1] = S_LSTM[1]
    np.testing.assert_allclose(out["lstm_masked"], want, rtol=1e-12)


def test_gru_step_matches_numpy(steps):
    values, out = steps
    assert out["gru"].shape == (BATCH, N_HID)
    np.testing.assert_allclose(out["gru"], np_gru(values, X, Z, S_GRU), rtol=1e-12)


def test_gru_mask_carries_state_over(steps):
    values, out = steps
    want = np_gru(values, X, Z, S_GRU)
    want[1] = S_GRU[1]
    np.testing.assert_allclose(out["gru_masked"], want, rtol=1e-12)


def test_simple_recurrent_step_matches_numpy(steps):
    values, out = steps
    np.testing.assert_allclose(out["simple"], np_simple(values, X, S_GRU), rtol=1e-12)


def test_gru_param_shapes():
    shapes = {k: v.shape for k, v in GRU_LAYER.initialize().items()}
    assert shapes == {"W_x__gru": (3, 12), "W_z__gru": (2, 12), "U_gru__gru": (4, 12), "b_gru": (12,)}


def test_fprop_needs_inputs_and_state():
    with pytest.raises(ValueError, match=r"\[\[inputs...\], \[s_tm1\]\]"):
        LSTM_LAYER.fprop([pt.matrix("x")], {})


def test_leading_columns_has_static_width_and_same_values():
    """The state slice a recurrent product reads carries its width in its type (so the weight
    gradient needs no SpecifyShape and PyTensor can push it out of the backward scan)."""
    from cle.layers import leading_columns

    s = pt.matrix("s", dtype="float64")
    cols = leading_columns(s, 3)
    assert cols.type.shape == (None, 3)
    value = np.arange(10.0).reshape(2, 5)
    np.testing.assert_array_equal(cols.eval({s: value}), value[:, :3])
    already = pt.tensor("w", dtype="float64", shape=(None, 3))
    assert leading_columns(already, 3).type.shape == (None, 3)
