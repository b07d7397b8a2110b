"""The scripts in examples/ run as README shows them (the Python API cannot rot)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_python_api_script_trains_loads_scores_and_generates(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "python_api.py"), str(tmp_path)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "trained 20 updates: max_updates=20 reached"
    assert lines[1].startswith("walk0 (") and "importance-sampled" in lines[1]
    assert lines[2] == "generated 3 sequences of 25 steps"
