"""Training.run on a tiny noisy linear model: resume equals an uninterrupted run, SIGINT saves.

The model, y = x @ W + b + noise with the noise drawn inside the graph from a shared numpy
Generator, is compiled once per Training (four times in this module, all the same graph).
"""
import json
import os
import signal

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from cle.backend import Backend, precision
from cle.data import DesignMatrix, Iterator
from cle.function_store import FunctionStore
from cle.models import Model
from cle.train import CheckpointError, Training, TrainingInterrupted
from cle.train.checkpoint import write_checkpoint
from cle.train.ext import Checkpoint, EpochCount, Extension, GradientClipping, LrExponentialDecay, Monitoring
from cle.train.opt import Adam

N_EXAMPLES, BATCH, NUM_EPOCH = 22, 4, 3          # 5 batches per epoch, 2 examples dropped
TOTAL_UPDATES = NUM_EPOCH * (N_EXAMPLES // BATCH)
INTERRUPT_AT = 7                                   # mid-way through the second epoch
DATA_RNG = np.random.default_rng(11)
X = DATA_RNG.normal(size=(N_EXAMPLES, 3))
Y = X @ np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]]) + 0.3


class SignalAt(Extension):
    """Sends SIGINT to this process after update ``at`` (inert when ``at`` is None)."""

    name = "ext_save"

    def __init__(self, at=None):
        self.at = at

    def exec(self, mainloop):
        if mainloop.trainlog.batch_seen == self.at:
            os.kill(os.getpid(), signal.SIGINT)


def make_training(run_dir, x_data=X, interrupt_at=None, store=None):
    with precision("float64"):
        x = pt.matrix("x", dtype="float64")
        y = pt.matrix("y", dtype="float64")
        W = pytensor.shared(np.full((3, 2), 0.1), name="W_x__y")
        b = pytensor.shared(np.zeros(2), name="b_y")
        rng = pytensor.shared(np.random.default_rng(5), name="noise_rng")
        step_count = pytensor.shared(np.int64(0), name="step_count")
        next_rng, noise = pt.random.normal(0.0, 0.1, size=(x.shape[0], 2), rng=rng,
                                           return_next_rng=True)
        cost = pt.sqr(x @ W + b + noise - y).mean()
        cost.name = "mse"
        model = Model(inputs=[x, y], params=[W, b])
        model.set_updates([(rng, next_rng), (step_count, step_count + 1)])
        data = Iterator(DesignMatrix("train", data=[x_data, Y]), batch_size=BATCH, shuffle=True, seed=3)
        extensions = [GradientClipping(batch_size=BATCH, check_nan=1), Monitoring(freq=4),
                      LrExponentialDecay(0.9, unit="update"), EpochCount(NUM_EPOCH),
                      Checkpoint(path=run_dir / "ckpt", freq=3), SignalAt(interrupt_at)]
        return Training("tiny", data, model, Adam(lr=0.05), cost, [cost], extension=extensions,
                        run_dir=run_dir, config={"lr": 0.05, "batch_size": BATCH}, progress=False,
                        backend=Backend(floatX="float64", store=store),
                        store_spec={"test": "tiny"} if store is not None else None)


def final_state(training):
    arrays = training.state_arrays()
    return {stem: {k: np.array(v) for k, v in named.items()} for stem, named in arrays.items()}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    training = make_training(tmp_path_factory.mktemp("a"))
    training.run()
    return training


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("b")
    training = make_training(run_dir, interrupt_at=INTERRUPT_AT)
    handler_before = signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted) as info:
        training.run()
    return training, info.value, handler_before, run_dir


@pytest.fixture(scope="module")
def resumed(interrupted, tmp_path_factory):
    _, exc, _, _ = interrupted
    training = make_training(tmp_path_factory.mktemp("c"))
    training.load_checkpoint(exc.checkpoint)
    training.run(max_updates=11)
    stopped_at = training.trainlog.batch_seen
    training.run()
    return training, stopped_at


def test_uninterrupted_run_does_all_epochs(uninterrupted):
    assert uninterrupted.trainlog.batch_seen == TOTAL_UPDATES
    assert uninterrupted.trainlog.epoch_seen == NUM_EPOCH
    assert uninterrupted.model.state["step_count"].get_value() == TOTAL_UPDATES


def test_sigint_finishes_the_batch_saves_and_stops(interrupted):
    training, exc, _, run_dir = interrupted
    assert exc.signal_name == "SIGINT" and exc.batch_seen == INTERRUPT_AT
    assert exc.checkpoint == run_dir / "ckpt" / "last"
    assert "resume" in str(exc)
    saved = json.loads((exc.checkpoint / "trainlog.json").read_text())
    assert saved["batch_seen"] == INTERRUPT_AT


def test_signal_handlers_are_installed_only_during_run(interrupted):
    _, _, handler_before, _ = interrupted
    assert signal.getsignal(signal.SIGINT) is handler_before


def test_run_max_updates_stops_after_that_many_updates(resumed):
    _, stopped_at = resumed
    assert stopped_at == 11


def test_resume_equals_uninterrupted_bit_for_bit(uninterrupted, resumed):
    training, _ = resumed
    expected, actual = final_state(uninterrupted), final_state(training)
    for stem in ("params", "optimizer", "model_state"):
        for name, value in expected[stem].items():
            np.testing.assert_array_equal(actual[stem][name], value, err_msg=f"{stem}/{name}")
    assert training.trainlog.batches == uninterrupted.trainlog.batches
    assert (training.model.state["noise_rng"].get_value().bit_generator.state
            == uninterrupted.model.state["noise_rng"].get_value().bit_generator.state)
    assert training.data.state_dict() == uninterrupted.data.state_dict()


def test_resume_reproduces_the_monitoring_records(uninterrupted, resumed):
    training, _ = resumed
    strip = [{k: v for k, v in r.items() if k != "elapsed_s"} for r in uninterrupted.trainlog.monitor]
    assert [{k: v for k, v in r.items() if k != "elapsed_s"} for r in training.trainlog.monitor] == strip


def test_every_monitoring_step_is_a_line_of_the_jsonl_file(uninterrupted):
    lines = (uninterrupted.run_dir / "log.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    monitors = [r for r in records if r["event"] == "monitor"]
    assert [r["batch_seen"] for r in monitors] == [r["batch_seen"] for r in uninterrupted.trainlog.monitor]
    assert all("mse" in r for r in monitors[1:])


def test_checkpoint_holds_legacy_names_config_and_manifest(uninterrupted):
    last = uninterrupted.checkpoint_root / "last"
    with np.load(last / "params.npz", allow_pickle=False) as params:
        assert sorted(params.files) == ["W_x__y", "b_y"]
    assert json.loads((last / "config.json").read_text()) == {"lr": 0.05, "batch_size": BATCH}
    manifest = json.loads((last / "manifest.json").read_text())
    assert {"params.npz", "optimizer.npz", "model_state.npz", "rng.json", "loop.json"} <= set(manifest["files"])


def test_a_checkpoint_that_does_not_fit_is_refused_and_changes_nothing(uninterrupted, tmp_path):
    arrays = uninterrupted.state_arrays()
    arrays["params"]["W_x__y"] = np.zeros((4, 2))
    write_checkpoint(tmp_path / "bad", arrays, uninterrupted.state_documents())
    before = final_state(uninterrupted)
    with pytest.raises(CheckpointError, match=r"params.npz\[W_x__y\]"):
        uninterrupted.load_checkpoint(tmp_path / "bad")
    after = final_state(uninterrupted)
    for stem in before:
        for name in before[stem]:
            np.testing.assert_array_equal(after[stem][name], before[stem][name])


def test_non_finite_gradients_are_counted_and_survived(tmp_path):
    x_data = X.copy()
    x_data[0, 0] = np.nan            # example 0 is in batch 0 of every pass
    training = make_training(tmp_path, x_data=x_data)
    training.run()
    assert len(training.trainlog.nonfinite_batches) == NUM_EPOCH
    assert all(np.isfinite(p.get_value()).all() for p in training.model.params)


def test_a_training_function_loaded_from_the_store_trains_exactly_as_compiled(uninterrupted, tmp_path):
    """The second Training loads its function (its variables bound, Adam's slots adopted): the whole
    run, learning-rate decay and checkpoints included, ends in the uninterrupted run's state."""
    store = FunctionStore(tmp_path / "store")
    first = make_training(tmp_path / "first", store=store)
    assert store.last_event == "compiled" and not first.loaded
    loaded = make_training(tmp_path / "loaded", store=store)
    assert store.last_event == "loaded" and loaded.loaded
    assert first._train_fn is not loaded._train_fn
    loaded.run()
    expected, got = final_state(uninterrupted), final_state(loaded)
    for stem in ("params", "optimizer", "model_state"):
        assert list(got[stem]) == list(expected[stem])
        for name in expected[stem]:
            np.testing.assert_array_equal(got[stem][name], expected[stem][name], err_msg=f"{stem} {name}")
    assert "lr" in got["optimizer"] and len(got["optimizer"]) > 1  # the adopted slots are saved
