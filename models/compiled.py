"""Symbolic graphs and their compiled functions, built and compiled once per model.

A :class:`Graph` is what a model's graph builder returns (inputs, named outputs, shared-variable
updates); a :class:`CompiledFunction` is its compiled form with the output names;
:class:`FunctionCache` keeps both per key so each graph of a model is built and compiled once
per process.

Example
-------
>>> import pytensor.tensor as pt
>>> x = pt.dvector('x')
>>> cache = FunctionCache('demo', 'float64')
>>> fn = cache.function('double', lambda: Graph([x], OrderedDict(y=2 * x), OrderedDict()))
>>> fn.named([1.0])['y'].tolist()
[2.0]
>>> cache.function('double', None) is fn
True
"""
import logging
import time
from collections import OrderedDict, namedtuple
from pathlib import Path

import cle
from cle import backend
from cle.function_store import FunctionStore, default_directory
from nips2015_vrnn.models.config import BOOKKEEPING_FIELDS

log = logging.getLogger(__name__)

__all__ = ["Graph", "CompiledFunction", "FunctionCache", "model_function_cache", "persistent_store",
           "graph_spec", "shared_variables"]

#: The packages whose source builds the graphs (their digest keys the persistent store).
SOURCE_ROOTS = (Path(cle.__file__).parent, Path(__file__).parent)
#: ModelConfig fields that change no graph: the run's bookkeeping, and the learning rate and seed
#: (values of shared variables). ``m_batch_size`` stays: it shapes the monitor graph in JAX mode.
GRAPH_NEUTRAL_FIELDS = tuple(f for f in BOOKKEEPING_FIELDS if f != "m_batch_size") + ("lr",)
#: Modes whose compiled functions are kept in the persistent store (in JAX mode the rewritten
#: graph is stored and re-traced when loaded; XLA's own persistent cache keeps the programs).
STORED_MODES = ("c", "jax")
_stores = {}

#: A symbolic graph ready to compile: its inputs, named outputs and shared-variable updates.
Graph = namedtuple("Graph", ["inputs", "outputs", "updates"])


class CompiledFunction:
    """A compiled PyTensor function with the names of its outputs.

    Calling it returns the list of output values (as ``pytensor.function`` does);
    :meth:`named` returns them as an OrderedDict name -> value. ``fn`` is the PyTensor function;
    ``loaded`` is True when it came from the persistent store instead of being compiled.
    """

    def __init__(self, fn, output_names, loaded=False):
        self.fn = fn
        self.output_names = output_names
        self.loaded = loaded

    def __call__(self, *args):
        return self.fn(*args)

    def named(self, *args):
        """The outputs as an OrderedDict name -> value."""
        return OrderedDict(zip(self.output_names, self.fn(*args)))


class FunctionCache:
    """Graphs and compiled functions of one model, each built once, in the model's precision.

    Parameters
    ----------
    label : str
        Names the compiled functions (``<label>:<key>``) and the log lines.
    dtype : {'float32', 'float64'}
        Precision every graph is built and compiled in.
    store : (cle.function_store.FunctionStore, dict, callable) or None
        A persistent store of compiled functions, the spec of the model (what decides its graphs)
        and a callable returning its shared variables by name: each function is then loaded from
        the store when it holds it (keyed by the spec, the function's key, the mode and dtype),
        else compiled and stored. None: compiled in every process.
    """

    def __init__(self, label, dtype, store=None):
        self.label, self.dtype = label, dtype
        self.store = store
        self._graphs, self._functions = {}, {}

    def graph(self, key, build):
        """The Graph ``build()`` returns, built once (inside ``precision(dtype)``)."""
        if key not in self._graphs:
            with backend.precision(self.dtype):
                self._graphs[key] = build()
        return self._graphs[key]

    def function(self, key, graph_fn):
        """The Graph of ``graph_fn()`` compiled once; outputs in the Graph's order."""
        if key not in self._functions:
            start = time.perf_counter()
            loaded = False
            if self.store is None or backend.mode_name() not in STORED_MODES:
                fn, names = self._compile(key, graph_fn)
            else:
                store, model_spec, live = self.store
                spec = {"model": model_spec, "function": repr(key), "dtype": self.dtype,
                        "mode": backend.mode_name()}
                with backend.compiling(self.dtype):
                    fn, names = store.compile(spec, live(), lambda: self._compile(key, graph_fn))
                loaded = store.last_event == "loaded"
            log.info("%s %s %s in %.1f s", "loaded" if loaded else "compiled", self.label, key,
                     time.perf_counter() - start)
            self._functions[key] = CompiledFunction(fn, names, loaded=loaded)
        return self._functions[key]

    def _compile(self, key, graph_fn):
        with backend.precision(self.dtype):
            graph = graph_fn()
            for name, var in graph.outputs.items():
                if var.name is None:
                    var.name = name
            fn = backend.function(graph.inputs, list(graph.outputs.values()),
                                  updates=graph.updates, name=f"{self.label}:{key}")
        return fn, list(graph.outputs)


def persistent_store():
    """This process's store of compiled functions (:mod:`cle.function_store`), one per folder;
    None when ``VRNN_FUNCTION_CACHE=off`` or the selected mode is not one of STORED_MODES."""
    directory = default_directory()
    if directory is None or backend.mode_name() not in STORED_MODES:
        return None
    if directory not in _stores:
        _stores[directory] = FunctionStore(directory, source_roots=SOURCE_ROOTS)
    return _stores[directory]


def graph_spec(model):
    """What decides ``model``'s graphs: its class, configuration (less GRAPH_NEUTRAL_FIELDS),
    precision and static input shape (JSON-ready)."""
    config = {k: v for k, v in model.config.as_dict().items() if k not in GRAPH_NEUTRAL_FIELDS}
    return {"class": type(model).__name__, "config": config, "dtype": model.dtype,
            "static_shape": model.static_shape}


def shared_variables(model):
    """OrderedDict name -> every shared variable of ``model``: ``param:<legacy name>`` and
    ``state:<name>`` (the TBPTT state and the noise generators)."""
    live = OrderedDict((f"param:{k}", v) for k, v in model.params.items())
    for var in (model.step_count, model.rnn_tm1, model.train_rng, model.monitor_rng):
        live[f"state:{var.name}"] = var
    return live


def model_function_cache(model, label):
    """The :class:`FunctionCache` of ``model``, with the persistent store unless it is off."""
    store = persistent_store()
    if store is None:
        return FunctionCache(label, model.dtype)
    return FunctionCache(label, model.dtype, store=(store, graph_spec(model), lambda: shared_variables(model)))
