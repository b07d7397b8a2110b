"""Test-suite set-up.

Helpers shared by the tests are plain modules here (``golden_data``, ``numerics``,
``legacy_wiring``); fixtures live in the conftest.py nearest to their users.

Compiled functions that the code under test stores (:mod:`cle.function_store`, XLA's programs
included) go to the tests' own store, never to the user's: ``vrnn-pytensor/tests/<source>`` in the
cache folder (``$XDG_CACHE_HOME``, else ``~/.cache``), where ``<source>`` names the version of the
graph-building source (``cle/`` and ``models/``). A later test session of the same source loads
them instead of compiling (most of the suite's time is compiling); the folders of other versions
are deleted when they have not been used for a day. Set VRNN_FUNCTION_CACHE to choose the folder
yourself (``off``: compile everything; the tests of the store itself use their own folders).

Nothing here chooses a compile mode: the tests run in the mode a user's install gives. Library
calls compile by ``cle.backend.Backend()`` (the C mode) unless a test passes another backend; the
commands compile in ``cle.backend.program_default_mode()`` (JAX when installed) unless a test
gives ``--mode``. JAX's x64 switch is per process: the fixtures ``jax_float32`` and
``jax_float64`` set it for a test (as a program does at its start) and restore it after.
"""
import os
import shutil
import time
from pathlib import Path

import pytest

#: Folders of the tests' store for other source versions are deleted after this long unused.
STALE_STORE_S = 86400


def tests_store_directory():
    """The tests' store for the current graph-building source; other versions' stale folders go."""
    from cle.function_store import source_digest
    from nips2015_vrnn.models.compiled import SOURCE_ROOTS

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vrnn-pytensor" / "tests"
    current = base / source_digest(*(str(Path(r).resolve()) for r in SOURCE_ROOTS))[:16]
    if base.is_dir():
        for folder in base.iterdir():
            try:
                if folder != current and time.time() - folder.stat().st_mtime > STALE_STORE_S:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                pass  # removed by another session
    current.mkdir(parents=True, exist_ok=True)
    os.utime(current)
    return current


def pytest_configure(config):
    if "VRNN_FUNCTION_CACHE" not in os.environ:
        os.environ["VRNN_FUNCTION_CACHE"] = str(tests_store_directory())


def _jax_process(floatX):
    """JAX's x64 switch set for ``floatX`` graphs (as ``cle.backend.start_jax`` does at a program's
    start), restored after the test."""
    jax = pytest.importorskip("jax")
    from cle.backend import start_jax

    x64 = jax.config.jax_enable_x64
    start_jax(floatX)
    yield
    jax.config.update("jax_enable_x64", x64)


@pytest.fixture
def jax_float64():
    """A test of float64 JAX-mode graphs (JAX's x64 mode on, restored after)."""
    yield from _jax_process("float64")


@pytest.fixture
def jax_float32():
    """A test of float32 JAX-mode graphs (JAX's x64 mode off, restored after)."""
    yield from _jax_process("float32")
