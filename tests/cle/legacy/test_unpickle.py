"""The restricted reader runs nothing a pickle names: payloads are refused in one line before they
run, legacy classes of any path become inert records, arrays are rebuilt only from checked bytes."""
import pickle
import pickletools
import sys

import numpy as np
import pytest
from legacy_pickles import MODERN, OLD_2015, legacy_mainloop_pickle

from cle.legacy import LegacyPickleError, LegacyRecord, read_mainloop, restricted_loads
from cle.legacy.unpickle import ALLOWED, is_legacy_global, plain_array


class _Payload:
    """Pickles as ``func(*args)``: what an attacker's pickle does."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _global_pickle(module, name, arg):
    """A protocol-0 pickle calling ``module.name(arg)``, written by hand (the global need not exist here)."""
    return f"c{module}\n{name}\n(V{arg}\ntR.".encode()


def assert_one_line_refusal(err, source, global_name):
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{source}: refused the global {global_name} ")
    assert "nothing in the file was run" in message


# ---------------------------------------------------------------------- payloads
@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_os_system_payload_is_refused_without_running(tmp_path, protocol):
    import os

    target = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(os.system, f"touch {target}"), protocol=protocol)
    assert "system" in str(list(pickletools.genops(payload)))
    with pytest.raises(LegacyPickleError) as err:
        restricted_loads(payload, "evil.pkl")
    assert not target.exists()
    assert_one_line_refusal(err, "evil.pkl", f"{os.system.__module__}.system")


def test_the_payload_is_live_under_plain_pickle(tmp_path):
    """The control: the same bytes run the command when read by ``pickle.loads``."""
    import os

    target = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_Payload(os.system, f"touch {target}"), protocol=2))
    assert target.exists()


@pytest.mark.parametrize("module, name", [
    ("os", "system"), ("posix", "system"), ("nt", "system"), ("builtins", "eval"), ("builtins", "exec"),
    ("__builtin__", "eval"), ("builtins", "__import__"), ("builtins", "open"), ("subprocess", "Popen"),
    ("subprocess", "check_output"), ("numpy", "load"), ("numpy.testing._private.utils", "runstring"),
    ("pickle", "loads"), ("shutil", "rmtree"), ("importlib", "import_module"), ("builtins", "type"),
    ("copyreg", "__newobj__"), ("numpy.core.multiarray", "frombuffer"), ("theanoo", "x"),
])
def test_every_other_global_is_refused_naming_it(module, name):
    with pytest.raises(LegacyPickleError) as err:
        restricted_loads(_global_pickle(module, name, "x"), "model.pkl")
    assert_one_line_refusal(err, "model.pkl", f"{module}.{name}")


def test_a_payload_inside_a_legacy_main_loop_is_refused_and_not_run(tmp_path):
    import os

    target = tmp_path / "pwned"
    params = {"b_x_1": _Payload(os.system, f"touch {target}")}
    with pytest.raises(LegacyPickleError) as err:
        restricted_loads(legacy_mainloop_pickle(params), "vrnn_gmm_1.pkl")
    assert not target.exists()
    assert_one_line_refusal(err, "vrnn_gmm_1.pkl", f"{os.system.__module__}.system")


def test_read_mainloop_names_the_file_of_a_payload(tmp_path):
    import os

    path = tmp_path / "best.pkl"
    path.write_bytes(pickle.dumps(_Payload(os.system, "true"), protocol=2))
    with pytest.raises(LegacyPickleError) as err:
        read_mainloop(path)
    assert_one_line_refusal(err, str(path), f"{os.system.__module__}.system")


def test_getattr_reaches_records_only():
    """``getattr(object, '__subclasses__')`` would reach every class in the process."""
    data = b"c__builtin__\ngetattr\n(c__builtin__\nobject\nV__subclasses__\ntR."
    with pytest.raises(LegacyPickleError, match="getattr on type '__subclasses__'"):
        restricted_loads(data, "x.pkl")


def test_getattr_of_a_record_is_an_inert_attribute():
    data = b"c__builtin__\ngetattr\n(ctheano.tensor.type\nTensorType\n)RVfilter\ntR(V1\ntR."
    called = restricted_loads(data, "x.pkl")
    attribute = called.args[0]
    assert attribute.args[1] == "filter" and attribute.args[0].legacy_path() == "theano.tensor.type.TensorType"
    assert called.args[1:] == ("1",)


@pytest.mark.parametrize("factory", ["os\nsystem", "__builtin__\neval"])
def test_defaultdict_of_a_refused_factory_is_refused(factory):
    data = f"ccollections\ndefaultdict\n(c{factory}\ntR.".encode()
    with pytest.raises(LegacyPickleError, match="refused the global"):
        restricted_loads(data, "x.pkl")


def test_defaultdict_takes_container_factories_only():
    data = b"ccollections\ndefaultdict\n(ctheano.x\nY\ntR."
    with pytest.raises(LegacyPickleError, match="defaultdict"):
        restricted_loads(data, "x.pkl")
    assert restricted_loads(b"ccollections\ndefaultdict\n(c__builtin__\nlist\ntR.", "x.pkl").default_factory is list


def test_reconstructor_builds_legacy_records_only():
    ok = restricted_loads(b"ccopy_reg\n_reconstructor\n(ctheano.gof.graph\nApply\nc__builtin__\nobject\nNtR.", "x")
    assert isinstance(ok, LegacyRecord) and ok.legacy_path() == "theano.gof.graph.Apply"
    with pytest.raises(LegacyPickleError, match="_reconstructor"):
        restricted_loads(b"ccopy_reg\n_reconstructor\n(c__builtin__\nlist\nc__builtin__\nobject\nNtR.", "x")


@pytest.mark.parametrize("target", ["numpy.core.multiarray\n_reconstruct", "__builtin__\ngetattr", "numpy\nndarray"])
def test_allowed_globals_cannot_be_changed_by_a_pickle(target):
    """A BUILD on an allowed function (setting its defaults, say) would last into the next read."""
    data = f"c{target}\n(N}}(V__defaults__\n(I1\nttb.".encode()
    with pytest.raises(LegacyPickleError):
        restricted_loads(data, "x.pkl")
    assert restricted_loads(b"ctheano.a\nB\n)R.", "y.pkl").legacy_path() == "theano.a.B"


def test_persistent_ids_are_refused():
    with pytest.raises(LegacyPickleError, match="persistent id"):
        restricted_loads(b"P1\n.", "x.pkl")


@pytest.mark.parametrize("data", [b"", b"\x80\x02", b"garbage", b"\x80\x02}q\x00(X\x01\x00"])
def test_a_damaged_file_is_one_line(data):
    with pytest.raises(LegacyPickleError) as err:
        restricted_loads(data, "cut.pkl")
    assert str(err.value).startswith("cut.pkl: not a readable pickle") and "\n" not in str(err.value)


# ---------------------------------------------------------------------- arrays
def _py2_array(data, shape, code=b"f8"):
    """A numpy array pickled by Python 2 (cPickle protocol 2): the raw bytes as a byte string."""
    dims = b"".join(b"K" + bytes([n]) for n in shape) + {1: b"\x85", 2: b"\x86"}[len(shape)]
    return (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00cnumpy\nndarray\nq\x01K\x00\x85U\x01b\x87Rq\x02"
            b"(K\x01" + dims + b"cnumpy\ndtype\nq\x03U\x02" + code + b"K\x00K\x01\x87Rq\x04"
            b"(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tbI00\nU" + bytes([len(data)]) + data + b"tb.")


def test_a_python2_array_is_read_from_its_byte_string():
    want = np.arange(6, dtype="<f8").reshape(2, 3) / 7
    got = restricted_loads(_py2_array(want.tobytes(), (2, 3)), "py2.pkl")
    assert type(got) is not np.ndarray  # the checked array class; read_mainloop returns plain ones
    np.testing.assert_array_equal(np.asarray(got), want)


def test_an_array_with_the_wrong_byte_count_is_refused():
    with pytest.raises(LegacyPickleError, match="has 8 data bytes; expected 48"):
        restricted_loads(_py2_array(b"\x00" * 8, (2, 3)), "py2.pkl")


@pytest.mark.parametrize("code", [b"O8", b"V8"])
def test_object_and_structured_dtypes_are_refused(code):
    with pytest.raises(LegacyPickleError, match="dtype"):
        restricted_loads(_py2_array(b"\x00" * 8, (1, 1), code=code), "py2.pkl")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_numpy_arrays_and_scalars_of_every_protocol_read_back_equal(protocol, dtype):
    rng = np.random.default_rng(0)
    value = {"a": (rng.normal(size=(3, 4)) > 0 if dtype == "bool" else rng.normal(size=(3, 4)) * 9).astype(dtype),
             "f": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "s": np.float64(2.5), "i": np.int64(-3),
             "e": np.zeros((0, 5)), "big": np.arange(4, dtype=">i4"), "text": np.array(["ab", "cde"])}
    got = restricted_loads(pickle.dumps(value, protocol=protocol), "x.pkl")
    for key, want in value.items():
        assert np.asarray(got[key]).dtype.newbyteorder("=") == np.dtype(want.dtype).newbyteorder("=")
        np.testing.assert_array_equal(np.asarray(got[key]), want)
        if isinstance(want, np.ndarray):
            assert plain_array(got[key]).dtype.isnative and type(plain_array(got[key])) is np.ndarray


def test_a_dtype_state_with_fields_is_refused():
    data = b"cnumpy\ndtype\n(Vf8\nI00\nI01\ntR(K\x03V<\nN(Va\nt}NJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb."
    with pytest.raises(LegacyPickleError, match="expected the state of a plain dtype"):
        restricted_loads(data, "x.pkl")


def test_an_array_needs_a_dtype_made_by_the_pickle_s_numpy_dtype():
    """A plain ndarray's BUILD would reach numpy's C __setstate__: it gets no real dtype to use."""
    state = b"(K\x01K\x01\x85cnumpy\nfloat64\nI00\nC\x08\x00\x00\x00\x00\x00\x00\x00\x00tb."
    data = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R" + state
    with pytest.raises(LegacyPickleError, match="expected a dtype the pickle made with numpy.dtype"):
        restricted_loads(data, "x.pkl")


def test_an_object_array_is_refused():
    with pytest.raises(LegacyPickleError, match="dtype"):
        restricted_loads(pickle.dumps(np.array([1, None], dtype=object), protocol=2), "x.pkl")


def test_ndarray_is_only_a_token_for_reconstruct():
    with pytest.raises(LegacyPickleError, match="numpy.ndarray called directly"):
        restricted_loads(b"cnumpy\nndarray\n((I100\ntV<f8\ntR.", "x.pkl")


# ---------------------------------------------------------------------- legacy classes
@pytest.mark.parametrize("path", [
    "theano.gof.graph.Apply", "theano.graph.basic.Apply", "theano.sandbox.cuda.var.CudaNdarraySharedVariable",
    "theano.sandbox.cuda.type.CudaNdarray_unpickler", "theano.gpuarray.type.GpuArray_unpickler",
    "cle.cle.layers.feedforward.FullyConnectedLayer", "pygpu.gpuarray.GpuArray", "theano.compile.mode.Mode",
])
def test_any_theano_or_cle_path_is_an_inert_record(path):
    module, name = path.rsplit(".", 1)
    assert is_legacy_global(module, name)
    record = restricted_loads(_global_pickle(module, name, "arg"), "x.pkl")
    assert isinstance(record, LegacyRecord) and record.legacy_path() == path and record.args == ("arg",)
    assert not any(m == "theano" or m.startswith("theano.") for m in sys.modules)


@pytest.mark.parametrize("data", [b"(itheano.gof.graph\nApply\n(dp0\nS'a'\nI1\nsb.",  # protocol 0, old-style class
                                  b"(ctheano.gof.graph\nApply\no}U\x01aK\x01sb."])  # protocol 1 OBJ
def test_python2_old_style_instances_are_records(data):
    record = restricted_loads(data, "py2.pkl")
    assert record.legacy_path() == "theano.gof.graph.Apply" and record.get("a") == 1


def test_a_record_keeps_elements_items_and_state():
    data = b"ctheano.misc.ordered_set\nOrderedSet\n)R(K\x01K\x02e(V_k\nK\x04u}(V_x\nK\x03ub."
    record = restricted_loads(data, "x.pkl")
    assert record.elements == [1, 2] and record.items == [("_k", 4)] and record.get("_x") == 3


def test_the_allowed_globals_are_the_documented_few():
    names = sorted({name for _, name in ALLOWED})
    assert names == sorted(["_reconstruct", "scalar", "_frombuffer", "dtype", "ndarray", "OrderedDict", "defaultdict",
                            "encode", "_reconstructor", "list", "dict", "tuple", "set", "frozenset", "slice", "complex",
                            "object", "getattr", "bytearray", "bytes", "bool_", "int8", "int16", "int32", "int64",
                            "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64", "complex64",
                            "complex128"])


# ---------------------------------------------------------------------- whole main loops
@pytest.mark.parametrize("paths, gpu", [(MODERN, False), (OLD_2015, True), (OLD_2015, False)])
@pytest.mark.parametrize("protocol", [0, 1, 2, 5])
def test_hand_made_main_loops_of_other_theano_paths_read(tmp_path, paths, gpu, protocol):
    rng = np.random.default_rng(1)
    params = {"W_x_t__x_1": rng.normal(size=(3, 5)), "b_x_1": rng.normal(size=5)}
    state = {"step_count": np.array(3.0), "rnn_tm1": rng.normal(size=(2, 4))}
    monitor = {"update": [[np.array(1.5)], [np.array(1.25)]], "time": [0.1, 0.2], "valid_nll_upper_bound": [2.0, 1.0]}
    path = tmp_path / "loop.pkl"
    path.write_bytes(legacy_mainloop_pickle(params, state, monitor, batch_seen=2, epoch_seen=1, paths=paths,
                                            protocol=protocol, gpu=gpu))
    loop = read_mainloop(path)
    assert list(loop.params) == list(params) and list(loop.state) == ["step_count", "rnn_tm1"]
    for name, value in {**params, **state}.items():
        got = loop.params.get(name, loop.state.get(name))
        assert type(got) is np.ndarray
        np.testing.assert_array_equal(got, value)
    assert loop.batches == [[1.5], [1.25]] and loop.times == [0.1, 0.2]
    assert loop.monitor == {"valid_nll_upper_bound": [2.0, 1.0]}
    assert (loop.batch_seen, loop.epoch_seen) == (2, 1)
    assert paths["shared"] in loop.classes and paths["apply"] in loop.classes
    assert ("theano.sandbox.cuda.type.CudaNdarray_unpickler" in loop.classes) == gpu


def test_a_pickle_of_the_model_alone_reads_without_a_log(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(legacy_mainloop_pickle({"b_x_1": np.ones(3)}, top="model"))
    loop = read_mainloop(path)
    assert loop.name is None and loop.batch_seen is None and not loop.monitor
    np.testing.assert_array_equal(loop.params["b_x_1"], np.ones(3))


def test_a_pickle_of_something_else_is_one_line(tmp_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps([1, 2], protocol=2))
    with pytest.raises(LegacyPickleError, match=r"holds a list, not a legacy main loop"):
        read_mainloop(path)


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(LegacyPickleError, match="cannot be read"):
        read_mainloop(tmp_path / "none.pkl")


def test_an_unpickler_never_imports_what_it_reads():
    before = set(sys.modules)
    restricted_loads(legacy_mainloop_pickle({"b": np.zeros(1)}, paths=OLD_2015), "x")
    assert not {m for m in set(sys.modules) - before if m.split(".")[0] in ("theano", "pygpu")}
