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

from cle import backend

log = logging.getLogger(__name__)

__all__ = ["Graph", "CompiledFunction", "FunctionCache"]

#: A symbolic graph ready to compile: its inputs, named outputs and shared-variable updates.
Graph = namedtuple("Graph", ["inputs", "outputs", "updates"])


class CompiledFunction:
    """A compiled PyTensor function with the names of its outputs.

    Calling it returns the list of output values (as ``pytensor.function`` does);
    :meth:`named` returns them as an OrderedDict name -> value. ``fn`` is the PyTensor function.
    """

    def __init__(self, fn, output_names):
        self.fn = fn
        self.output_names = output_names

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
    """

    def __init__(self, label, dtype):
        self.label, self.dtype = label, dtype
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
            with backend.precision(self.dtype):
                graph = graph_fn()
                start = time.perf_counter()
                for name, var in graph.outputs.items():
                    if var.name is None:
                        var.name = name
                fn = backend.function(graph.inputs, list(graph.outputs.values()),
                                      updates=graph.updates, name=f"{self.label}:{key}")
            log.info("compiled %s %s in %.1f s", self.label, key, time.perf_counter() - start)
            self._functions[key] = CompiledFunction(fn, list(graph.outputs))
        return self._functions[key]
