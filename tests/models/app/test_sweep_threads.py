"""--threads means the same in every mode: a cell's command gets the BLAS / OpenMP variables and runs
pinned to CPUs of its own (XLA sizes its thread pool from them), one CPU set per worker slot."""
import json
import os
import sys

import pytest

from nips2015_vrnn.models.app import sweep


def test_each_slot_gets_threads_consecutive_cpus_wrapping_around():
    allowed = [0, 1, 2, 3]
    assert sweep.cell_cpus(None, 0, allowed) is None
    assert sweep.cell_cpus(2, 0, allowed) == [0, 1]
    assert sweep.cell_cpus(2, 1, allowed) == [2, 3]
    assert sweep.cell_cpus(2, 2, allowed) == [0, 1]
    assert sweep.cell_cpus(3, 1, allowed) == [0, 1, 3]
    assert sweep.cell_cpus(8, 0, allowed) == [0, 1, 2, 3]


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="CPU affinity is Linux's")
def test_a_cells_command_runs_pinned_with_the_thread_variables(tmp_path, monkeypatch):
    """The command (here a stand-in module) reports the CPUs it may use and the variables it got."""
    (tmp_path / "report_threads.py").write_text(
        "import json, os, sys\n"
        "print(json.dumps({'cpus': sorted(os.sched_getaffinity(0)),\n"
        "                  'env': {k: os.environ.get(k) for k in %r}}))\n" % (sweep.THREAD_VARIABLES,))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setattr(sweep, "CLI_MODULE", "report_threads")
    allowed = sorted(os.sched_getaffinity(0))
    for slot in range(2):
        log_path = tmp_path / f"slot{slot}.log"
        assert sweep._run(["train"], log_path, tmp_path / "cell.pid", 1, slot) == 0
        report = json.loads(log_path.read_text().splitlines()[-1])
        assert report["cpus"] == [allowed[slot % len(allowed)]]
        assert set(report["env"].values()) == {"1"}
    assert sys.executable  # the command ran with this interpreter
