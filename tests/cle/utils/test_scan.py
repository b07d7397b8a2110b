"""cle.utils.scan: ``scan`` (a ReusingScan) and ``scan_keeping_products`` give the same values and
gradients as PyTensor's own scan and scan gradient; the backward step of ``scan`` reads the
forward outputs back (by identity), and with the products kept it multiplies no weight the way
the forward step does. Nothing in PyTensor is changed for it."""
import importlib

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.traversal import io_toposort
from pytensor.scan.op import Scan
from pytensor.scan.utils import until
from pytensor.tensor.math import Dot

from cle.utils.scan import ReusingScan, scan, scan_keeping_products, step_products

RNG = np.random.default_rng(11)
T, BATCH, N_IN, N_HID = 5, 3, 4, 6
X = RNG.normal(size=(T, BATCH, N_IN))
H0 = RNG.normal(size=(BATCH, N_HID))
WEIGHTS = {name: RNG.normal(scale=0.5, size=shape) for name, shape in
           [("A", (N_IN, N_HID)), ("U", (N_HID, N_HID)), ("B", (N_HID, N_HID)), ("C", (N_HID, N_HID))]}
#: Reference mode: PyTensor's Python linker, no rewrites that could hide a difference.
MODE = "FAST_COMPILE"
#: PyTensor's full rewrites (scan push-out, memory saving, ...), run by the Python linker (no C).
REWRITTEN = pytensor.compile.mode.Mode(linker="py", optimizer="fast_run")


def build(scan_fn, static=False):
    """Cost and gradients of a two-product-deep recurrence, with its params (shared) and x (of
    static shape when ``static``: the JAX mode's graphs)."""
    x = pt.tensor("x", dtype="float64", shape=X.shape if static else (None, None, None))
    h0 = pt.matrix("h0", dtype="float64")
    params = {name: pytensor.shared(value, name=name) for name, value in WEIGHTS.items()}

    def step(x_t, h_tm1):
        a = pt.maximum(pt.dot(x_t, params["A"]) + pt.dot(h_tm1, params["U"]), 0)   # two products
        b = pt.tanh(pt.dot(a, params["B"]))                                          # a product of a product
        return pt.tanh(pt.dot(b, params["C"]) + h_tm1), pt.sqr(b)

    if scan_fn is pytensor.scan:
        h, extra = pytensor.scan(step, sequences=[x], outputs_info=[h0, None], return_updates=False)
    else:
        h, extra = scan_fn(step, sequences=[x], outputs_info=[h0, None], name="test_scan")
    cost = pt.sum(h ** 2) + pt.sum(extra)
    grads = pytensor.grad(cost, [params[name] for name in sorted(params)] + [h0])
    return [x, h0], [cost, h, extra] + grads


def backward_scan(outputs):
    """The gradient's Scan op (the one whose name starts with 'grad_of')."""
    scans = [node.op for node in io_toposort([], outputs) if isinstance(node.op, Scan)]
    return next(op for op in scans if op.name.startswith("grad_of"))


def test_values_and_gradients_equal_pytensors_own_scan_and_scan_gradient():
    inputs, reference = build(pytensor.scan)
    expected = pytensor.function(inputs, reference, mode=MODE)(X, H0)
    for scan_fn in (scan, scan_keeping_products):
        kept_inputs, kept = build(scan_fn)
        got = pytensor.function(kept_inputs, kept, mode=MODE)(X, H0)
        assert len(got) == len(expected) == 3 + len(WEIGHTS) + 1
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


def test_the_backward_step_of_scan_is_far_smaller_than_pytensors():
    """PyTensor's substitution searches per (input, output) and misses the product of a product
    once the first substitution rebuilt it: its backward step recomputes and duplicates."""
    _, own = build(pytensor.scan)
    _, reusing = build(scan)
    assert type(backward_scan(own)) is Scan
    sizes = [len(backward_scan(outputs).fgraph.apply_nodes) for outputs in (own, reusing)]
    dots = [sum(isinstance(n.op, Dot) for n in backward_scan(outputs).fgraph.apply_nodes)
            for outputs in (own, reusing)]
    assert dots[1] < dots[0] and sizes[1] < sizes[0], (dots, sizes)


def test_scan_builds_a_reusing_scan_and_leaves_pytensor_as_it_was():
    scan_op = importlib.import_module("pytensor.scan.op")  # pytensor.scan is a function
    original = scan_op.forced_replace, pt.zeros, Scan.pullback
    _, outputs = build(scan)
    assert any(isinstance(n.op, ReusingScan) for n in io_toposort([], outputs))
    assert (scan_op.forced_replace, pt.zeros, Scan.pullback) == original


def test_the_backward_step_reads_the_forward_products_instead_of_recomputing_them():
    def forward_like_products(outputs):
        """Products in the backward step that multiply by a weight as it stands (x @ W), as the
        forward step does; the gradient's own products use W.T or x.T."""
        op = backward_scan(outputs)
        weights = set(op.inner_non_seqs(op.inner_inputs))
        return [n for n in op.fgraph.apply_nodes if isinstance(n.op, Dot) and n.inputs[1] in weights]

    _, plain = build(scan)
    _, kept = build(scan_keeping_products)
    assert len(forward_like_products(plain)) == len(WEIGHTS)    # each forward product recomputed
    assert forward_like_products(kept) == []


def test_step_products_lists_the_products_between_inputs_and_outputs_only():
    x = pt.matrix("x")
    w = pt.matrix("w")
    constant_product = pt.dot(pt.ones((2, 2)), pt.ones((2, 2)))
    first = pt.dot(x, w)
    second = pt.dot(pt.tanh(first), w) + constant_product
    assert step_products([x], [second]) == [first, second.owner.inputs[0]]



def test_static_sequences_give_a_constant_step_count_and_outputs_of_known_length():
    """The static-shape graphs (JAX mode): the scan runs a constant number of steps, its outputs'
    types say their length, and the values and gradients are those of the dynamic graph, with and
    without PyTensor's rewrites."""
    inputs, dynamic = build(scan)
    static_inputs, static = build(scan, static=True)
    forward = next(node for node in io_toposort([], static) if isinstance(node.op, Scan)
                   and not node.op.name.startswith("grad_of"))
    assert forward.inputs[0].data == T
    assert static[1].type.shape[0] == T and static[2].type.shape[0] == T
    assert dynamic[1].type.shape[0] is None and dynamic[2].type.shape[0] is None
    for mode in (MODE, REWRITTEN):
        expected = pytensor.function(inputs, dynamic, mode=mode)(X, H0)
        got = pytensor.function(static_inputs, static, mode=mode)(X, H0)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


def test_a_scan_with_a_stopping_condition_or_one_step_keeps_pytensors_output_types():
    """``until`` may stop early (the output is shorter than the sequence); one step builds no Scan
    in PyTensor: neither is given a constant length."""
    x = pt.tensor("x", dtype="float64", shape=(4, 2))
    doubled = scan(lambda x_t: (2 * x_t, until(pt.all(x_t > 0.5))), sequences=[x])
    assert doubled.type.shape == (None, 2)
    value = pytensor.function([x], doubled, mode=MODE)(np.array([[0.1, 0.1], [1, 1], [0, 0], [0, 0]]))
    np.testing.assert_array_equal(value, [[0.2, 0.2], [2, 2]])
    one = pt.tensor("one", dtype="float64", shape=(1, 2))
    summed = scan(lambda x_t, s: s + x_t, sequences=[one], outputs_info=[pt.zeros(2, dtype="float64")])
    assert summed.type.shape == (None, 2)
    np.testing.assert_array_equal(pytensor.function([one], summed, mode=MODE)(np.ones((1, 2))), [[1, 1]])
