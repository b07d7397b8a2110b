"""The tests of ``benchmarks/``: its scripts are not a package, so their folder is put on the import
path (appended: nothing installed is shadowed) and a test imports a script by its module name, as
the scripts import each other when run as ``python benchmarks/<script>.py``."""
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))
