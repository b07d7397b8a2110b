"""Parameters in and out by legacy name (.npz)."""
import numpy as np
import pytest
from model_helpers import tiny_config

from nips2015_vrnn.models import build_model


@pytest.fixture(scope="module")
def model():
    return build_model(tiny_config("iamondb/vrnn_gmm", num_k=2))


def test_save_then_load_restores_every_parameter(model, tmp_path):
    path = tmp_path / "params.npz"
    before = model.get_param_values()
    model.save_params(path)
    for p in model.params.values():
        p.set_value(np.zeros_like(p.get_value()))
    model.load_params(path)
    after = model.get_param_values()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_saved_file_is_keyed_by_legacy_name_without_pickle(model, tmp_path):
    path = tmp_path / "params.npz"
    model.save_params(path)
    with np.load(path, allow_pickle=False) as data:
        assert list(data.files) == model.param_names()


def test_load_lists_every_mismatch(model, tmp_path):
    values = model.get_param_values()
    values.pop("b_coeff")
    values["W_x_t__x_1"] = values["W_x_t__x_1"][:, :2]
    values["b_rnn"] = values["b_rnn"].astype(np.float16)
    values["W_bogus__x"] = np.zeros(2)
    path = tmp_path / "bad.npz"
    np.savez(path, **values)
    with pytest.raises(ValueError) as err:
        model.load_params(path)
    text = str(err.value)
    for expected in ("missing parameters: b_coeff", "unexpected parameters: W_bogus__x",
                     "W_x_t__x_1: shape (3, 2), model expects (3, 5)", "b_rnn: dtype float16"):
        assert expected in text


def test_another_dtype_is_refused_unless_cast_which_rounds_to_the_model_dtype(model, tmp_path):
    other = np.float64 if model.dtype == "float32" else np.float32
    rng = np.random.default_rng(0)
    values = {k: rng.standard_normal(v.shape).astype(other) for k, v in model.get_param_values().items()}
    path = tmp_path / "other_dtype.npz"
    np.savez(path, **values)
    before = model.get_param_values()
    with pytest.raises(ValueError, match=f"dtype {np.dtype(other)}, model expects {model.dtype}"):
        model.load_params(path)
    after = model.get_param_values()
    assert all(np.array_equal(before[k], after[k]) for k in before), "a refused file changed parameters"
    model.load_params(path, cast=True)
    after = model.get_param_values()
    for name, value in values.items():
        assert after[name].dtype == model.dtype
        np.testing.assert_array_equal(after[name], value.astype(model.dtype))
