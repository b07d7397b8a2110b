"""The piano-roll pickle reader: the standard layout prepared, every payload refused unrun."""
import io
import os
import pickle
import pickletools

import h5py
import numpy as np
import pytest
from fuzz_strategies import FUZZ
from hypothesis import given
from hypothesis import strategies as st

from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.lookup import open_split
from nips2015_vrnn.datasets.pianoroll import load_pianoroll, load_pianoroll_bytes, piano_roll, prepare_pianoroll

#: A tiny corpus of the standard layout: 3 / 1 / 1 sequences of pitch lists (an empty step too).
SPLITS = {"train": [[[60, 64, 67], [], [21]], [[108], [59, 62]], [[48, 52], [48, 52], [50]]],
          "valid": [[[60], [62]]], "test": [[[72, 76], [74]]]}


class Payload:
    """Pickled as ``os.system(command)``: what a hostile file would run."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def write(path, value, protocol):
    path.write_bytes(pickle.dumps(value, protocol=protocol))
    return path


@pytest.mark.parametrize("protocol", [2, 5])
def test_the_standard_layout_keeps_its_split_and_its_notes(tmp_path, protocol):
    src = write(tmp_path / "tiny.pickle", SPLITS, protocol)
    info = prepare_pianoroll(src, tmp_path / "p.h5")
    assert info["sequences"] == {"train": 3, "valid": 1, "test": 1}
    assert info["frames"] == {"train": 8, "valid": 2, "test": 2}
    with h5py.File(tmp_path / "p.h5") as f:
        assert f["train/frames"].dtype == np.uint8 and f["train/frames"].shape == (8, 88)
        assert bool(f.attrs["binary"]) and not bool(f.attrs["normalised"])
    with open_split("pianoroll", tmp_path / "p.h5", "train", "float32") as data:
        x, mask = data.slices(0, 3)
    assert x.shape == (3, 3, 88) and mask[:, 1].tolist() == [1, 1, 0]
    assert np.flatnonzero(x[0, 0]).tolist() == [60 - 21, 64 - 21, 67 - 21]
    assert x[2, 0].tolist() == [1.0] + [0.0] * 87 and x[1, 0].sum() == 0


def test_a_python_2_pickle_as_distributed_loads(tmp_path):
    # Protocol 2 with byte strings for keys, as Python 2's cPickle wrote them (SHORT_BINSTRING).
    body = pickle.dumps({"train": [[[60]]], "valid": [[[61]]], "test": [[[62]]]}, protocol=2)
    py2 = body.replace(b"X\x05\x00\x00\x00train", b"U\x05train").replace(
        b"X\x05\x00\x00\x00valid", b"U\x05valid").replace(b"X\x04\x00\x00\x00test", b"U\x04test")
    assert b"U\x05train" in py2
    pickletools.dis(py2, out=io.StringIO())  # a well-formed pickle
    (tmp_path / "py2.pickle").write_bytes(py2)
    assert load_pianoroll(tmp_path / "py2.pickle")["test"] == [[[62]]]


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_a_payload_is_refused_naming_the_file_and_nothing_runs(tmp_path, protocol):
    marker = tmp_path / "ran"
    evil = dict(SPLITS, train=SPLITS["train"] + [Payload(f"touch {marker}")])
    src = write(tmp_path / "evil.pickle", evil, protocol)
    with pytest.raises(DataError) as err:
        prepare_pianoroll(src, tmp_path / "p.h5")
    message = str(err.value)
    assert "\n" not in message and str(src) in message
    assert "os.system" in message or "posix.system" in message
    assert not marker.exists() and not (tmp_path / "p.h5").exists()


@pytest.mark.parametrize("value", [{1, 2}, bytearray(b"x"), frozenset()])
def test_values_outside_the_plain_types_are_refused(tmp_path, value):
    src = write(tmp_path / "odd.pickle", dict(SPLITS, extra=value), 5)
    with pytest.raises(DataError, match="odd.pickle: holds a"):
        load_pianoroll(src)


def test_a_pitch_outside_the_keyboard_names_the_sequence_and_step(tmp_path):
    bad = dict(SPLITS, valid=[[[60], [60, 109]]])
    src = write(tmp_path / "bad.pickle", bad, 2)
    with pytest.raises(DataError, match=r"valid sequence 0: step 1 has the pitch 109; expected MIDI pitches 21\.\.108"):
        prepare_pianoroll(src, tmp_path / "p.h5")
    assert not (tmp_path / "p.h5").exists()


@pytest.mark.parametrize("value, problem", [([1, 2], "holds a list"), ({"train": []}, "has no 'valid', 'test'"),
                                            ({"train": 3, "valid": [], "test": []}, "'train' is a int")])
def test_another_layout_is_an_error_saying_what_was_expected(tmp_path, value, problem):
    src = write(tmp_path / "x.pickle", value, 2)
    with pytest.raises(DataError, match=problem):
        load_pianoroll(src)


def test_a_damaged_pickle_is_an_error_naming_the_file(tmp_path):
    src = tmp_path / "cut.pickle"
    src.write_bytes(pickle.dumps(SPLITS, protocol=2)[:40])
    with pytest.raises(DataError, match="cut.pickle: cannot be read as a pickle"):
        load_pianoroll(src)


def test_integral_floats_are_pitches_and_other_values_are_not():
    assert piano_roll([[60.0]], "s")[0, 39] == 1
    with pytest.raises(DataError, match="s: step 0 has the pitch 60.5"):
        piano_roll([[60.5]], "s")
    with pytest.raises(DataError, match="s: step 0 is a int"):
        piano_roll([60], "s")
    for odd in (float("nan"), float("inf"), True, "60"):
        with pytest.raises(DataError, match="s: step 0 has the pitch"):
            piano_roll([[odd]], "s")


PLAIN = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
                     lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
                     | st.dictionaries(st.sampled_from(["train", "valid", "test", "x"]), inner, max_size=4),
                     max_leaves=12)


@FUZZ
@given(payload=st.binary(max_size=80))
def test_any_bytes_give_plain_values_or_one_data_error_line(payload):
    try:
        load_pianoroll_bytes(payload, "fuzz.pickle")
    except DataError as err:
        assert str(err).startswith("fuzz.pickle: ") and "\n" not in str(err)


@FUZZ
@given(value=PLAIN, protocol=st.sampled_from([0, 2, 5]))
def test_any_plain_pickle_prepares_or_is_one_data_error_line(tmp_path_factory, value, protocol):
    folder = tmp_path_factory.mktemp("fuzz")
    src = write(folder / "v.pickle", value, protocol)
    try:
        prepare_pianoroll(src, folder / "p.h5")
    except DataError as err:
        assert str(err).startswith(str(src)) and "\n" not in str(err)
