"""Fuzzing the readers of checkpoint files: manifest.json, the JSON documents, the .npz payloads,
and the rng / loop / extension / iterator states. Every input gives a valid result or a clean
CheckpointError (a UserError) -- never another exception."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from fuzz_strategies import FUZZ, JSON, PATHS, mutate
from hypothesis import given
from hypothesis import strategies as st

from cle.data import DesignMatrix, Iterator
from cle.train.checkpoint import CheckpointError, read_checkpoint, write_checkpoint
from cle.train.ext import EarlyStopping, EpochCount, GradientClipping, LrLinearDecay, Monitoring, WeightNorm
from cle.train.state import _bit_generators, _load_extension_states, _saved_extensions


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    directory = write_checkpoint(tmp_path_factory.mktemp("ck") / "last",
                                 {"params": {"W": np.ones((3, 2)), "b": np.zeros(2, np.float32)}},
                                 {"loop": {"extensions": [], "iterator": None}, "rng": {}})
    return directory, json.loads((directory / "manifest.json").read_text())


def restamped(directory, name, payload):
    (directory / name).write_bytes(payload)
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["files"][name] = {"sha256": hashlib.sha256(payload).hexdigest(), "bytes": len(payload)}
    (directory / "manifest.json").write_text(json.dumps(manifest))


def read_or_refuse(directory):
    try:
        read_checkpoint(directory)
    except CheckpointError as err:
        assert "\n" not in str(err) and str(directory) in str(err)


@FUZZ
@given(path=PATHS, value=JSON)
def test_a_mutated_manifest_loads_or_is_refused(good, tmp_path, path, value):
    directory, manifest = good
    (directory / "manifest.json").write_text(json.dumps(mutate(manifest, path, value)))
    read_or_refuse(directory)


@FUZZ
@given(payload=st.binary(max_size=64))
def test_manifest_bytes_load_or_are_refused(good, payload):
    directory, manifest = good
    (directory / "manifest.json").write_bytes(payload)
    read_or_refuse(directory)
    (directory / "manifest.json").write_text(json.dumps(manifest))


@FUZZ
@given(cut=st.integers(0, 10 ** 6), flip=st.integers(0, 10 ** 6), byte=st.integers(0, 255))
def test_a_damaged_npz_with_a_matching_manifest_loads_or_is_refused(good, tmp_path, cut, flip, byte):
    directory, manifest = good
    original = (directory / "params.npz").read_bytes()
    payload = bytearray(original[:cut % (len(original) + 1)])
    if payload:
        payload[flip % len(payload)] = byte
    restamped(directory, "params.npz", bytes(payload))
    read_or_refuse(directory)
    (directory / "params.npz").write_bytes(original)
    (directory / "manifest.json").write_text(json.dumps(manifest))


@FUZZ
@given(payload=st.binary(max_size=40) | JSON.map(lambda v: json.dumps(v).encode()))
def test_a_json_document_with_a_matching_manifest_loads_or_is_refused(good, payload):
    directory, manifest = good
    original = (directory / "loop.json").read_bytes()
    restamped(directory, "loop.json", payload)
    read_or_refuse(directory)
    (directory / "loop.json").write_bytes(original)
    (directory / "manifest.json").write_text(json.dumps(manifest))


GOOD_RNG = {"noise": np.random.PCG64(1).state}


@FUZZ
@given(path=PATHS, value=JSON)
def test_rng_json_gives_bit_generators_or_is_refused(tmp_path, path, value):
    document = mutate(json.loads(json.dumps(GOOD_RNG)), path, value)
    try:
        out = _bit_generators(tmp_path, document, {"noise": None})
    except CheckpointError:
        return
    assert isinstance(out["noise"], np.random.BitGenerator)


GOOD_LOOP = {"iterator": None, "extensions": [{"class": "EarlyStopping", "state": {"best": 1.0}}]}


@FUZZ
@given(path=PATHS, value=JSON)
def test_loop_json_gives_extension_states_or_is_refused(tmp_path, path, value):
    try:
        exts = _saved_extensions(tmp_path, mutate(GOOD_LOOP, path, value))
    except CheckpointError:
        return
    assert all(isinstance(e["class"], str) and isinstance(e["state"], dict) for e in exts)


#: What Training.load_checkpoint turns into CheckpointError when a saved iterator position does not load.
STATE_ERRORS = (KeyError, ValueError, TypeError, AttributeError, IndexError)


#: Where the extension states below come from (only named in messages: nothing is read).
CHECKPOINT = Path("run") / "checkpoints" / "last"


def fresh_extensions():
    return (EarlyStopping("valid_nll"), EpochCount(2), Monitoring(freq=2), GradientClipping(), WeightNorm(),
            LrLinearDecay(1, 3, 0.5))


def as_text(state):
    return json.dumps(state, sort_keys=True)


@FUZZ
@given(state=st.dictionaries(st.sampled_from(["best", "best_batch", "bad_steps", "data", "lr0", "x"]),
                             JSON, max_size=4))
def test_an_extension_state_loads_or_is_a_checkpoint_error_naming_loop_json(state):
    for ext in fresh_extensions():
        name, before = type(ext).__name__, as_text(ext.state_dict())
        try:
            _load_extension_states(CHECKPOINT, [ext], [{"class": name, "state": state}])
        except CheckpointError as err:
            message = str(err)
            assert message.startswith(f"checkpoint {CHECKPOINT}: loop.json state of {name} does not load")
            assert "\n" not in message
            assert as_text(ext.state_dict()) == before  # refused before anything changed
            continue
        saved = ext.state_dict()
        again = next(e for e in fresh_extensions() if type(e) is type(ext))
        again.load_state_dict(json.loads(json.dumps(saved)))  # what a resumed run reads back
        assert as_text(again.state_dict()) == as_text(saved)


@pytest.mark.parametrize("state", [{"best": "1.5"}, {"best_batch": 2.5}, {"bad_steps": True}])
def test_a_wrong_type_in_a_saved_early_stopping_state_is_a_checkpoint_error(state):
    ext, key = EarlyStopping("valid_nll"), next(iter(state))
    with pytest.raises(CheckpointError, match=rf"^checkpoint {CHECKPOINT}: loop.json state of EarlyStopping "
                                              rf"does not load \(ValueError\(.saved {key} must be a number"):
        _load_extension_states(CHECKPOINT, [ext], [{"class": "EarlyStopping", "state": state}])
    assert ext.state_dict() == {"best": None, "best_batch": None, "bad_steps": 0}


def test_a_saved_early_stopping_state_is_restored_exactly():
    ext = EarlyStopping("valid_nll")
    _load_extension_states(CHECKPOINT, [ext], [{"class": "EarlyStopping",
                                                "state": {"best": 3.25, "best_batch": 40, "bad_steps": 2}}])
    assert ext.state_dict() == {"best": 3.25, "best_batch": 40, "bad_steps": 2}


@FUZZ
@given(path=PATHS, value=JSON)
def test_an_iterator_position_loads_or_raises_what_load_checkpoint_reports(path, value):
    data = Iterator(DesignMatrix("train", data=[np.zeros((12, 2))]), batch_size=4, shuffle=True, seed=1)
    saved = json.loads(json.dumps(data.state_dict()))
    try:
        data.load_state_dict(mutate(saved, path, value))
    except STATE_ERRORS:
        return
    assert 0 <= data.position <= len(data)
    for _ in data:
        pass
