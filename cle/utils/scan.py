"""``scan`` for the project's recurrences: a gradient that reads the forward step back, and a
forward pass that keeps the step's matrix products for it.

PyTensor's gradient of a ``scan`` is another scan that runs the step's gradient backwards in
time. Its ``L_op`` substitutes the saved forward outputs into the backward step through
``forced_replace``, once per (differentiable input, forward output): each call clones the
gradient graph (the clones are not merged again) and searches for structurally equal copies, so
an output computed from an earlier one (a product of a product) is no longer found once the
earlier substitution rebuilt it, and the backward step recomputes it. :class:`ReusingScan` is a
``Scan`` whose gradient makes the same substitution by identity, in one shared rebuild
(:func:`replace_by_identity`): the backward step reads every forward output back, nothing
duplicated. :func:`scan` is ``pytensor.scan`` building a :class:`ReusingScan`, so a plain
``pytensor.grad`` of any graph built with it gets that gradient; nothing in PyTensor is changed.
The graph sizes and the proposal to PyTensor are in ``benchmarks/scan_gradient_proposal.md``.

:func:`scan_keeping_products` makes each matrix product of the step an extra (hidden) output of
the forward scan, so the backward step reads it instead of recomputing it (e.g. the LSTM's
``h_{t-1} @ U``): the same numbers, fewer products in the scan's part of a training step, at the
cost of storing them (T, B, width) per product. A graph that takes no gradient is unchanged in
effect: PyTensor drops unused scan outputs.

Example
-------
>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> x = pt.dvector("x")
>>> h = scan(lambda x_t, h_tm1: pt.tanh(x_t + h_tm1), sequences=[x], outputs_info=[pt.zeros(())])
>>> type(h.owner.inputs[0].owner.op).__name__
'ReusingScan'
>>> float(pytensor.function([x], pytensor.grad(h[-1], x))(np.zeros(2))[0])
1.0
"""
import types

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.basic import Apply, Constant, Variable
from pytensor.graph.replace import graph_replace
from pytensor.graph.traversal import io_toposort
from pytensor.scan import op as scan_op_module
from pytensor.scan.op import Scan
from pytensor.tensor.basic import alloc, as_tensor_variable, get_vector_length
from pytensor.tensor.math import Dot
from pytensor.tensor.shape import Shape, Shape_i
from pytensor.tensor.subtensor import Subtensor
from pytensor.tensor.type import TensorType, integer_dtypes

__all__ = ["scan", "scan_keeping_products", "step_products", "static_steps", "ReusingScan",
           "replace_by_identity", "shallow_zeros"]


def replace_by_identity():
    """A fresh substitution ``replace(out, x, y)``: ``out`` with the variable ``x`` replaced by
    ``y``, found by identity (no search for structurally equal copies of ``x``).

    The arguments and result are those of PyTensor's ``forced_replace``. ``Scan``'s gradient calls
    it once per (differentiable input, forward output), the outputs always in the same order. All
    calls of one substitution share their tables, so the parts that the gradients of several
    inputs have in common are rebuilt once and stay shared, and an output computed from an earlier
    one is still found after the earlier substitution rebuilt it: its rebuilt copies are replaced
    as well.
    """
    tables = {}

    def replace(out, x, y):
        if out is None:
            return None
        table = tables.setdefault((x, y), {})
        images = {x}
        for key, earlier in tables.items():
            if key == (x, y):
                break
            images |= {earlier[v] for v in images if v in earlier}
        table.update((v, y) for v in images)
        stack = [out]
        while stack:
            var = stack[-1]
            if var in table:
                stack.pop()
                continue
            node = var.owner
            if node is None:
                table[var] = var
                stack.pop()
                continue
            pending = [i for i in node.inputs if i not in table]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            new_inputs = [table[i] for i in node.inputs]
            if all(new is old for new, old in zip(new_inputs, node.inputs)):
                table.update((o, o) for o in node.outputs)
            else:
                table.update(zip(node.outputs, node.clone_with_new_inputs(new_inputs).outputs))
        return table[out]

    return replace


def _static_length(s):
    """The value of the scalar shape element ``s`` when it is known without a graph rewrite: a
    constant, or dimension i of a variable whose type has that dimension (``x.shape[i]``)."""
    if isinstance(s, Constant):
        return int(s.data)
    owner = s.owner
    if owner is None:
        return None
    if isinstance(owner.op, Shape_i):
        return owner.inputs[0].type.shape[owner.op.i]
    if (isinstance(owner.op, Subtensor) and owner.inputs[0].owner is not None
            and isinstance(owner.inputs[0].owner.op, Shape) and len(owner.inputs) == 2
            and isinstance(owner.inputs[1], Constant)):
        return owner.inputs[0].owner.inputs[0].type.shape[int(owner.inputs[1].data)]
    return None


def shallow_zeros(shape, dtype=None):
    """``pytensor.tensor.zeros(shape, dtype)`` whose static shape is read off the shape elements
    (:func:`_static_length`) instead of PyTensor's ``infer_static_shape``.

    ``infer_static_shape`` clones the whole graph behind each symbolic shape element and runs
    the shape rewrites on the clone; behind a scan gradient's accumulators that is the forward
    scan and everything before it, once per accumulator. The node built is the same ``Alloc``;
    only a static dimension that would have needed a rewrite to be known stays unknown in its
    type (the compile's rewrites still find it).

    Parameters
    ----------
    shape : sequence of int or scalar integer variables
    dtype : str, optional (default ``config.floatX``)
    """
    dtype = dtype or pytensor.config.floatX
    if isinstance(shape, Variable) and shape.ndim == 1:
        shape = [shape[i] for i in range(get_vector_length(shape))]
    elements = [as_tensor_variable(s, ndim=0) for s in shape]
    for s in elements:
        if s.type.dtype not in integer_dtypes:
            raise TypeError(f"Shapes must be scalar integers; got {s}")
    out_type = TensorType(dtype, shape=tuple(_static_length(s) for s in elements))
    value = as_tensor_variable(np.array(0, dtype=dtype))
    return Apply(alloc, [value, *elements], [out_type()]).outputs[0]


#: ``pytensor.tensor`` as ``Scan.pullback`` sees it inside :class:`ReusingScan`.
_TENSOR_WITH_SHALLOW_ZEROS = types.SimpleNamespace(**dict(vars(pt), zeros=shallow_zeros))


class ReusingScan(Scan):
    """A ``Scan`` whose gradient substitutes the forward outputs by identity (module doc).

    ``pullback`` (the gradient) runs PyTensor's own ``Scan.pullback`` code, unchanged, with two
    names of its module bound differently for this call only: ``forced_replace`` is a fresh
    :func:`replace_by_identity`, and ``pt.zeros`` is :func:`shallow_zeros` (the gradient's
    accumulators, whose shapes are read off the forward scan's outputs). Everything else (forward
    pass, rewrites, every backend's implementation) is ``Scan``'s.
    """

    def pullback(self, inputs, outputs, output_grads):
        namespace = dict(vars(scan_op_module), forced_replace=replace_by_identity(),
                         pt=_TENSOR_WITH_SHALLOW_ZEROS)
        base = Scan.pullback
        own = types.FunctionType(base.__code__, namespace, base.__name__, base.__defaults__,
                                 base.__closure__)
        return own(self, inputs, outputs, output_grads)


def _as_reusing(outputs):
    """``outputs`` of ``pytensor.scan`` rebuilt on a :class:`ReusingScan` of the same inner graph."""
    listed = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    nodes = [n for n in io_toposort([], listed) if type(n.op) is Scan]
    replacements = {}
    for node in nodes:
        op = node.op
        new_op = ReusingScan(op.inner_inputs, op.inner_outputs, op.info, mode=op.mode,
                             truncate_gradient=op.truncate_gradient, name=op.name,
                             profile=op.profile, allow_gc=op.allow_gc)
        replacements.update(zip(node.outputs, new_op(*node.inputs, return_list=True)))
    if not replacements:
        return outputs
    rebuilt = graph_replace(listed, replacements, strict=False)
    return type(outputs)(rebuilt) if isinstance(outputs, (list, tuple)) else rebuilt[0]


def static_steps(sequences):
    """The number of steps a scan over ``sequences`` makes when their types give it: the shortest
    static leading length (``pytensor.scan`` runs ``min(len(s))`` steps), else None (a sequence of
    unknown length, one given as a dict of taps, or none at all)."""
    listed = list(sequences) if isinstance(sequences, (list, tuple)) else [sequences]
    lengths = [s.type.shape[0] if isinstance(s, Variable) and s.type.ndim else None for s in listed]
    if not lengths or any(n is None for n in lengths):
        return None
    return min(lengths)


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, **kwargs):
    """``pytensor.scan`` (same arguments; ``return_updates=False``) built on :class:`ReusingScan`.

    When the sequences' types give the number of steps (:func:`static_steps`: the static-shape
    graphs of the JAX mode) and ``n_steps`` is not given, it is passed as a constant and every
    output's type says its length (``specify_shape``). Otherwise PyTensor's scan makes the number
    of steps a graph (``minimum`` of the sequences' lengths) and its outputs' lengths unknown, and
    the compile's rewrites clone and constant-fold shape graphs to compare the gradient's buffers
    (``ShapeFeature.same_shape``, from ``local_useless_slice``); known lengths answer from the types
    (measured in ``benchmarks/README.md``, compile time). The graph computed is the same.

    Returns what ``pytensor.scan(..., return_updates=False)`` returns.
    """
    steps = static_steps(sequences) if kwargs.get("n_steps") is None and sequences is not None else None
    # One step: pytensor.scan builds no Scan for it (a different graph); leave it symbolic.
    if steps is not None and steps > 1:
        kwargs["n_steps"] = steps
    else:
        steps = None
    outputs = _as_reusing(pytensor.scan(fn, sequences=sequences, outputs_info=outputs_info,
                                        non_sequences=non_sequences, return_updates=False, **kwargs))
    listed = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    if steps is None or any(_runs_until(out) for out in listed):
        return outputs
    shaped = [pt.specify_shape(out, (steps, *out.type.shape[1:])) if out.type.shape[0] is None else out
              for out in listed]
    return type(outputs)(shaped) if isinstance(outputs, (list, tuple)) else shaped[0]


def _runs_until(out):
    """Whether the scan output ``out`` (the Scan node's output, or a slice of it) comes from a scan
    with a stopping condition (``until``): its length is then not the number of steps."""
    while out.owner is not None and not isinstance(out.owner.op, Scan):
        out = out.owner.inputs[0]
    return out.owner is not None and out.owner.op.info.as_while


def step_products(inputs, outputs):
    """The matrix products (outputs of 2-D ``Dot`` nodes) computed between ``inputs`` and ``outputs``,
    in topological order."""
    return [node.outputs[0] for node in io_toposort(list(inputs), list(outputs))
            if isinstance(node.op, Dot) and node.outputs[0].ndim == 2
            and any(v in inputs for v in _ancestors_within(node, inputs))]


def _ancestors_within(node, inputs):
    """Variables above ``node`` down to ``inputs`` (so a product of constants only is left out)."""
    seen, stack = set(), list(node.inputs)
    while stack:
        var = stack.pop()
        if var in seen:
            continue
        seen.add(var)
        if var in inputs:
            yield var
            continue
        if var.owner is not None:
            stack.extend(var.owner.inputs)


def scan_keeping_products(fn, sequences, outputs_info, name, **kwargs):
    """:func:`scan` ``(fn, sequences, outputs_info, ...)`` whose step also outputs its matrix products.

    Parameters
    ----------
    fn : callable
        The step, as for ``pytensor.scan``: ``fn(*sequence_slices, *previous_states)`` -> one
        variable or a list.
    sequences, outputs_info : lists, as for ``pytensor.scan``
    name : str
    **kwargs : passed to :func:`scan`

    Returns
    -------
    What ``pytensor.scan`` returns for ``fn`` alone (the products' outputs are left out).
    """
    outputs_info = list(outputs_info)
    n_out = len(outputs_info)
    found = {}

    def step(*args):
        outs = fn(*args)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        products = step_products(args, outs)
        found["n"] = len(products)
        return outs + products

    # The number of products is needed before scan builds the step: count them on a dry run of
    # the step on the first slice of each sequence and the initial states.
    first = [seq[0] for seq in sequences] + [info for info in outputs_info if info is not None]
    step(*first)
    n_products = found["n"]
    outs = scan(step, sequences=sequences, outputs_info=outputs_info + [None] * n_products,
                name=name, **kwargs)
    outs = list(outs)[:n_out]
    return outs if n_out > 1 else outs[0]
