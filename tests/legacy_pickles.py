"""Hand-made pickles shaped like the legacy main loop, naming whichever class paths a test asks for.

Not a test: a builder shared by the tests of :mod:`cle.legacy` and of ``vrnn-import-legacy``.
Import it as ``from legacy_pickles import legacy_mainloop_pickle`` (``tests/`` is on ``sys.path``).

The objects are stand-ins defined here and pickled by reference under the legacy paths (each path's
module is put in ``sys.modules`` only while the pickle is written): a ``Training`` holding a
``Model`` (``params``: OrderedDict name -> shared variable whose ``container.storage[0]`` is the
value; ``updates``: the TBPTT variables -> an ``Apply``-owned expression; ``nodes``), and a
``TrainLog``. With ``gpu=True`` every value is pickled as a CudaNdarray is
(``CudaNdarray_unpickler(ndarray)``).
"""
import contextlib
import pickle
import sys
import types
from collections import OrderedDict, defaultdict

#: Class paths of Theano-PyMC 1.1 (what the legacy code wrote in the golden pickles).
MODERN = {
    "shared": "theano.tensor.sharedvar.TensorSharedVariable",
    "variable": "theano.tensor.var.TensorVariable",
    "apply": "theano.graph.basic.Apply",
    "container": "theano.link.basic.Container",
    "type": "theano.tensor.type.TensorType",
    "op": "theano.tensor.elemwise.Elemwise",
    "scratchpad": "theano.graph.utils.ValidatingScratchpad",
    "training": "cle.cle.train.Training",
    "trainlog": "cle.cle.train.TrainLog",
    "model": "cle.cle.models.Model",
    "layer": "cle.cle.layers.feedforward.FullyConnectedLayer",
    "gpu_unpickler": "theano.sandbox.cuda.type.CudaNdarray_unpickler",
}
#: Class paths of a 2015 Theano (0.7), a CUDA shared variable among them.
OLD_2015 = dict(MODERN, **{
    "shared": "theano.sandbox.cuda.var.CudaNdarraySharedVariable",
    "variable": "theano.sandbox.cuda.var.CudaNdarrayVariable",
    "apply": "theano.gof.graph.Apply",
    "container": "theano.gof.link.Container",
    "type": "theano.sandbox.cuda.type.CudaNdarrayType",
    "op": "theano.sandbox.cuda.basic_ops.GpuElemwise",
    "scratchpad": "theano.gof.utils.scratchpad",
})


class _Plain:
    """A stand-in object: its attributes are its pickled state."""

    def __init__(self, **attrs):
        self.__dict__.update(attrs)


class _GpuArray:
    """Pickles as a CudaNdarray does: ``CudaNdarray_unpickler(ndarray)``."""

    def __init__(self, array, unpickler):
        self.array, self.unpickler = array, unpickler

    def __reduce__(self):
        return self.unpickler, (self.array,)


def _unpickle_gpu(array):  # the stand-in of CudaNdarray_unpickler (never called by the reader)
    return array


@contextlib.contextmanager
def _classes(paths):
    """Stand-in classes (and the GPU unpickler function) importable under ``paths`` meanwhile."""
    made, added = {}, []
    for role, path in paths.items():
        module, name = path.rsplit(".", 1)
        if role == "gpu_unpickler":
            obj = types.FunctionType(_unpickle_gpu.__code__, {}, name)
        else:
            obj = type(name, (_Plain,), {})
        obj.__module__, obj.__qualname__ = module, name
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix not in sys.modules:
                sys.modules[prefix] = types.ModuleType(prefix)
                added.append(prefix)
        setattr(sys.modules[module], name, obj)
        made[role] = obj
    try:
        yield made
    finally:
        for prefix in added:
            sys.modules.pop(prefix, None)


def legacy_mainloop_pickle(params, state=None, monitor=None, batch_seen=0, epoch_seen=0, paths=MODERN,
                           protocol=2, gpu=False, layers=None, top="training"):
    """Bytes of a legacy-shaped main-loop pickle.

    Parameters
    ----------
    params : dict legacy name -> ndarray
    state : dict name -> ndarray, optional
        The TBPTT variables (``step_count``, ``rnn_tm1``) as the model's updates.
    monitor : dict channel -> list of float, optional
        The legacy TrainLog's ``monitor`` (``update``, ``time`` and channels).
    batch_seen, epoch_seen : int
    paths : dict role -> class path (:data:`MODERN`, :data:`OLD_2015`)
    protocol : int
    gpu : bool
        Values pickled as CudaNdarrays.
    layers : dict name -> dict of layer attributes (unit, nout, cons, parent), optional
    top : {'training', 'model'}
        What the pickle holds: the main loop, or the model alone.
    """
    with _classes(paths) as C:
        ttype = C["type"](dtype="float64", broadcastable=(False, False))

        def shared(name, value):
            stored = _GpuArray(value, C["gpu_unpickler"]) if gpu else value
            container = C["container"](type=ttype, name=name, storage=[stored], readonly=False)
            return C["shared"](name=name, type=ttype, owner=None, index=None, container=container,
                               tag=C["scratchpad"]())

        model_params = OrderedDict((name, shared(name, value)) for name, value in params.items())
        updates = OrderedDict()
        for name, value in (state or {}).items():
            var = shared(name, value)
            node = C["apply"](op=C["op"](), inputs=[var], outputs=[])
            expression = C["variable"](name=None, type=ttype, owner=node, index=0, tag=C["scratchpad"]())
            node.outputs.append(expression)
            updates[var] = expression
        nodes = [C["layer"](name=name, **attrs) for name, attrs in (layers or {}).items()]
        model = C["model"](inputs=[], params=model_params, updates=updates, nodes=nodes)
        log_monitor = defaultdict(list, {k: list(v) for k, v in (monitor or {}).items()})
        trainlog = C["trainlog"](monitor=log_monitor, batch_seen=batch_seen, epoch_seen=epoch_seen)
        loop = C["training"](name="legacy_test", model=model, cost=None, trainlog=trainlog,
                             _pickle_skip_list=["cost_fn", "data"])
        return pickle.dumps(loop if top == "training" else model, protocol=protocol)
