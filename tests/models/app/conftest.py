"""Fixtures shared by the command tests of ``tests/models/app``."""
import pytest
from cli_helpers import invoke

from nips2015_vrnn.models.app import cli


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """The demo corpus prepared by ``vrnn-prepare demo`` into a fresh folder (one per test module):
    also the cache that ``vrnn-train demo --data`` reads."""
    out = tmp_path_factory.mktemp("demo") / "data"
    result = invoke(cli.prepare, ["demo", out])
    assert result.exit_code == 0, result.output
    return out
