"""Training.run on faults: an error mid-training saves ``last`` of the last completed update (and a
resume from it equals an uninterrupted run), an error of the checkpoint writer is not followed by
another write, and hand-edited rng.json / loop.json are refused before anything changes."""
import hashlib
import json

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from cle.backend import precision
from cle.data import DesignMatrix, Iterator
from cle.models import Model
from cle.train import CheckpointError, Training
from cle.train import checkpoint as ckpt
from cle.train.ext import Checkpoint, EpochCount, Extension, GradientClipping, Monitoring
from cle.train.opt import Adam

N_EXAMPLES, BATCH, NUM_EPOCH = 20, 4, 2            # 5 batches per epoch
FAIL_AT_READ = 8                                   # the 8th batch read: update 8 of 10
DATA_RNG = np.random.default_rng(12)
X = DATA_RNG.normal(size=(N_EXAMPLES, 3))
Y = X @ np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]]) + 0.3


class FlakyData(DesignMatrix):
    """Raises OSError (as h5py does on a damaged chunk) on the read numbered ``fail_at``."""

    def __init__(self, fail_at=None):
        super().__init__("train", data=[X, Y])
        self.fail_at, self.reads = fail_at, 0

    def slices(self, start, end):
        self.reads += 1
        if self.reads == self.fail_at:
            raise OSError("Can't synchronously read data (filter returned failure during read)")
        return super().slices(start, end)


class FlakyMonitor(Extension):
    """Raises OSError (a damaged validation file) in ext_monitor before update ``fail_at``."""

    name = "ext_monitor"

    def __init__(self, fail_at=None):
        self.fail_at = fail_at

    def exec(self, mainloop):
        if mainloop.trainlog.batch_seen == self.fail_at:
            raise OSError("Can't synchronously read data (valid split)")


def make_training(run_dir, fail_at=None, monitor_fail_at=None):
    with precision("float64"):
        x = pt.matrix("x", dtype="float64")
        y = pt.matrix("y", dtype="float64")
        W = pytensor.shared(np.full((3, 2), 0.1), name="W_x__y")
        b = pytensor.shared(np.zeros(2), name="b_y")
        rng = pytensor.shared(np.random.default_rng(5), name="noise_rng")
        next_rng, noise = pt.random.normal(0.0, 0.1, size=(x.shape[0], 2), rng=rng,
                                           return_next_rng=True)
        cost = pt.sqr(x @ W + b + noise - y).mean()
        cost.name = "mse"
        model = Model(inputs=[x, y], params=[W, b])
        model.set_updates([(rng, next_rng)])
        data = Iterator(FlakyData(fail_at), batch_size=BATCH, shuffle=True, seed=3)
        extensions = [GradientClipping(batch_size=BATCH), Monitoring(freq=3), EpochCount(NUM_EPOCH),
                      Checkpoint(path=run_dir / "ckpt", freq=1000), FlakyMonitor(monitor_fail_at)]
        return Training("tiny", data, model, Adam(lr=0.05), cost, [cost], extension=extensions,
                        run_dir=run_dir, progress=False)


def params_of(training):
    return {k: np.array(v.get_value()) for k, v in training.model.param_dict.items()}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    training = make_training(tmp_path_factory.mktemp("a"))
    training.run()
    return training


@pytest.fixture(scope="module")
def failed(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("b")
    training = make_training(run_dir, fail_at=FAIL_AT_READ)
    with pytest.raises(OSError, match="filter returned failure"):
        training.run()
    return training, run_dir


def test_an_error_mid_training_saves_last_for_the_last_completed_update(failed):
    training, run_dir = failed
    assert training.saved_on_error == run_dir / "ckpt" / "last"
    _, _, documents = ckpt.read_checkpoint(run_dir / "ckpt")
    assert documents["trainlog"]["batch_seen"] == FAIL_AT_READ - 1
    events = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert events[-2]["event"] == "checkpoint" and events[-1]["event"] == "failed"


def test_a_resume_after_the_error_rereads_the_failed_batch_and_equals_an_uninterrupted_run(
        failed, uninterrupted, tmp_path):
    _, run_dir = failed
    resumed = make_training(tmp_path)                      # the fault is gone (file repaired)
    resumed.load_checkpoint(run_dir / "ckpt")
    resumed.run()
    assert resumed.trainlog.batch_seen == uninterrupted.trainlog.batch_seen
    for name, value in params_of(uninterrupted).items():
        np.testing.assert_array_equal(params_of(resumed)[name], value)


def test_an_error_while_monitoring_saves_last_so_that_the_batch_in_hand_is_trained_on_resume(
        uninterrupted, tmp_path):
    failing = make_training(tmp_path / "a", monitor_fail_at=6)   # batch 7 read, not trained
    with pytest.raises(OSError, match="valid split"):
        failing.run()
    assert ckpt.read_checkpoint(tmp_path / "a" / "ckpt")[2]["trainlog"]["batch_seen"] == 6
    resumed = make_training(tmp_path / "b")
    resumed.load_checkpoint(tmp_path / "a" / "ckpt")
    resumed.run()
    for name, value in params_of(uninterrupted).items():
        np.testing.assert_array_equal(params_of(resumed)[name], value)


def test_an_error_of_the_checkpoint_writer_is_not_followed_by_another_write(tmp_path, monkeypatch):
    training = make_training(tmp_path)
    writes = []

    def full_disk(directory, arrays, documents):
        writes.append(directory)
        raise ckpt.CheckpointWriteError(f"{directory}: cannot write (No space left on device)")

    monkeypatch.setattr("cle.train.training.write_checkpoint", full_disk)
    with pytest.raises(ckpt.CheckpointWriteError):
        training.run()                                     # the final save fails
    assert len(writes) == 1 and training.saved_on_error is None


def restamp(directory):
    manifest = json.loads((directory / "manifest.json").read_text())
    for name in manifest["files"]:
        data = (directory / name).read_bytes()
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (directory / "manifest.json").write_text(json.dumps(manifest))


def edited_copy(uninterrupted, tmp_path, stem, edit):
    directory = uninterrupted.save_checkpoint("edited", root=tmp_path)
    document = json.loads((directory / f"{stem}.json").read_text())
    edit(document)
    (directory / f"{stem}.json").write_text(json.dumps(document))
    restamp(directory)
    return directory


@pytest.mark.parametrize("stem, edit, expected", [
    ("rng", lambda d: d["noise_rng"].update(bit_generator="os.system"),
     "names bit_generator 'os.system'; expected one of PCG64"),
    ("rng", lambda d: d["noise_rng"].update(bit_generator="__class__"), "bit_generator '__class__'"),
    ("rng", lambda d: d["noise_rng"].update(state="x"), "not a valid PCG64 state"),
    ("rng", lambda d: d.update(noise_rng=[1, 2]), "bit_generator None"),
    ("loop", lambda d: d.update(extensions={"a": 1}), "loop.json is not of the expected shape"),
    ("loop", lambda d: d["extensions"][0].pop("state"), "loop.json is not of the expected shape"),
    ("loop", lambda d: d.pop("iterator"), "loop.json is not of the expected shape"),
    ("loop", lambda d: d["extensions"][1]["state"].update(data="x"), "state of Monitoring"),
    ("loop", lambda d: d["iterator"].update(next="x"), "iterator position in loop.json"),
    ("trainlog", lambda d: d.update(monitor=5), "trainlog is inconsistent"),
])
def test_hand_edited_run_files_are_refused_and_change_nothing(uninterrupted, tmp_path, stem, edit,
                                                             expected):
    directory = edited_copy(uninterrupted, tmp_path, stem, edit)
    before = params_of(uninterrupted)
    with pytest.raises(CheckpointError) as caught:
        uninterrupted.load_checkpoint(directory)
    assert expected in str(caught.value) and str(directory) in str(caught.value)
    for name, value in before.items():
        np.testing.assert_array_equal(params_of(uninterrupted)[name], value)
