"""Training builds the scan gradient without PyTensor's forced_replace (fewer products per step).

The graph is inspected before compilation (compiling would take minutes): the backward scan of the
VRNN built inside ``cle.backend.scan_gradient`` holds far fewer matrix products than the one built
with PyTensor's substitution (``VRNN_SCAN_FORCED_REPLACE=1``), and PyTensor is left as it was.
"""
import importlib

from pytensor.graph.traversal import io_toposort
from pytensor.scan.op import Scan
from pytensor.tensor.math import Dot

import cle.train.training as training_module
from cle.train import Training
from cle.train.opt import Adam
from nips2015_vrnn.models import build_model, get_preset

TINY = dict(x_dim=4, z_dim=2, rnn_dim=4, x2s_dim=4, z2s_dim=4, q_z_dim=4, p_z_dim=4, p_x_dim=4, num_k=2,
            batch_size=2, depth=2)


def scan_products(monkeypatch):
    """Matrix products inside the scans of the training graph Training builds (not compiled)."""
    captured = {}

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


def test_training_builds_the_scan_gradient_without_forced_replace(monkeypatch):
    scan_op = importlib.import_module("pytensor.scan.op")
    original = scan_op.forced_replace
    fast = scan_products(monkeypatch)
    assert scan_op.forced_replace is original
    monkeypatch.setenv("VRNN_SCAN_FORCED_REPLACE", "1")
    slow = scan_products(monkeypatch)
    assert len(fast) == len(slow) == 2            # the forward scan and its gradient
    assert fast[0] == slow[0]                     # same forward step
    assert fast[1] * 2 < slow[1], (fast, slow)    # the backward step: far fewer products
