"""The command line: one module per command; each only parses arguments, prints through click
and calls library functions of :mod:`nips2015_vrnn.models.app` and :mod:`nips2015_vrnn.datasets`.

``python -m nips2015_vrnn.models.app.cli <command> ...`` dispatches to the same commands as the
installed ``vrnn-<command>`` scripts (:data:`scripts`). Both first re-execute the process once
with glibc's huge-page tunable (:func:`cle.heap.relaunch_with_huge_pages`: XLA's per-call blocks
then fault in 2 MiB pages instead of 4 KiB ones, 8-12 % of a JAX training step measured).
"""
import sys
from types import SimpleNamespace

import click

from cle.heap import relaunch_with_huge_pages
from nips2015_vrnn.models.app.cli.evaluate import evaluate
from nips2015_vrnn.models.app.cli.import_legacy import import_legacy
from nips2015_vrnn.models.app.cli.monitor import monitor
from nips2015_vrnn.models.app.cli.prepare import prepare
from nips2015_vrnn.models.app.cli.sample import sample
from nips2015_vrnn.models.app.cli.sweep import sweep
from nips2015_vrnn.models.app.cli.table import table
from nips2015_vrnn.models.app.cli.train import train

__all__ = ["prepare", "train", "sample", "evaluate", "monitor", "sweep", "table", "import_legacy", "COMMANDS", "main",
           "scripts"]

#: Command name (``vrnn-<name>``) -> click command: the one table setup.py's scripts mirror.
COMMANDS = {"prepare": prepare, "train": train, "sample": sample, "eval": evaluate, "monitor": monitor,
            "sweep": sweep, "table": table, "import-legacy": import_legacy}


def main():
    """Dispatch ``python -m nips2015_vrnn.models.app.cli <command> ...``."""
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        click.echo(f"usage: python -m nips2015_vrnn.models.app.cli {{{','.join(COMMANDS)}}} ...")
        sys.exit(2)
    getattr(scripts, _attribute(sys.argv.pop(1)))()


def _script(name):
    """The console script ``vrnn-<name>``: relaunch with huge pages, then the command."""
    def script():
        relaunch_with_huge_pages()
        COMMANDS[name](prog_name=f"vrnn-{name}")
    script.__name__ = script.__qualname__ = f"vrnn_{name}"
    return script


def _attribute(name):
    """The attribute of :data:`scripts` for command ``name`` ('import-legacy' -> 'import_legacy')."""
    return name.replace("-", "_")


#: ``scripts.<name>``: the console script ``vrnn-<name>`` (setup.py's entry points), per command
#: (a '-' in the name is '_' in the attribute).
scripts = SimpleNamespace(**{_attribute(name): _script(name) for name in COMMANDS})
