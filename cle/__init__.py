"""cle: Junyoung Chung's Theano framework for sequential latent-variable models, ported to PyTensor.

Importing ``cle`` selects the project's compilation defaults (see :mod:`cle.backend`):
graphs compile with PyTensor's C backend (CVM linker) and ``floatX`` is float32 unless the
user chose otherwise through ``PYTENSOR_FLAGS`` or ``VRNN_FLOATX``.
"""
from cle import backend as _backend

_backend.apply_defaults()

__version__ = "0.1.0"
