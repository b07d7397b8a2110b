"""Helpers of the command tests: run a click command, and check a one-line user error.

Import from any test as ``from cli_helpers import invoke, assert_one_line_error`` (``tests/`` is on
``sys.path`` because pytest inserts the rootdir of ``tests/conftest.py``).
"""
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
