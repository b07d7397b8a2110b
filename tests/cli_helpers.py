"""Helpers of the command tests: run a click command, and check a one-line user error.

Import from any test as ``from cli_helpers import invoke, assert_one_line_error`` (``tests/`` is on
``sys.path`` because pytest inserts the rootdir of ``tests/conftest.py``).
"""
import os
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner


def invoke(command, args):
    """``command`` run with ``args`` (made strings); exceptions propagate."""
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, *fragments):
    """Exit status 1, no traceback, exactly one ``Error:`` line holding every fragment; returns it."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, result.output
    for fragment in fragments:
        assert str(fragment) in error_lines[0], result.output
    return error_lines[0]


def console_script(name):
    """The console script ``name`` installed beside the running Python (skip if not installed)."""
    path = Path(sys.executable).parent / name
    found = path if path.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"console script {name} is not installed (pip install -e .)")
    return str(found)


def subprocess_env(demo_dir):
    """This process's environment for commands run as subprocesses: the demo corpus prepared into
    ``demo_dir`` (a fresh cache), no ``VRNN_MODE`` (the install's default mode)."""
    environment = dict(os.environ)
    environment["VRNN_DEMO_DIR"] = str(demo_dir)
    environment.pop("VRNN_MODE", None)
    return environment
