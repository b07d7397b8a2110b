"""Fuzzing the configuration readers: legacy config.txt files (any bytes) and --set items. Every
input gives a ModelConfig or a clean one-line ConfigError / DataError (UserErrors)."""
import re

import pytest
from fuzz_strategies import FUZZ
from hypothesis import given
from hypothesis import strategies as st

from cle.errors import UserError
from nips2015_vrnn.models.app.configure import parse_overrides, resolve_config
from nips2015_vrnn.models.config import ConfigError, ModelConfig, field_names

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


def resolved(pair):
    return resolve_config("blizzard", overrides=parse_overrides([pair]))


# The rule for numbers: an integer key takes a whole number in any notation (``12.0``, ``1e2``) and
# stores an int; anything else (a fraction, nan, inf, a float beyond float64, a word) is an error
# naming the key and the value. Then each key's range: sizes >= 1, reset_freq >= 0 (0: never carry),
# lr finite and > 0. (Whether a model that large fits in memory is checked where it is built.)
@pytest.mark.parametrize("pair, key, value", [("rnn_dim=1e12", "rnn_dim", 10 ** 12), ("rnn_dim=12.0", "rnn_dim", 12),
                                              ("rnn_dim=1e2", "rnn_dim", 100), ("batch_size=8.0", "batch_size", 8),
                                              ("reset_freq=0", "reset_freq", 0), ("z_dim=1", "z_dim", 1)])
def test_a_whole_number_in_any_notation_is_an_int(pair, key, value):
    got = getattr(resolved(pair), key)
    assert got == value and type(got) is int


@pytest.mark.parametrize("pair", ["rnn_dim=nan", "rnn_dim=inf", "batch_size=1e309", "reset_freq=1.5", "x_dim=2.5",
                                  "rnn_dim=True", "rnn_dim=many"])
def test_an_integer_key_given_anything_but_a_whole_number_is_an_error_naming_it(pair):
    key, value = pair.split("=")
    with pytest.raises(ConfigError, match=rf"^--set, line 1: value '{value}' of '{key}' is not a valid int"):
        resolved(pair)


@pytest.mark.parametrize("pair, expected", [("x_dim=-1", "x_dim must be a positive int; got -1"),
                                            ("rnn_dim=0", "rnn_dim must be a positive int; got 0"),
                                            ("batch_size=0", "batch_size must be a positive int; got 0"),
                                            ("reset_freq=-1", "reset_freq must be >= 0"),
                                            ("lr=nan", "lr must be a finite number > 0; got nan"),
                                            ("lr=0", "lr must be a finite number > 0; got 0")])
def test_a_number_outside_its_range_is_an_error_saying_the_range(pair, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        resolved(pair)


def test_a_tiny_or_large_finite_learning_rate_is_valid():
    assert resolved("lr=1e-300").lr == 1e-300 and resolved("lr=1e3").lr == 1000.0


@pytest.mark.parametrize("pair", ["lr=inf", "lr=nan", "lr=-1"])
def test_a_learning_rate_that_is_not_finite_and_positive_is_refused(pair):
    with pytest.raises(UserError, match="lr must be a finite number > 0"):
        resolve_config("blizzard", overrides=parse_overrides([pair]))
