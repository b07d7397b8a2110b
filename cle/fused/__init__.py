"""Fused ops: a cost's elementwise work and its gradient each as one loop in C.

PyTensor compiles elementwise graphs into loops that call scalar ``log`` / ``exp`` and keep every
intermediate array for the gradient. For a cost evaluated on (frames x dims x components) values
those loops are a large part of a C-mode training step (benchmarks/README.md); an op here computes
the same formula in one pass over its inputs, vectorised, and its gradient in another, storing
nothing in between.
Each op also has a NumPy ``perform`` (Python linker) and a JAX implementation (JAX mode, where
XLA fuses the same formula itself).
"""
from cle.fused.gmm import GMMNll, GMMNllGrad, gmm_nll
from cle.fused.gmm import register_jax as _register_gmm_jax
from cle.fused.softplus import Softplus, SoftplusGrad, softplus
from cle.fused.softplus import register_jax as _register_softplus_jax

__all__ = ["GMMNll", "GMMNllGrad", "gmm_nll", "Softplus", "SoftplusGrad", "softplus", "register_jax"]


def register_jax():
    """The JAX implementations of every fused op (called where a graph is prepared for JAX mode)."""
    _register_gmm_jax()
    _register_softplus_jax()
