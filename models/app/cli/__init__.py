"""The command line: one module per command; each only parses arguments, prints through click
and calls library functions of :mod:`nips2015_vrnn.models.app` and :mod:`nips2015_vrnn.datasets`.

``python -m nips2015_vrnn.models.app.cli <command> ...`` dispatches to the same commands as the
installed ``vrnn-<command>`` scripts.
"""
import sys

import click

from nips2015_vrnn.models.app.cli.evaluate import evaluate
from nips2015_vrnn.models.app.cli.monitor import monitor
from nips2015_vrnn.models.app.cli.prepare import prepare
from nips2015_vrnn.models.app.cli.sample import sample
from nips2015_vrnn.models.app.cli.sweep import sweep
from nips2015_vrnn.models.app.cli.table import table
from nips2015_vrnn.models.app.cli.train import train

__all__ = ["prepare", "train", "sample", "evaluate", "monitor", "sweep", "table", "COMMANDS", "main"]

#: Command name (``vrnn-<name>``) -> click command: the one table setup.py's scripts mirror.
COMMANDS = {"prepare": prepare, "train": train, "sample": sample, "eval": evaluate, "monitor": monitor,
            "sweep": sweep, "table": table}


def main():
    """Dispatch ``python -m nips2015_vrnn.models.app.cli <command> ...``."""
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        click.echo(f"usage: python -m nips2015_vrnn.models.app.cli {{{','.join(COMMANDS)}}} ...")
        sys.exit(2)
    name = sys.argv.pop(1)
    COMMANDS[name](prog_name=f"vrnn-{name}")
