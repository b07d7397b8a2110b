"""Optimizers against hand-written numpy versions of their formulas (one compiled graph)."""
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from cle.backend import function, precision
from cle.train.opt import Adam, Adam2, Momentum, RMSProp

P0 = np.array([0.5, -1.0, 2.0])
GRADS = [np.array([0.1, -0.2, 0.3]), np.array([-0.4, 0.5, 0.05]), np.array([0.2, 0.2, -0.6])]
LR = 0.01
STEPS = len(GRADS)


def numpy_adam(p, grads, lr, b1=0.9, b2=0.999, lambd=1 - 1e-8, eps=1e-8):
    m, v = np.zeros_like(p), np.zeros_like(p)
    for i, g in enumerate(grads):
        b1_i = b1 * lambd ** i
        m = b1_i * m + (1 - b1_i) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1 ** (i + 1))) / (np.sqrt(v / (1 - b2 ** (i + 1))) + eps)
    return p, m, v


def numpy_adam2(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
    return p


def numpy_rmsprop(p, grads, lr, mom=0.9, sec=0.95, e=1e-4):
    a, r, u = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        a = sec * a + (1 - sec) * g
        r = sec * r + (1 - sec) * g * g
        u = mom * u - lr * g / np.sqrt(r - a * a + e)
        p = p + u
    return p


def numpy_momentum(p, grads, lr, mom=0.9, nesterov=False, store_lookahead=True):
    u = np.zeros_like(p)
    for g in grads:
        u_t = mom * u - lr * g
        move = mom * u_t - lr * g if nesterov else u_t
        u = move if store_lookahead else u_t
        p = p + move
    return p, u


CASES = OrderedDict([
    ("adam", lambda: Adam(lr=LR)),
    ("adam2", lambda: Adam2(lr=LR)),
    ("rmsprop", lambda: RMSProp(lr=LR)),
    ("momentum", lambda: Momentum(lr=LR, mom=0.8)),
    ("nesterov", lambda: Momentum(lr=LR, mom=0.8, nesterov=True)),
    ("nesterov_plain", lambda: Momentum(lr=LR, mom=0.8, nesterov=True, store_lookahead=False)),
])


@pytest.fixture(scope="module")
def stepped():
    """One compiled function stepping six parameters, each with its own optimizer, same gradient."""
    with precision("float64"):
        grad = pt.vector("g", dtype="float64")
        params, optimizers, updates = {}, {}, OrderedDict()
        for case, make in CASES.items():
            params[case] = pytensor.shared(P0.copy(), name=f"p_{case}")
            optimizers[case] = make()
            updates.update(optimizers[case].get_updates(OrderedDict([(params[case], grad)])))
        step = function([grad], [], updates=updates)
    for g in GRADS:
        step(g)
    return params, optimizers, updates


def test_adam_follows_the_legacy_formula_with_decayed_beta1(stepped):
    params, optimizers, _ = stepped
    p, m, v = numpy_adam(P0, GRADS, LR)
    np.testing.assert_allclose(params["adam"].get_value(), p, rtol=1e-12)
    np.testing.assert_allclose(optimizers["adam"].state["adam_m__p_adam"].get_value(), m, rtol=1e-12)
    np.testing.assert_allclose(optimizers["adam"].state["adam_v__p_adam"].get_value(), v, rtol=1e-12)
    assert optimizers["adam"].state["counter"].get_value() == STEPS


def test_adam_updates_are_m_v_p_then_counter(stepped):
    _, optimizers, updates = stepped
    names = [var.name for var in updates]
    start = names.index("adam_m__p_adam")
    assert names[start:start + 4] == ["adam_m__p_adam", "adam_v__p_adam", "p_adam", "counter"]


def test_adam2_uses_the_bias_corrected_step_size(stepped):
    params, _, _ = stepped
    np.testing.assert_allclose(params["adam2"].get_value(), numpy_adam2(P0, GRADS, LR), rtol=1e-12)


def test_rmsprop_is_centred_with_momentum(stepped):
    params, _, _ = stepped
    np.testing.assert_allclose(params["rmsprop"].get_value(), numpy_rmsprop(P0, GRADS, LR), rtol=1e-12)


@pytest.mark.parametrize("case, nesterov, store", [("momentum", False, True), ("nesterov", True, True),
                                                   ("nesterov_plain", True, False)])
def test_momentum_variants(stepped, case, nesterov, store):
    params, optimizers, _ = stepped
    p, u = numpy_momentum(P0, GRADS, LR, mom=0.8, nesterov=nesterov, store_lookahead=store)
    np.testing.assert_allclose(params[case].get_value(), p, rtol=1e-12)
    np.testing.assert_allclose(optimizers[case].state[f"mom_u__p_{case}"].get_value(), u, rtol=1e-12)


def test_nesterov_plain_is_the_reparametrised_nesterov_of_bengio_et_al(stepped):
    """Bengio, Boulanger-Lewandowski and Pascanu (2013), eq. 7, constant momentum mu:
    ``p += mu**2 v - (1 + mu) lr g`` then ``v = mu v - lr g``; a different algebra than the code's."""
    params, optimizers, _ = stepped
    mu, p, v = 0.8, P0.copy(), np.zeros_like(P0)
    for g in GRADS:
        p = p + mu ** 2 * v - (1 + mu) * LR * g
        v = mu * v - LR * g
    np.testing.assert_allclose(params["nesterov_plain"].get_value(), p, rtol=1e-12)
    np.testing.assert_allclose(optimizers["nesterov_plain"].state["mom_u__p_nesterov_plain"].get_value(), v,
                               rtol=1e-12)


def test_nesterov_first_step_is_the_same_whatever_is_stored():
    """From zero velocity both bookkeepings move p by -(1 + mu) lr g; the stored velocity is that
    move (look-ahead) or -lr g (plain). Later steps differ (test_momentum_variants)."""
    mu, g = 0.8, GRADS[0]
    with precision("float64"):
        grad = pt.vector("g", dtype="float64")
        params = {store: pytensor.shared(P0.copy(), name=f"p_{store}") for store in ("lookahead", "plain")}
        optimizers = {store: Momentum(lr=LR, mom=mu, nesterov=True, store_lookahead=store == "lookahead")
                      for store in params}
        updates = OrderedDict()
        for store, param in params.items():
            updates.update(optimizers[store].get_updates(OrderedDict([(param, grad)])))
        function([grad], [], updates=updates)(g)
    move = -(1 + mu) * LR * g
    for store in params:
        np.testing.assert_allclose(params[store].get_value(), P0 + move, rtol=1e-12)
    np.testing.assert_allclose(optimizers["lookahead"].state["mom_u__p_lookahead"].get_value(), move, rtol=1e-12)
    np.testing.assert_allclose(optimizers["plain"].state["mom_u__p_plain"].get_value(), -LR * g, rtol=1e-12)


def test_lr_is_a_shared_variable_that_monitor_reports():
    opt = Adam(lr=0.5)
    opt.lr.set_value(np.asarray(0.25, dtype=opt.lr.dtype))
    assert opt.monitor()["lr"] == 0.25
    assert opt.state["lr"] is opt.lr


@pytest.mark.parametrize("make", [lambda: Adam(lr=-1), lambda: Adam(lr=0.1, b1=1.5),
                                  lambda: RMSProp(lr=0.1, mom=1.0), lambda: Momentum(lr=0.1, mom=-0.1)])
def test_bad_settings_are_refused(make):
    with pytest.raises(ValueError):
        make()


def test_a_second_graph_of_the_same_parameters_shares_the_slots_and_counter():
    param = pytensor.shared(np.ones(3), name="W")
    adam = Adam(lr=0.1)
    first = adam.get_updates({param: param * 2.0})
    second = adam.get_updates({param: param * 3.0})
    assert set(first) == set(second) and len(adam.state) == 4  # lr, m, v, counter
