"""The model container the legacy scripts fill in and hand to :class:`cle.train.Training`.

The legacy usage is kept::

    model = Model()
    model.inputs = [x]
    model._params = params          # OrderedDict name -> shared (legacy order)
    model.nodes = nodes
    model.set_updates(update_list)  # e.g. the TBPTT state: step_count, rnn_tm1

Besides the trainable parameters a model may own *state*: shared variables that change while
training but are not trained (the TBPTT ``step_count`` and ``rnn_tm1``, shared random
generators). Every shared variable updated by ``model.updates`` is state; more can be added
with :meth:`Model.add_state`. Checkpoints save and restore all of it by name.
"""
from collections import OrderedDict

from pytensor.compile.sharedvalue import SharedVariable

__all__ = ["Model"]


class Model:
    """Inputs, parameters, nodes and shared updates of one model.

    Parameters
    ----------
    inputs : list of symbolic variables
    params : OrderedDict name -> shared variable, or list of named shared variables
    nodes : list or dict of layers (kept for the caller; not used by training)
    updates : OrderedDict or list of (shared, expression)

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.zeros(2), name="W_x__h")
    >>> n = pytensor.shared(np.int64(0), name="step_count")
    >>> model = Model(params=[w])
    >>> model.set_updates([(n, n + 1)])
    >>> [p.name for p in model.params], list(model.state)
    (['W_x__h'], ['step_count'])
    """

    def __init__(self, inputs=None, params=None, nodes=None, updates=None):
        self.inputs = list(inputs or [])
        self._params = params if params is not None else OrderedDict()
        self.nodes = nodes if nodes is not None else []
        self.updates = OrderedDict()
        self._extra_state = []
        if updates:
            self.set_updates(updates)

    @property
    def params(self):
        """The trainable shared variables, in legacy order (a list)."""
        if isinstance(self._params, dict):
            return list(self._params.values())
        return list(self._params)

    @params.setter
    def params(self, value):
        self._params = value

    @property
    def param_dict(self):
        """OrderedDict legacy name -> shared variable (names must be unique)."""
        if isinstance(self._params, dict):
            return OrderedDict(self._params)
        return _by_name(self._params, "parameter")

    def set_updates(self, updates):
        """Add shared-variable updates (a dict or a list of (shared, expression) pairs).

        They run in the training function before the optimizer's updates, in this order.
        """
        pairs = updates.items() if isinstance(updates, dict) else updates
        for var, expr in pairs:
            if not isinstance(var, SharedVariable):
                raise ValueError(f"Model.set_updates: update target must be a shared variable, "
                                 f"got {var!r} ({type(var).__name__})")
            self.updates[var] = expr

    def add_state(self, var):
        """Register a shared variable that is not updated by ``updates`` but must be checkpointed."""
        if not isinstance(var, SharedVariable):
            raise ValueError(f"Model.add_state: expected a shared variable, got {type(var).__name__}")
        if var not in self._extra_state:
            self._extra_state.append(var)

    @property
    def state(self):
        """OrderedDict name -> shared variable of the model's non-trained state.

        The targets of ``updates`` (in order) then the variables given to :meth:`add_state`;
        an unnamed variable is called ``state_<i>`` by its position.
        """
        params = set(self.params)
        variables = [v for v in self.updates if v not in params]
        variables += [v for v in self._extra_state if v not in variables and v not in params]
        named = []
        for i, var in enumerate(variables):
            named.append((var.name or f"state_{i}", var))
        return _check_unique(named, "state variable")


def _by_name(variables, what):
    return _check_unique([(v.name, v) for v in variables], what)


def _check_unique(pairs, what):
    out = OrderedDict()
    for name, var in pairs:
        if not name:
            raise ValueError(f"every {what} needs a name; got an unnamed one: {var!r}")
        if name in out:
            raise ValueError(f"two {what}s share the name {name!r}; names must be unique")
        out[name] = var
    return out
