"""The training graph as it was before the speed work, for before/after measurements.

``train_step.py --variant baseline`` calls :func:`use_baseline` before building the model. It
undoes, for this process only, each change the speed work made (benchmarks/README.md lists them):

1. the scans are PyTensor's own ``Scan`` (its gradient substitutes the forward outputs with
   ``forced_replace``) instead of :class:`cle.utils.scan.ReusingScan`;
2. the C mode keeps the ``local_dot22_to_dot22scalar`` rewrite;
3. the softmax unit is PyTensor's ``pt.special.softmax`` op;
4. the parameters are shared variables without static shapes (applied by :func:`dynamic_params`
   after the model is built).
"""
import pytensor
import pytensor.tensor as pt
from pytensor.compile.mode import Mode

__all__ = ["use_baseline", "dynamic_params"]


def _pytensor_softmax(z):
    return pt.special.softmax(z, axis=-1)


def use_baseline():
    """Switch this benchmark process to the pre-speed-work graph settings (call before building
    the model)."""
    from cle import backend, layers
    from cle.utils import scan

    scan._as_reusing = lambda outputs: outputs
    current = backend.get_compile_mode

    def baseline_mode(name="c", matmul_precision="highest"):
        if name == "c":
            return Mode(linker="cvm", optimizer="fast_run")
        return current(name, matmul_precision)

    backend.get_compile_mode = baseline_mode
    layers.UNITS["softmax"] = _pytensor_softmax


def dynamic_params(model):
    """Replace the model's parameters by shared variables without static shapes (before graphs exist)."""
    for name, shared in list(model.params.items()):
        model.params[name] = pytensor.shared(shared.get_value(), name=name)
    return model
