"""Test-suite set-up: importing cle applies the project's compile defaults.

Helpers shared by the tests are plain modules here (``golden_data``, ``numerics``,
``legacy_wiring``); fixtures live in the conftest.py nearest to their users.
"""
import cle  # noqa: F401  (imported for its side effect: the project's compile defaults)
