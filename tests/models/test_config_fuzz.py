"""Fuzzing the configuration readers: legacy config.txt files (any bytes) and --set items. Every
input gives a ModelConfig or a clean one-line ConfigError / DataError (UserErrors)."""
import pytest
from fuzz_strategies import FUZZ
from hypothesis import given
from hypothesis import strategies as st

from cle.errors import UserError
from nips2015_vrnn.models.app.configure import parse_overrides, resolve_config
from nips2015_vrnn.models.config import ModelConfig, field_names

KEYS = st.sampled_from(field_names() + ["k", "x", "", "lr lr", "#"])
VALUES = (st.text(max_size=10) | st.integers(-10, 10 ** 15).map(str)
          | st.floats(allow_nan=True, allow_infinity=True).map(repr)
          | st.sampled_from(["1e12", "1e309", "nan", "-inf", "0", "-5", "3.5", "vrnn", "gmm", "handwriting"]))


def config_or_user_error(build):
    try:
        config = build()
    except UserError as err:
        assert str(err).strip() and "\n" not in str(err).strip()
        return None
    assert isinstance(config, ModelConfig)
    return config


@FUZZ
@given(items=st.lists(st.tuples(KEYS, st.sampled_from(["=", " = ", "", "=="]), VALUES), max_size=4))
def test_set_items_give_a_config_or_a_one_line_error(items):
    pairs = [f"{key}{sep}{value}" for key, sep, value in items]
    config_or_user_error(lambda: resolve_config("blizzard", model="vrnn-gauss",
                                                overrides=parse_overrides(pairs)))


@FUZZ
@given(lines=st.lists(st.tuples(KEYS, VALUES).map(" ".join) | st.text(max_size=15), max_size=6),
       junk=st.binary(max_size=8))
def test_config_files_give_a_config_or_a_one_line_error(tmp_path, lines, junk):
    path = tmp_path / "config.txt"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + junk)
    config = config_or_user_error(lambda: resolve_config("iamondb", config_file=path))
    if config is not None:
        assert config.x_dim == 3


@pytest.mark.parametrize("pair", ["rnn_dim=1e12", "rnn_dim=nan", "lr=nan", "lr=inf", "x_dim=-1",
                                  "batch_size=1e309", "reset_freq=1.5"])
def test_awkward_numbers_are_config_errors_or_valid(pair):
    config_or_user_error(lambda: resolve_config("blizzard", overrides=parse_overrides([pair])))


@pytest.mark.parametrize("pair", ["lr=inf", "lr=nan", "lr=-1"])
def test_a_learning_rate_that_is_not_finite_and_positive_is_refused(pair):
    with pytest.raises(UserError, match="lr must be a finite number > 0"):
        resolve_config("blizzard", overrides=parse_overrides([pair]))
