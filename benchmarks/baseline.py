"""The training graph as it was before the speed work, for before/after measurements.

``train_step.py --variant baseline`` calls :func:`use_baseline` before building the model. It
undoes, for this process only, each change the speed work made (benchmarks/README.md lists them):

1. the scan gradient runs PyTensor's ``forced_replace`` again
   (``VRNN_SCAN_FORCED_REPLACE=1``, read by :func:`cle.backend.scan_gradient`);
2. the C mode keeps the ``local_dot22_to_dot22scalar`` rewrite;
3. the softmax unit is PyTensor's ``pt.special.softmax`` op;
4. the parameters are shared variables without static shapes (applied by :func:`dynamic_params`
   after the model is built).
"""
import os

import pytensor
import pytensor.tensor as pt
from pytensor.compile.mode import Mode

__all__ = ["use_baseline", "dynamic_params"]


def _pytensor_softmax(z):
    return pt.special.softmax(z, axis=-1)


def _baseline_mode(name=None, _current=None):
    from cle import backend

    name = (name or backend.mode_name()).lower()
    if name == "c":
        return Mode(linker="cvm", optimizer="fast_run")
    return _current(name)


def use_baseline():
    """Switch this process to the pre-speed-work graph settings (call before building the model)."""
    from cle import backend, layers

    os.environ[backend.FORCED_REPLACE_ENV] = "1"
    current = backend.get_compile_mode
    backend.get_compile_mode = lambda name=None: _baseline_mode(name, current)
    layers.UNITS["softmax"] = _pytensor_softmax


def dynamic_params(model):
    """Replace the model's parameters by shared variables without static shapes (before graphs exist)."""
    for name, shared in list(model.params.items()):
        model.params[name] = pytensor.shared(shared.get_value(), name=name)
    return model
