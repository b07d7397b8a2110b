"""Model: the legacy container (inputs, _params, nodes, set_updates) and its checkpointable state."""
from collections import OrderedDict

import numpy as np
import pytensor
import pytest

from cle.models import Model


def shared(name, value=0.0):
    return pytensor.shared(np.asarray(value), name=name)


def test_legacy_usage_params_from_an_ordered_dict():
    W, b = shared("W_x__h", np.zeros(2)), shared("b_h", np.zeros(2))
    model = Model()
    model.inputs = ["x"]
    model._params = OrderedDict([("W_x__h", W), ("b_h", b)])
    model.nodes = ["layer"]
    assert model.params == [W, b]
    assert list(model.param_dict) == ["W_x__h", "b_h"]


def test_state_is_the_update_targets_then_added_variables():
    W, step, rnn, rng = shared("W"), shared("step_count"), shared("rnn_tm1"), shared("rng")
    model = Model(params=[W])
    model.set_updates(OrderedDict([(step, step + 1), (rnn, rnn * 2)]))
    model.add_state(rng)
    assert list(model.state) == ["step_count", "rnn_tm1", "rng"]
    assert list(model.updates) == [step, rnn]


def test_unnamed_state_gets_a_positional_name_and_duplicates_are_refused():
    model = Model(params=[])
    anonymous = pytensor.shared(np.zeros(1))
    model.set_updates([(anonymous, anonymous + 1)])
    assert list(model.state) == ["state_0"]
    model.add_state(shared("state_0"))
    with pytest.raises(ValueError, match="state_0"):
        model.state


def test_updates_must_target_shared_variables():
    import pytensor.tensor as pt
    with pytest.raises(ValueError, match="shared"):
        Model().set_updates([(pt.scalar("x"), 1)])
