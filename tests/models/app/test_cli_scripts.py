"""The console scripts (``nips2015_vrnn.models.app.cli.scripts``): which re-execute themselves with
glibc's huge-page tunable, and that they do it before anything heavy is imported."""
import subprocess
import sys

import pytest

from nips2015_vrnn.models.app import cli

#: The commands whose work is training steps, the only ones a relaunch speeds (benchmarks/README.md).
RELAUNCHING = {"train"}


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_only_vrnn_train_relaunches_and_before_its_command_is_imported(monkeypatch, name):
    import cle.heap

    events = []
    monkeypatch.setattr(cle.heap, "relaunch_with_huge_pages", lambda: events.append("relaunch"))
    monkeypatch.setattr(cli, "command", lambda n: events.append(f"import {n}") or (
        lambda **kw: events.append(f"run {kw['prog_name']}")))
    getattr(cli.scripts, name.replace("-", "_"))()
    expected = [f"import {name}", f"run vrnn-{name}"]
    assert events == (["relaunch"] + expected if name in RELAUNCHING else expected)
    assert set(cli.HUGE_PAGE_COMMANDS) == RELAUNCHING


def test_a_script_relaunches_before_any_heavy_import():
    """What a relaunch discards is what the process imported first: the cli package and cle.heap,
    which import nothing heavy."""
    heavy = ("numpy", "scipy", "h5py", "pytensor", "jax", "click")
    code = ("import sys, cle.heap, nips2015_vrnn.models.app.cli; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
