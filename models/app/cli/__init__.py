"""The command line: one module per command; each only parses arguments, prints through click
and calls library functions of :mod:`nips2015_vrnn.models.app` and :mod:`nips2015_vrnn.datasets`.

``python -m nips2015_vrnn.models.app.cli <command> ...`` dispatches to the same commands as the
installed ``vrnn-<command>`` scripts (:data:`scripts`). Importing this package imports no
command: each script imports its own command's module when it runs. Only the commands of
:data:`HUGE_PAGE_COMMANDS` first re-execute the process, before any heavy import, with glibc's
huge-page tunable (:func:`cle.heap.relaunch_with_huge_pages`: XLA's per-call blocks of a training
step then fault in 2 MiB pages instead of 4 KiB ones; benchmarks/README.md); the others gain
nothing from it and start once.
"""
import importlib
import sys
from types import SimpleNamespace

__all__ = ["prepare", "train", "sample", "evaluate", "monitor", "sweep", "table", "import_legacy",
           "COMMANDS", "HUGE_PAGE_COMMANDS", "command", "main", "scripts"]

#: Command name (``vrnn-<name>``) -> its module in this package, whose attribute of the same name
#: is the click command: the one table setup.py's scripts mirror.
COMMANDS = {"prepare": "prepare", "train": "train", "sample": "sample", "eval": "evaluate",
            "monitor": "monitor", "sweep": "sweep", "table": "table", "import-legacy": "import_legacy"}
#: Commands whose work is JAX training steps, where huge pages measurably speed each step.
HUGE_PAGE_COMMANDS = ("train",)


def command(name):
    """The click command of ``vrnn-<name>`` (its module imported now)."""
    module = COMMANDS[name]
    found = getattr(importlib.import_module(f"{__name__}.{module}"), module)
    # Importing the submodule set this package's attribute of its name to the module: the
    # attribute is the command (as ``__all__`` says), so ``cli.train`` stays the command.
    globals()[module] = found
    return found


def __getattr__(attribute):
    """``cli.train``, ``cli.evaluate`` ...: the click command, imported at first use."""
    for name, module in COMMANDS.items():
        if module == attribute:
            return command(name)
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


def main():
    """Dispatch ``python -m nips2015_vrnn.models.app.cli <command> ...``."""
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python -m nips2015_vrnn.models.app.cli {{{','.join(COMMANDS)}}} ...",
              file=sys.stderr)
        sys.exit(2)
    getattr(scripts, _attribute(sys.argv.pop(1)))()


def _script(name):
    """The console script ``vrnn-<name>``: relaunch with huge pages (:data:`HUGE_PAGE_COMMANDS`
    only), then import and run the command."""
    def script():
        if name in HUGE_PAGE_COMMANDS:
            from cle.heap import relaunch_with_huge_pages
            relaunch_with_huge_pages()
        command(name)(prog_name=f"vrnn-{name}")
    script.__name__ = script.__qualname__ = f"vrnn_{name}"
    return script


def _attribute(name):
    """The attribute of :data:`scripts` for command ``name`` ('import-legacy' -> 'import_legacy')."""
    return name.replace("-", "_")


#: ``scripts.<name>``: the console script ``vrnn-<name>`` (setup.py's entry points), per command
#: (a '-' in the name is '_' in the attribute).
scripts = SimpleNamespace(**{_attribute(name): _script(name) for name in COMMANDS})
