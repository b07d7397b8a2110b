"""Symbolic graphs and their compiled functions, built and compiled once per model.

A :class:`Graph` is what a model's graph builder returns (inputs, named outputs, shared-variable
updates); a :class:`CompiledFunction` is its compiled form with the output names;
:class:`FunctionCache` keeps both per key so each graph of a model is built and compiled once
per process, by the model's :class:`cle.backend.Backend` (and from its store of compiled
functions when it has one).

Example
-------
>>> import pytensor.tensor as pt
>>> from cle.backend import Backend
>>> x = pt.dvector('x')
>>> cache = FunctionCache('demo', Backend(floatX='float64'))
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
from cle import backend as backends
from cle.function_store import compile_with_store
from nips2015_vrnn.models.config import BOOKKEEPING_FIELDS

log = logging.getLogger(__name__)

__all__ = ["Graph", "CompiledFunction", "FunctionCache", "model_function_cache", "program_backend",
           "graph_spec", "shared_variables", "SOURCE_ROOTS"]

#: The packages whose source builds the graphs (their digest keys the persistent store).
SOURCE_ROOTS = (Path(cle.__file__).parent, Path(__file__).parent)
#: ModelConfig fields that change no graph: the run's bookkeeping, and the learning rate and seed
#: (values of shared variables). ``m_batch_size`` stays: it shapes the monitor graph in JAX mode.
GRAPH_NEUTRAL_FIELDS = tuple(f for f in BOOKKEEPING_FIELDS if f != "m_batch_size") + ("lr",)

#: A symbolic graph ready to compile: its inputs, named outputs and shared-variable updates.
Graph = namedtuple("Graph", ["inputs", "outputs", "updates"])


def program_backend(mode=None, floatX=None, matmul_precision=None):
    """The :class:`cle.backend.Backend` of a program using these models: the given settings (or
    the commands' defaults) and the persistent store keyed by this project's source."""
    return backends.Backend.for_program(mode=mode, floatX=floatX, matmul_precision=matmul_precision,
                                        source_roots=SOURCE_ROOTS)


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
    """Graphs and compiled functions of one model, each built once, by one backend.

    Parameters
    ----------
    label : str
        Names the compiled functions (``<label>:<key>``) and the log lines.
    backend : cle.backend.Backend
        Compiles every function; graphs are built in its ``floatX``. With a store, each function
        is loaded from it when it holds it (keyed by ``model_spec``, the function's key and the
        backend), else compiled and stored.
    model_spec : dict or None
        What decides the model's graphs (:func:`graph_spec`).
    live : callable or None
        Returns the model's shared variables by name (:func:`shared_variables`).
    """

    def __init__(self, label, backend, model_spec=None, live=None):
        self.label, self.backend = label, backend
        self.model_spec, self.live = model_spec, live
        self._graphs, self._functions = {}, {}

    @property
    def dtype(self):
        return self.backend.floatX

    def graph(self, key, build):
        """The Graph ``build()`` returns, built once (inside ``precision(floatX)``)."""
        if key not in self._graphs:
            with backends.precision(self.dtype):
                self._graphs[key] = build()
        return self._graphs[key]

    def function(self, key, graph_fn):
        """The Graph of ``graph_fn()`` compiled once; outputs in the Graph's order."""
        if key not in self._functions:
            start = time.perf_counter()
            spec = {"model": self.model_spec, "function": repr(key)}
            live = self.live() if self.live is not None else {}
            fn, names, loaded = compile_with_store(self.backend, spec, live,
                                                   lambda: self._compile(key, graph_fn))
            log.info("%s %s %s in %.1f s", "loaded" if loaded else "compiled", self.label, key,
                     time.perf_counter() - start)
            self._functions[key] = CompiledFunction(fn, names, loaded=loaded)
        return self._functions[key]

    def _compile(self, key, graph_fn):
        with backends.precision(self.dtype):
            graph = graph_fn()
            for name, var in graph.outputs.items():
                if var.name is None:
                    var.name = name
            fn = backends.function(graph.inputs, list(graph.outputs.values()), updates=graph.updates,
                                   backend=self.backend, name=f"{self.label}:{key}")
        return fn, list(graph.outputs)


def graph_spec(model):
    """What decides ``model``'s graphs: its class, configuration (less GRAPH_NEUTRAL_FIELDS),
    precision and static input shape (JSON-ready)."""
    config = {k: v for k, v in model.config.as_dict().items() if k not in GRAPH_NEUTRAL_FIELDS}
    return {"class": type(model).__name__, "config": config, "dtype": model.dtype,
            "static_shape": model.static_shape}


def shared_variables(model):
    """OrderedDict name -> every shared variable of ``model``: ``param:<legacy name>`` and
    ``state:<name>`` (the TBPTT state, the noise generators, the KL annealing counter)."""
    live = OrderedDict((f"param:{k}", v) for k, v in model.params.items())
    for var in (model.step_count, model.rnn_tm1, model.train_rng, model.monitor_rng, model.kl_step):
        if var is not None:
            live[f"state:{var.name}"] = var
    return live


def model_function_cache(model, label):
    """The :class:`FunctionCache` of ``model``, by its backend."""
    return FunctionCache(label, model.backend, graph_spec(model), lambda: shared_variables(model))
