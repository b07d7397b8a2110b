"""A model's gradient through scan, as Training builds it with a plain ``pytensor.grad``, reads the
forward step back: far fewer products per backward step than PyTensor's own Scan gives.

The graph is inspected before compilation (compiling would take minutes): the backward scan of the
VRNN (built on :class:`cle.utils.scan.ReusingScan`) holds far fewer matrix products than the one
of the same model built on PyTensor's ``Scan``, and PyTensor is left as it was.
"""
import importlib

from pytensor.graph.traversal import io_toposort
from pytensor.scan.op import Scan
from pytensor.tensor.math import Dot

import cle.train.training as training_module
import cle.utils.scan as scan_module
from cle.train import Training
from cle.train.opt import Adam
from nips2015_vrnn.models import build_model, get_preset

TINY = dict(x_dim=4, z_dim=2, rnn_dim=4, x2s_dim=4, z2s_dim=4, q_z_dim=4, p_z_dim=4, p_x_dim=4, num_k=2,
            batch_size=2, depth=2)


def scan_products(monkeypatch, reusing=True):
    """Matrix products inside the scans of the training graph Training builds (not compiled);
    ``reusing=False`` builds the model's scans as PyTensor's own ``Scan``."""
    captured = {}
    if not reusing:
        monkeypatch.setattr(scan_module, "_as_reusing", lambda outputs: outputs)

    def capture(inputs, outputs, updates=None, **kwargs):
        captured["outputs"] = list(outputs) + list(updates.values())
        return lambda *args: None

    monkeypatch.setattr(training_module, "function", capture)
    model = build_model(get_preset("blizzard/vrnn_gmm", **TINY), dtype="float64")
    cost = model.training_graph().outputs["nll_upper_bound"]
    Training("t", [], model.as_cle_model(), Adam(1e-3), cost, [cost], progress=False)
    counts = []
    for node in io_toposort([], captured["outputs"]):
        if isinstance(node.op, Scan):
            counts.append(sum(isinstance(n.op, Dot) for n in node.op.fgraph.apply_nodes))
    return sorted(counts)


def test_training_builds_the_scan_gradient_that_reads_the_forward_step_back(monkeypatch):
    scan_op = importlib.import_module("pytensor.scan.op")
    original = scan_op.forced_replace
    fast = scan_products(monkeypatch)
    assert scan_op.forced_replace is original
    slow = scan_products(monkeypatch, reusing=False)
    assert len(fast) == len(slow) == 2            # the forward scan and its gradient
    assert fast[0] == slow[0]                     # same forward step
    assert fast[1] * 2 < slow[1], (fast, slow)    # the backward step: far fewer products
