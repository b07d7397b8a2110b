"""cle: Junyoung Chung's Theano framework for sequential latent-variable models, ported to PyTensor.

Importing ``cle`` changes nothing global: PyTensor's flags and functions stay as they are.
Precision and compile mode are chosen where graphs are built (see :mod:`cle.backend`).
"""

__version__ = "0.1.0"
