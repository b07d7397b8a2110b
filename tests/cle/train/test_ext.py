"""Extensions against small hand computations (one compiled graph for the graph-time ones)."""
import math
import types
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from cle.backend import function, precision
from cle.models import Model
from cle.train import TrainLog
from cle.train.ext import (
    EarlyStopping,
    EpochCount,
    GradientClipping,
    LrExponentialDecay,
    LrLinearDecay,
    Monitoring,
    MonitoringError,
    WeightDecay,
    WeightNorm,
)
from cle.train.opt import Adam

W0 = np.array([[3.0, 0.1], [4.0, 0.2]])     # column norms 5 and ~0.224
B0 = np.array([1.0, -2.0])


def fake_loop(**fields):
    loop = types.SimpleNamespace(trainlog=TrainLog(), endloop=0, stops=[], saves=[])
    loop.request_stop = loop.stops.append
    loop.save_checkpoint = lambda which="last": loop.saves.append(which)
    loop.__dict__.update(fields)
    return loop


@pytest.fixture(scope="module")
def graph_results():
    """GradientClipping (three settings), WeightNorm and WeightDecay evaluated in one function."""
    with precision("float64"):
        W = pytensor.shared(W0.copy(), name="W_x__h")
        b = pytensor.shared(B0.copy(), name="b_h")
        gW, gb = pt.matrix("gW", dtype="float64"), pt.vector("gb", dtype="float64")
        model = Model(params=[W, b])
        outs = []
        for ext in (GradientClipping(scaler=5, batch_size=2),
                    GradientClipping(scaler=5, batch_size=2, divide_by_batch_size=False),
                    GradientClipping(scaler=5, batch_size=2, check_nan=1)):
            loop = fake_loop(grads=OrderedDict([(W, gW), (b, gb)]))
            ext.exec(loop)
            outs += [loop.grads[W], loop.grads[b], loop.grad_norm]
        loop = fake_loop(model=model, updates=OrderedDict([(W, W * 1.0), (b, b * 1.0)]))
        WeightNorm(weight_norm=1.9365).exec(loop)
        outs += [loop.updates[W], loop.updates[b]]
        loop = fake_loop(model=model, updates=OrderedDict([(W, W * 1.0)]))
        WeightNorm(weight_norm=1.0, is_vector=0).exec(loop)
        outs += [loop.updates[W]]
        loop = fake_loop(model=model, cost=pt.constant(0.0, dtype="float64"))
        WeightDecay(lambd=0.1).exec(loop)
        outs += [loop.cost]
        fn = function([gW, gb], outs)
    big = (np.array([[6.0, 0.0], [8.0, 0.0]]), np.array([0.0, 0.0]))   # norm 10
    nan = (np.array([[np.nan, 0.0], [1.0, 0.0]]), np.array([0.0, 0.0]))
    return {"big": fn(*big), "nan": fn(*nan)}


def test_gradient_clipping_divides_by_batch_size_then_clips_global_norm(graph_results):
    gW, gb, norm = graph_results["big"][0:3]
    # /2 -> norm 5 exactly: 5 / max(5, 5) = 1, so the divided gradient passes unchanged.
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(gW, [[3.0, 0.0], [4.0, 0.0]])
    np.testing.assert_allclose(gb, [0.0, 0.0])


def test_gradient_clipping_without_the_division_clips_the_raw_norm(graph_results):
    gW, _, norm = graph_results["big"][3:6]
    assert norm == pytest.approx(10.0)
    np.testing.assert_allclose(gW, [[3.0, 0.0], [4.0, 0.0]])   # 10 -> scaled by 5/10


def test_gradient_clipping_check_nan_steps_towards_a_tenth_of_the_parameters(graph_results):
    gW, gb, norm = graph_results["nan"][6:9]
    assert math.isnan(norm)
    np.testing.assert_allclose(gW, 0.1 * W0)
    np.testing.assert_allclose(gb, 0.1 * B0)


def test_gradient_clipping_without_check_nan_lets_nan_through(graph_results):
    assert np.isnan(graph_results["nan"][0]).any()


def test_weight_norm_caps_each_column_of_W_only(graph_results):
    new_W, new_b = graph_results["big"][9:11]
    norms = np.sqrt((W0 ** 2).sum(axis=0))
    expected = W0 * (np.minimum(norms, 1.9365) / (1e-7 + norms))
    np.testing.assert_allclose(new_W, expected, rtol=1e-14)
    np.testing.assert_array_equal(new_b, B0)


def test_weight_norm_on_the_whole_matrix(graph_results):
    norm = np.sqrt((W0 ** 2).sum())
    np.testing.assert_allclose(graph_results["big"][11], W0 / (1e-7 + norm), rtol=1e-14)


def test_weight_decay_adds_half_lambda_squared_norm_of_W(graph_results):
    assert graph_results["big"][12] == pytest.approx(0.1 * 0.5 * (W0 ** 2).sum())


def test_weight_norm_leaves_optimizer_slots_alone():
    with precision("float64"):
        W = pytensor.shared(W0.copy(), name="W_x__h")
        opt = Adam(lr=0.1)
        updates = opt.get_updates(OrderedDict([(W, pt.zeros_like(W))]))
        loop = fake_loop(model=Model(params=[W]), updates=updates)
        before = dict(updates)
        WeightNorm().exec(loop)
    changed = [var.name for var in updates if updates[var] is not before[var]]
    assert changed == ["W_x__h"]


def schedule_loop(lr, epoch=0, batch=0):
    loop = fake_loop(optimizer=Adam(lr=lr))
    loop.trainlog.epoch_seen, loop.trainlog.batch_seen = epoch, batch
    return loop


@pytest.mark.parametrize("epoch, expected", [(0, 1.0), (2, 1.0), (4, 0.55), (6, 0.1), (9, 0.1)])
def test_linear_decay_by_epoch(epoch, expected):
    ext = LrLinearDecay(start=2, end=6, final_factor=0.1)
    ext.lr0 = 1.0
    loop = schedule_loop(1.0, epoch=epoch)
    ext.exec(loop)
    assert float(loop.optimizer.lr.get_value()) == pytest.approx(expected)


@pytest.mark.parametrize("updates, expected", [(0, 0.5), (1, 0.25), (3, 0.0625), (10, 0.01)])
def test_exponential_decay_by_update_with_a_floor(updates, expected):
    ext = LrExponentialDecay(decay_factor=0.5, min_lr=0.01, unit="update")
    loop = schedule_loop(0.5, batch=updates)
    ext.exec(loop)
    assert float(loop.optimizer.lr.get_value()) == pytest.approx(expected)


def test_schedule_state_keeps_the_initial_rate():
    ext = LrExponentialDecay(decay_factor=0.5)
    ext.exec(schedule_loop(0.8, epoch=0))
    fresh = LrExponentialDecay(decay_factor=0.5)
    fresh.load_state_dict(ext.state_dict())
    loop = schedule_loop(0.1, epoch=2)        # the lr already decayed; lr0 must come from the state
    fresh.exec(loop)
    assert float(loop.optimizer.lr.get_value()) == pytest.approx(0.2)


def test_epoch_count_ends_the_loop_at_num_epoch():
    ext, loop = EpochCount(3), fake_loop()
    loop.trainlog.epoch_seen = 2
    ext.exec(loop)
    assert loop.endloop == 0
    loop.trainlog.epoch_seen = 3
    ext.exec(loop)
    assert loop.endloop == 1
    assert loop.stops == ["epoch=3 reached (3 epochs)"]


def test_epoch_count_zero_is_no_epoch_limit():
    ext, loop = EpochCount(0), fake_loop()
    loop.trainlog.epoch_seen = 1000
    ext.exec(loop)
    assert loop.endloop == 0 and loop.stops == []


class ListData(list):
    name = "valid"


def monitor_loop(batches, batch_seen):
    loop = fake_loop(optimizer=Adam(lr=0.1), output_names=["cost"], records=[])
    loop.record_monitor = lambda record: (loop.records.append(record), loop.trainlog.monitor.append(record))
    loop.trainlog.batches = [[b] for b in batches]
    loop.trainlog.times = [0.5] * len(batches)
    loop.trainlog.batch_seen = batch_seen
    return loop


def test_monitoring_names_channels_data_underscore_channel():
    channel = pt.scalar("nll")
    ext = Monitoring(freq=2, ddout=[channel], data=[ListData([[1.0], [3.0]])],
                     monitor_fn=lambda v: [2 * v])
    loop = monitor_loop([4.0, 6.0, 8.0, 10.0], batch_seen=4)
    ext.exec(loop)
    record = loop.records[0]
    assert record["valid_nll"] == pytest.approx(4.0)      # mean of 2*1 and 2*3
    assert record["cost"] == pytest.approx(9.0)           # mean of the last freq=2 batches
    assert record["batch_seen"] == 4


def test_monitoring_weighs_each_batch_by_batch_weight():
    ext = Monitoring(freq=1, ddout=[pt.scalar("nll")], data=[ListData([[1.0, 3], [4.0, 1]])],
                     monitor_fn=lambda v, n: [v], batch_weight=lambda batch: batch[1])
    loop = monitor_loop([1.0], batch_seen=1)
    ext.exec(loop)
    assert loop.records[0]["valid_nll"] == pytest.approx((3 * 1.0 + 1 * 4.0) / 4)


def test_monitoring_reads_the_whole_split_after_an_evaluation_that_failed_midway():
    from cle.data import DesignMatrix, Iterator

    valid = Iterator(DesignMatrix("valid", data=[np.arange(3.0)]), batch_size=2, drop_last=False)
    calls = []

    def flaky(x):
        calls.append(x.tolist())
        if len(calls) == 1:
            raise OSError("read error")
        return [float(x.sum())]

    ext = Monitoring(freq=1, ddout=[pt.scalar("s")], data=[valid], monitor_fn=flaky,
                     batch_weight=lambda batch: len(batch[0]))
    with pytest.raises(OSError):
        ext.exec(monitor_loop([1.0], batch_seen=1))
    fresh = Monitoring(freq=1, ddout=[pt.scalar("s")], data=[valid], monitor_fn=flaky,
                       batch_weight=lambda batch: len(batch[0]))
    fresh.load_state_dict(ext.state_dict())
    loop = monitor_loop([1.0], batch_seen=1)
    fresh.exec(loop)
    assert calls[1:] == [[0.0, 1.0], [2.0]]
    assert loop.records[0]["valid_s"] == pytest.approx((2 * 1.0 + 1 * 2.0) / 3)


def test_monitoring_skips_updates_that_are_not_a_multiple_of_freq():
    loop = monitor_loop([1.0, 2.0, 3.0], batch_seen=3)
    Monitoring(freq=2).exec(loop)
    assert loop.records == []


@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (1e9, "exceeds")])
def test_monitoring_fails_clearly_on_nan_or_explosion(value, word):
    ext = Monitoring(freq=1, ddout=[pt.scalar("nll")], data=[ListData([[0.0]])],
                     monitor_fn=lambda v: [value])
    with pytest.raises(MonitoringError, match=f"valid_nll.*{word}|{word}.*valid_nll"):
        ext.exec(monitor_loop([1.0], batch_seen=1))


def test_early_stopping_saves_best_and_stops_after_patience():
    with precision("float64"):
        W = pytensor.shared(W0.copy(), name="W")
    loop = fake_loop(model=Model(params=[W]))
    ext = EarlyStopping("valid_nll", patience=2)
    for batch, value in enumerate([3.0, 2.0, 2.5, 2.1]):
        ext.on_record(loop, {"batch_seen": batch, "valid_nll": value})
    assert ext.best == 2.0 and ext.best_batch == 1
    assert loop.saves == ["best", "best"]
    assert len(loop.stops) == 1
    np.testing.assert_array_equal(ext.best_params["W"], W0)
