"""``scan`` whose forward pass keeps the step's matrix products for the backward pass.

PyTensor's gradient of a ``scan`` is another scan that runs the step's gradient backwards in
time. That backward step recomputes every value of the forward step it needs, unless the value
is one of the forward scan's outputs, which it reads back instead (inside
:func:`cle.backend.scan_gradient`, by identity). For a recurrent network this means every matrix
product of the forward step is done twice: e.g. the LSTM's ``h_{t-1} @ U``. :func:`scan_keeping_products`
makes each matrix product of the step an extra (hidden) output of the forward scan, so the
backward step reads it instead of recomputing it: the same numbers, a third fewer products in
the scan's part of a training step, at the cost of storing them (T, B, width) per product.
A graph that takes no gradient is unchanged in effect: PyTensor drops unused scan outputs.
"""
import pytensor
from pytensor.graph.traversal import io_toposort
from pytensor.tensor.math import Dot

__all__ = ["scan_keeping_products", "step_products"]


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
    """``pytensor.scan(fn, sequences, outputs_info, ...)`` whose step also outputs its matrix products.

    Parameters
    ----------
    fn : callable
        The step, as for ``pytensor.scan``: ``fn(*sequence_slices, *previous_states)`` -> one
        variable or a list.
    sequences, outputs_info : lists, as for ``pytensor.scan``
    name : str
    **kwargs : passed to ``pytensor.scan`` (``return_updates=False`` is set)

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
    outs = pytensor.scan(step, sequences=sequences, outputs_info=outputs_info + [None] * n_products,
                         name=name, return_updates=False, **kwargs)
    outs = list(outs)[:n_out]
    return outs if n_out > 1 else outs[0]
