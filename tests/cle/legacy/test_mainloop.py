"""The legacy code's own pickles (golden ``legacy_blizzard_tiny_mainloop*.pkl.gz``: protocol 5, and
the protocol-2 re-dump of the same main loop) read as plain data equal to the legacy reference."""
import gzip
import sys

import numpy as np
import pytest
from golden_data import golden_file, load_golden

from cle.legacy import read_mainloop

PICKLES = ["legacy_blizzard_tiny_mainloop.pkl.gz", "legacy_blizzard_tiny_mainloop_proto2_redump.pkl.gz"]


@pytest.fixture(scope="module")
def reference():
    return load_golden("legacy_blizzard_tiny_reference")


@pytest.fixture(scope="module", params=PICKLES)
def loop(request):
    return read_mainloop(golden_file(request.param))


def test_parameters_equal_the_reference_bit_for_bit_in_legacy_order(loop, reference):
    names = [str(n) for n in reference["param_names"]]
    assert list(loop.params) == names and loop.n_param_values() == 5187
    for name in names:
        value = loop.params[name]
        assert type(value) is np.ndarray and value.dtype == np.float64 and value.flags.writeable
        np.testing.assert_array_equal(value, reference[f"param__{name}"])


def test_tbptt_state_equals_the_reference(loop, reference):
    assert list(loop.state) == ["step_count", "rnn_tm1"]
    np.testing.assert_array_equal(loop.state["step_count"], reference["state_step_count"])
    np.testing.assert_array_equal(loop.state["rnn_tm1"], reference["state_rnn_tm1"])


def test_training_log_equals_the_reference(loop, reference):
    assert (loop.name, loop.batch_seen, loop.epoch_seen) == ("vrnn_gmm_1", 8, 2)
    np.testing.assert_array_equal(np.asarray(loop.batches), reference["train_updates_returned"])
    assert len(loop.times) == 8 and loop.n_monitoring_steps() == 3
    for key in reference.files:
        if key.startswith("log_"):
            np.testing.assert_array_equal(loop.monitor[key[len("log_"):]], reference[key])


def test_layers_are_the_legacy_script_s(loop):
    assert len(loop.layers) == 28 and list(loop.layers)[:2] == ["rnn", "x_1"]
    assert loop.layers["theta_sig"]["unit"] == "softplus" and loop.layers["theta_sig"]["cons"] == 1e-4
    assert dict(loop.layers["theta_1"]["parent"]) == {"z_4": 8, "s_tm1": 16}


def test_the_pickle_names_theano_and_cle_classes_and_none_is_imported(loop):
    assert "theano.tensor.sharedvar.TensorSharedVariable" in loop.classes
    assert "cle.cle.train.Training" in loop.classes and "theano.scan.op.Scan" in loop.classes
    assert not any(m == "theano" or m.startswith("theano.") for m in sys.modules)


def test_the_uncompressed_pickle_reads_the_same(tmp_path, reference):
    path = tmp_path / "vrnn_gmm_1.pkl"
    path.write_bytes(gzip.decompress(golden_file(PICKLES[1]).read_bytes()))
    loop = read_mainloop(path)
    assert loop.source == str(path)
    np.testing.assert_array_equal(loop.params["U_rnn__rnn"], reference["param__U_rnn__rnn"])
