"""The BLAS that PyTensor's C code links to: the OpenBLAS of the ``scipy-openblas32`` wheel.

PyTensor's C matrix products (``Gemm``, ``Dot22``, ``Gemv``, ``Ger``) call the Fortran BLAS
(``sgemm_`` ...) of the library named by its flag ``blas__ldflags``. It looks for one only in the
system's library folders (MKL, ``libblas`` + ``libcblas``, ``libopenblas``); a pip install has
none there, so the flag stays empty, PyTensor warns that it "could not link to a BLAS" and runs
each product through Python and ``numpy.dot``. The OpenBLAS that pip brings for NumPy and SciPy
is private to them (NumPy's is 64-bit-integer, SciPy's has a hashed file name), so it cannot be
linked. The ``scipy-openblas32`` wheel (``pip install 'vrnn-pytensor[blas]'``) is the same
OpenBLAS as a package of its own: 32-bit integers as PyTensor's declarations have them, a
stable path (``scipy_openblas32.get_lib_dir()``), and every routine exported with the prefix
``scipy_`` (``scipy_sgemm_``). :func:`ldflags` links it and maps PyTensor's names onto the
prefixed ones with one ``-D`` define per routine PyTensor's C code calls (:data:`ROUTINES`).

Nothing here runs at import. A program sets the flag once at its start, before any C function
is compiled (:func:`link_at_program_start`, which the commands call through
``cle.backend.Backend.start_process``); a library user either calls it, or gives the flag to
PyTensor in the environment before Python starts::

    export PYTENSOR_FLAGS="blas__ldflags=$(python -m cle.blas)"

A flag the user gave (``PYTENSOR_FLAGS`` or ``~/.pytensorrc``) is always kept. The thread count
is OpenBLAS's own (``OPENBLAS_NUM_THREADS``, read when the library loads).
"""
import importlib
import importlib.util
import logging

log = logging.getLogger(__name__)

__all__ = ["PACKAGE", "PREFIX", "ROUTINES", "available", "ldflags", "user_flag", "link_at_program_start"]

#: The pip package whose OpenBLAS is linked.
PACKAGE = "scipy_openblas32"
#: The prefix of every routine that library exports (``scipy_sgemm_``).
PREFIX = "scipy_"
#: The Fortran BLAS routines PyTensor 3.0's C code calls, single and double precision
#: (``pytensor/tensor/blas*.py``: gemm, gemv, ger, dot; the rest of the level-1 routines its
#: header declares, which a future op might call).
ROUTINES = tuple(f"{p}{name}_" for p in "sd" for name in (
    "gemm", "gemv", "ger", "dot", "axpy", "scal", "copy", "swap", "symv", "symm", "syrk",
    "trmm", "trmv", "trsm", "trsv"))


def available():
    """True when the ``scipy-openblas32`` package is installed."""
    return importlib.util.find_spec(PACKAGE) is not None


def ldflags():
    """PyTensor's ``blas__ldflags`` for the ``scipy-openblas32`` OpenBLAS: ``-L<dir> -l<lib>``
    (PyTensor adds ``-Wl,-rpath,<dir>`` so the compiled modules find it) and ``-D<name>=scipy_<name>``
    for each of :data:`ROUTINES`; None when the package is not installed."""
    if not available():
        return None
    package = importlib.import_module(PACKAGE)
    defines = " ".join(f"-D{name}={PREFIX}{name}" for name in ROUTINES)
    return f"-L{package.get_lib_dir()} -l{package.get_library()} {defines}"


def user_flag():
    """The ``blas__ldflags`` the user gave PyTensor (``PYTENSOR_FLAGS`` or ``~/.pytensorrc``), or None.
    PyTensor reads a given value when it starts (the parameter is then not ``is_default``); reading
    the flag when nobody gave it would make PyTensor look for a BLAS, which this does not do."""
    import pytensor

    parameter = type(pytensor.config).blas__ldflags  # the class attribute: the ConfigParam itself
    return None if parameter.is_default else pytensor.config.blas__ldflags


def link_at_program_start():
    """At a program's start, before any C function is compiled: PyTensor's ``blas__ldflags`` set
    to :func:`ldflags` unless the user gave the flag or ``scipy-openblas32`` is not installed
    (then PyTensor looks for a BLAS itself, as before). Returns the flag now in force, or None
    when this function left it to PyTensor."""
    import pytensor

    given = user_flag()
    if given is not None:
        return given
    flags = ldflags()
    if flags is None:
        log.info("%s is not installed: PyTensor's C products run through numpy "
                 "(pip install 'vrnn-pytensor[blas]')", PACKAGE)
        return None
    pytensor.config.blas__ldflags = flags
    return flags


if __name__ == "__main__":
    print(ldflags() or "")
