"""A legacy-style training script runs where jax is installed, with no mode chosen anywhere (not by
the test suite, not by the environment), and gives the legacy numbers at float64 round-off: the
library compiles any graph it is given (the default backend is the C mode)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from numerics import FLOAT64_RTOL

SCRIPT = Path(__file__).parents[2] / "legacy_training_script.py"


def test_a_legacy_script_trains_to_the_legacy_numbers_with_jax_installed():
    pytest.importorskip("jax")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VRNN_MODE", "PYTENSOR_FLAGS", "JAX_"))}
    # import jax first, as a user's session with jax in it would
    result = subprocess.run([sys.executable, "-c", f"import jax, runpy; runpy.run_path({str(SCRIPT)!r}, "
                             "run_name='__main__')"], env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["jax_imported"]
    assert report["linker"] == "CVMLinker" or "VM" in report["linker"]
    assert len(report["steps"]) == 3
    assert max(report["steps"]) < FLOAT64_RTOL, report
