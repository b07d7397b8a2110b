"""cle.function_store: compiled functions kept on disk, bound to the caller's variables on load.

Each test compiles a small scan graph into a fresh store, then loads it as a later process would
(new shared variables with the same names), and checks what the loaded function computes and
updates against a function compiled directly.
"""
import gzip
import json
import logging
import os
import time

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from cle import function_store
from cle.function_store import FunctionStore

SPEC = {"what": "a scan with a learning step"}


def _variables(w0=0.5):
    """The caller's shared variables: a (3, 3) weight and a step counter."""
    w = pytensor.shared(np.full((3, 3), w0), name="w")
    count = pytensor.shared(np.int64(0), name="count")
    return {"w": w, "count": count}


def _build(live):
    """A recurrent cost, one SGD step on w and a counter; the velocity ``v`` is made here."""
    w, count = live["w"], live["count"]
    x = pt.dmatrix("x")
    hs = pytensor.scan(lambda x_t, h: pt.tanh(x_t @ w + h), sequences=[x],
                       outputs_info=[pt.zeros(3, dtype="float64")], return_updates=False)
    cost = (hs ** 2).sum()
    velocity = pytensor.shared(np.zeros((3, 3)), name="velocity")
    new_velocity = 0.9 * velocity + pt.grad(cost, w)
    fn = pytensor.function([x], cost, updates=[(velocity, new_velocity), (w, w - 0.01 * new_velocity),
                                               (count, count + 1)])
    return fn, {"velocity": velocity}


X = np.linspace(-1, 1, 12).reshape(4, 3)


def _steps(fn, n=3):
    return [float(fn(X)) for _ in range(n)]


def test_a_loaded_function_computes_and_updates_like_a_compiled_one(tmp_path):
    reference = _variables()
    fn, extra = _build(reference)
    expected = _steps(fn)

    store = FunctionStore(tmp_path)
    first = _variables()
    fn1, _ = store.compile(SPEC, first, lambda: _build(first))
    assert store.last_event == "compiled"
    later = _variables()  # a later process: new variables, same names
    fn2, extra2 = store.compile(SPEC, later, lambda: pytest.fail("compiled although stored"))
    assert store.last_event == "loaded"
    assert _steps(fn2) == expected
    np.testing.assert_array_equal(later["w"].get_value(), reference["w"].get_value())
    assert int(later["count"].get_value()) == 3
    # The slot made while building comes back with its compile-time value and is updated in place.
    np.testing.assert_array_equal(extra2["velocity"].get_value(), extra["velocity"].get_value())
    # What the caller sets is what the loaded function reads.
    later["w"].set_value(np.full((3, 3), 0.5))
    extra2["velocity"].set_value(np.zeros((3, 3)))
    assert float(fn2(X)) == expected[0]


def test_the_stored_values_are_not_in_the_entry(tmp_path):
    store = FunctionStore(tmp_path)
    live = _variables(w0=0.123456789)
    store.compile(SPEC, live, lambda: _build(live))
    later = _variables(w0=7.0)
    fn, _ = store.compile(SPEC, later, lambda: pytest.fail("compiled although stored"))
    fresh = _variables(w0=7.0)
    direct, _ = _build(fresh)
    assert float(fn(X)) == float(direct(X))  # computed from the caller's 7.0, not the stored 0.12


def test_large_zero_slots_are_stored_by_shape_and_come_back_as_zeros(tmp_path):
    """An optimizer's fresh slots (all zeros) are stored as shape and dtype, not gzipped bytes (the
    paper's Blizzard model: 760 MB of Adam moments); other arrays keep their values."""
    def build(live):
        big = pytensor.shared(np.zeros((300, 300)), name="big")     # 720 kB of zeros: by shape
        ones = pytensor.shared(np.ones((300, 300)), name="ones")    # 720 kB of ones: by value
        fn = pytensor.function([], (big + ones).sum() + live["w"].sum(), updates=[(big, big + 1)])
        return fn, {"big": big, "ones": ones}

    store = FunctionStore(tmp_path)
    live = _variables()
    store.compile({"what": "slots"}, live, lambda: build(live))
    (entry,) = tmp_path.glob("*.pkl.gz")
    assert 720_000 < len(gzip.decompress(entry.read_bytes())) < 1_000_000
    later = _variables()
    fn, extra = store.compile({"what": "slots"}, later, lambda: pytest.fail("compiled although stored"))
    assert store.last_event == "loaded"
    assert extra["big"].get_value().dtype == np.float64
    np.testing.assert_array_equal(extra["big"].get_value(), np.zeros((300, 300)))
    np.testing.assert_array_equal(extra["ones"].get_value(), np.ones((300, 300)))
    assert float(fn()) == 90_000 + 4.5 and float(fn()) == 2 * 90_000 + 4.5


def test_each_spec_and_source_has_its_own_entry(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "graph.py").write_text("A = 1\n")
    store = FunctionStore(tmp_path / "store", source_roots=[tmp_path / "src"])
    key = store.key(SPEC)
    assert store.key({"what": "another"}) != key
    (tmp_path / "src" / "graph.py").write_text("A = 2\n")
    function_store.source_digest.cache_clear()
    assert store.key(SPEC) != key


def test_a_damaged_entry_is_removed_and_compiled_again(tmp_path, caplog):
    store = FunctionStore(tmp_path)
    live = _variables()
    store.compile(SPEC, live, lambda: _build(live))
    (entry,) = tmp_path.glob("*.pkl.gz")
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    later = _variables()
    with caplog.at_level(logging.WARNING, logger="cle.function_store"):
        fn, _ = store.compile(SPEC, later, lambda: _build(later))
    assert store.last_event == "compiled"
    assert "SHA-256 does not match" in caplog.text and str(entry) in caplog.text
    reference = _variables()
    assert _steps(fn) == _steps(_build(reference)[0])
    meta = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert meta["sha256"] != "" and entry.exists()  # stored again, whole


def test_an_entry_naming_a_variable_the_caller_lacks_is_compiled_again(tmp_path, caplog):
    store = FunctionStore(tmp_path)
    live = _variables()
    store.compile(SPEC, live, lambda: _build(live))
    later = _variables()
    del later["count"]  # the caller no longer has it: the entry cannot be bound
    count = pytensor.shared(np.int64(0), name="count")
    with caplog.at_level(logging.WARNING, logger="cle.function_store"):
        store.compile(SPEC, later, lambda: _build({**later, "count": count}))
    assert store.last_event != "loaded" and "unusable" in caplog.text


def test_a_function_reading_a_shared_variable_the_caller_did_not_name_is_not_stored(tmp_path):
    store = FunctionStore(tmp_path)
    live = _variables()
    hidden = pytensor.shared(np.float64(2.0), name="hidden")
    x = pt.dscalar("x")
    store.compile(SPEC, live, lambda: (pytensor.function([x], x * hidden + live["w"].sum()), None))
    assert store.last_event == "unstored"
    assert not list(tmp_path.glob("*.pkl.gz"))


def test_the_store_is_off_when_the_environment_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv(function_store.STORE_ENV, "off")
    assert function_store.default_directory() is None
    store = function_store.default_store()
    live = _variables()
    store.compile(SPEC, live, lambda: _build(live))
    assert store.last_event == "unstored"
    monkeypatch.setenv(function_store.STORE_ENV, str(tmp_path))
    assert function_store.default_directory() == tmp_path
    monkeypatch.delenv(function_store.STORE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert function_store.default_directory() == tmp_path / "vrnn-pytensor" / "functions"


def test_entries_left_unused_and_temporaries_of_killed_writers_are_pruned(tmp_path):
    store = FunctionStore(tmp_path)
    live = _variables()
    store.compile(SPEC, live, lambda: _build(live))
    (meta,) = tmp_path.glob("*.json")
    leftover = tmp_path / ".abc.pkl.gz.tmp-12345"
    leftover.write_bytes(b"half an entry")
    long_ago = time.time() - (function_store.MAX_IDLE_DAYS + 1) * 86400
    os.utime(leftover, (long_ago, long_ago))
    store.prune()
    assert meta.exists() and not leftover.exists()  # the entry was written just now
    os.utime(meta, (long_ago, long_ago))
    later = _variables()
    store.compile(SPEC, later, lambda: pytest.fail("compiled although stored"))  # loading marks it used
    store.prune()
    assert meta.exists()
    os.utime(meta, (long_ago, long_ago))
    store.prune()
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- no code from a shared folder
class _Payload:
    """A pickle that, when loaded, writes the file ``path`` (what a planted entry would do)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').write('ran')",))


def _plant(store, spec, payload_path):
    """An entry for ``spec`` whose pickle runs the payload, with its digest recomputed."""
    import gzip
    import hashlib
    import pickle

    data = gzip.compress(pickle.dumps({"maker": _Payload(payload_path), "extra": None}))
    key = store.key(spec)
    (store.directory / f"{key}.pkl.gz").write_bytes(data)
    (store.directory / f"{key}.json").write_text(json.dumps({"sha256": hashlib.sha256(data).hexdigest()}))
    return key


def _compile_in(store, caplog):
    live = _variables()
    with caplog.at_level(logging.WARNING, logger="cle.function_store"):
        fn, _ = store.compile(SPEC, live, lambda: _build(live))
    return fn


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777, 0o722], ids=["shared", "group", "sticky", "others"])
def test_a_planted_entry_in_a_folder_others_can_write_never_runs(tmp_path, caplog, mode):
    folder = tmp_path / "store"
    folder.mkdir()
    os.chmod(folder, mode)
    store = FunctionStore(folder)
    payload = tmp_path / "payload-ran"
    _plant(store, SPEC, payload)
    fn = _compile_in(store, caplog)
    assert not payload.exists()
    assert store.last_event == "unstored"  # compiled afresh, and nothing stored in that folder
    assert _steps(fn) == _steps(_build(_variables())[0])
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "writable by group or others" in refusals[0].getMessage()
    assert len(list(folder.glob("*.pkl.gz"))) == 1  # only the planted one: nothing written there


def test_a_store_made_under_umask_000_is_private_and_an_old_loose_one_is_refused(tmp_path, caplog):
    previous = os.umask(0)
    try:
        store = FunctionStore(tmp_path / "made" / "store")
        live = _variables()
        store.compile(SPEC, live, lambda: _build(live))
        assert store.last_event == "compiled"
        for path in [store.directory, store.directory.parent]:
            assert path.stat().st_mode & 0o777 == 0o700
        assert {p.stat().st_mode & 0o777 for p in store.directory.iterdir()} == {0o600}
        # A store an earlier version made under umask 000 (folder 0777, files 0666): refused.
        loose = tmp_path / "loose"
        loose.mkdir(mode=0o777)
        payload = tmp_path / "payload-ran"
        _plant(FunctionStore(loose), SPEC, payload)
        old = FunctionStore(loose)
        _compile_in(old, caplog)
        assert not payload.exists() and old.last_event == "unstored" and "refused" in caplog.text
    finally:
        os.umask(previous)


def test_a_loose_or_foreign_entry_in_a_private_store_is_refused_and_compiled_again(tmp_path, caplog):
    store = FunctionStore(tmp_path / "store")
    store.directory.mkdir(mode=0o700)
    payload = tmp_path / "payload-ran"
    key = _plant(store, SPEC, payload)
    os.chmod(store.directory / f"{key}.pkl.gz", 0o666)
    _compile_in(store, caplog)
    assert not payload.exists() and store.last_event == "compiled" and "refused" in caplog.text
    if os.geteuid() == 0:  # only root can give a file away: an entry another user owns
        key = _plant(store, SPEC, payload)
        os.chown(store.directory / f"{key}.pkl.gz", 12345, 12345)
        caplog.clear()
        _compile_in(store, caplog)
        assert not payload.exists() and "owned by uid 12345" in caplog.text


def test_symbolic_links_in_the_store_are_refused(tmp_path, caplog):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    payload = tmp_path / "payload-ran"
    key = _plant(FunctionStore(elsewhere), SPEC, payload)
    store = FunctionStore(tmp_path / "store")
    store.directory.mkdir(mode=0o700)
    for name in (f"{key}.pkl.gz", f"{key}.json"):
        (store.directory / name).symlink_to(elsewhere / name)
    _compile_in(store, caplog)
    assert not payload.exists() and "refused" in caplog.text
    linked = FunctionStore(tmp_path / "linked")
    linked.directory.symlink_to(elsewhere)
    caplog.clear()
    _compile_in(linked, caplog)
    assert not payload.exists() and "symbolic link" in caplog.text and linked.last_event == "unstored"
