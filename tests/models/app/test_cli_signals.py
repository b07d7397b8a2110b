"""A SIGTERM is never lost: not while compiling (where its KeyboardInterrupt can land inside a
callback whose exceptions Python only prints, as JAX's garbage-collection callback), and not at
any moment of a short demo run in a subprocess."""
import os
import random
import signal
import subprocess
import sys
import time
import types

import pytest
from click.testing import CliRunner

from nips2015_vrnn.datasets import lookup
from nips2015_vrnn.models.app import cli, trainer
from nips2015_vrnn.models.app.cli.common import EXIT_INTERRUPTED

TINY = ["rnn_dim=16", "x2s_dim=8", "z2s_dim=8", "q_z_dim=8", "p_z_dim=8", "p_x_dim=8", "z_dim=4",
        "k=2", "monitoring_freq=2"]
TINY_ARGS = [arg for item in TINY for arg in ("--set", item)]


class _SwallowsInterrupts:
    """Its ``__del__`` receives a SIGTERM: the handler's KeyboardInterrupt is raised inside
    ``__del__``, where Python prints "Exception ignored" and goes on (as in JAX's gc callback)."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs at one of these steps, inside __del__
            pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the swallowed interrupt
def test_a_sigterm_swallowed_while_compiling_still_interrupts_the_command(tmp_path, monkeypatch):
    calls = []

    def compiling_then_swallowed_sigterm(run, backend=None, max_updates=None, resume=False, on_event=None,
                                         progress=None, **options):
        on_event("stage", name="the model graph")
        _SwallowsInterrupts()  # made and dropped: its __del__ runs now, the interrupt is swallowed
        calls.append("survived the signal")
        on_event("compiled", seconds=1.0, loaded=False)
        calls.append("trained")
        return types.SimpleNamespace(trainlog=types.SimpleNamespace(batch_seen=10, epoch_seen=1, times=[]),
                                     end_reason="finished")

    monkeypatch.setattr(trainer, "train_run", compiling_then_swallowed_sigterm)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli.train, ["demo", "--out", str(out), "--data", str(lookup.ensure_demo_data()),
                                            "--mode", "c", *TINY_ARGS])
    assert calls == ["survived the signal"]  # the interrupt was swallowed, then raised at "compiled"
    assert result.exit_code == EXIT_INTERRUPTED, result.output
    assert "interrupted before the first checkpoint" in result.output and not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(3))
def test_sigterm_at_a_random_moment_of_compiling_or_training_ends_the_run_as_documented(tmp_path, attempt):
    """vrnn-train demo in a subprocess (garbage collection made frequent, so the signal often lands
    in a gc callback) gets SIGTERM at a random moment after it starts compiling: it exits with 130,
    having removed the run (before its first checkpoint) or saved a checkpoint to resume."""
    out = tmp_path / "run"
    code = ("import gc, sys; gc.set_threshold(50, 5, 5)\n"
            "from nips2015_vrnn.models.app.cli import command\n"
            "command('train')(sys.argv[1:], prog_name='vrnn-train')\n")
    process = subprocess.Popen(
        [sys.executable, "-c", code, "demo", "--out", str(out), "--data", str(lookup.ensure_demo_data()),
         *TINY_ARGS, "--max-updates", "100000"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("compiling"):
            break
    time.sleep(random.Random(attempt).uniform(0.2, 20.0))
    process.send_signal(signal.SIGTERM)
    lines += process.stdout.readlines()
    status = process.wait(timeout=300)
    output = "".join(lines)
    assert status == EXIT_INTERRUPTED, output  # never trained on to the end, never a crash
    if (out / "checkpoints" / "last").is_dir():
        assert f"resume with: vrnn-train --resume {out}" in output
    else:
        assert not out.exists() and "interrupted before the first checkpoint" in output
