"""Test-suite set-up.

Helpers shared by the tests are plain modules here (``golden_data``, ``numerics``,
``legacy_wiring``); fixtures live in the conftest.py nearest to their users.

Compiled functions that the code under test stores (:mod:`cle.function_store`) go to a folder of
this test session, removed at its end, never to the user's cache (unless VRNN_FUNCTION_CACHE is set).

The tests run in the C mode unless they choose another (or VRNN_MODE is set): the user's default
is JAX when it is installed (``cle.backend.default_mode``), which the JAX tests and the slow
end-to-end tests (they clear VRNN_MODE) exercise; the golden comparisons are C's.
"""
import os
import shutil
import tempfile

_session_store = None


def pytest_configure(config):
    global _session_store
    os.environ.setdefault("VRNN_MODE", "c")
    if "VRNN_FUNCTION_CACHE" not in os.environ:
        _session_store = tempfile.mkdtemp(prefix="vrnn-functions-")
        os.environ["VRNN_FUNCTION_CACHE"] = _session_store


def pytest_unconfigure(config):
    if _session_store is not None:
        os.environ.pop("VRNN_FUNCTION_CACHE", None)
        shutil.rmtree(_session_store, ignore_errors=True)
