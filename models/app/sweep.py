"""Running a sweep: each (model, seed) cell trained and evaluated by the ordinary commands, in its
own process, one cell after another or as Dask tasks.

One cell (:func:`run_cell`) is: ``vrnn-train`` into ``SWEEP_DIR/<cell>`` (``vrnn-train --resume``
when the cell has a ``checkpoints/last`` from an earlier attempt; a cell that failed before its
first checkpoint is discarded and started again), then ``vrnn-eval`` with the sweep's protocol.
Both run as subprocesses (``python -m nips2015_vrnn.models.app.cli``) so a crash, a kill or a
lost machine costs only that cell; the next run of the sweep resumes it. While a command runs,
``logs/<cell>.pid`` holds its process id, and its output goes to ``logs/<cell>.<step>.log``.

Engines (:func:`run_sweep`): ``local`` runs the cells here one after another; ``dask`` submits one
task per cell to a ``dask.distributed`` cluster (a ``LocalCluster`` of ``workers`` processes with
one thread each, or the scheduler at ``address``). Dask is the optional extra ``cluster``.

Threads: ``threads`` means the same in every mode. Each cell's commands get ``OMP_NUM_THREADS``
(and the OpenBLAS / MKL equivalents) = ``threads``, for the C mode's BLAS, and run pinned to
``threads`` CPUs of their own (:func:`cell_cpus`), from which XLA (JAX mode) sizes its thread
pool (it reads none of the variables). A LocalCluster shares this machine's cores among its
workers: worker ``i`` gets CPUs ``i * threads ...``. The PyTensor compile cache stays shared
(PyTensor locks it).
"""
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from nips2015_vrnn.datasets.lookup import DEMO_CORPORA
from nips2015_vrnn.models.app.rundir import CONFIG_FILE, RunDir, RunError, discard_run
from nips2015_vrnn.models.app.runlock import folder_lock, lock_holder
from nips2015_vrnn.models.app.runlog import LOG_FILE, read_log
from nips2015_vrnn.models.app.sweepdir import (
    LOGS,
    STATUS_FILE,
    SweepError,
    SweepSpec,
    cell_name,
    cell_state,
    create_sweep,
    eval_result,
    read_status,
    write_json,
)

log = logging.getLogger(__name__)

__all__ = ["ENGINES", "THREAD_VARIABLES", "CLUSTER_HINT", "run_cell", "run_sweep", "train_command",
           "eval_command", "default_threads", "cell_cpus"]

#: How the cells are run: here one after another, or as tasks of a dask.distributed cluster.
ENGINES = ("local", "dask")
#: Environment variables that size the BLAS / OpenMP thread pools of a cell's commands.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: What to tell a user who asks for Dask without it.
CLUSTER_HINT = "--scheduler dask needs dask.distributed: pip install 'distributed' (the 'cluster' extra)"
#: The command line of the project, run by the interpreter of the process that runs the cell.
CLI_MODULE = "nips2015_vrnn.models.app.cli"
#: Seconds to wait for the Dask scheduler given by ``--address``.
SCHEDULER_TIMEOUT_S = 30
#: Signal a cell's command gets when the process running the cell dies (Linux): vrnn-train saves
#: its checkpoint on SIGTERM.
PARENT_DEATH_SIGNAL = signal.SIGTERM


def default_threads(workers):
    """BLAS threads per cell when ``workers`` cells share this machine: cores // workers, >= 1."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def train_command(spec, model, seed, run_path, resume):
    """The ``vrnn-train`` arguments of a cell (after ``python -m <cli>``).

    >>> spec = SweepSpec('blizzard', False, 'd.h5', ('rnn-gauss',), (1,), sets=('rnn_dim=8',), max_updates=5)
    >>> train_command(spec, 'rnn-gauss', 1, 'out/rnn-gauss-seed1', resume=False)
    ['train', 'blizzard', '--out', 'out/rnn-gauss-seed1', '--data', 'd.h5', '--model', 'rnn-gauss', \
'--seed', '1', '--set', 'rnn_dim=8', '--max-updates', '5']
    """
    updates = ["--max-updates", str(spec.max_updates)] if spec.max_updates else []
    if resume:
        return ["train", "--resume", str(run_path), *updates]
    corpus = ["demo", "--corpus", {fmt: half for half, fmt in DEMO_CORPORA.items()}[spec.corpus]] \
        if spec.demo else [spec.corpus]
    args = [*corpus, "--out", str(run_path), "--data", str(spec.data), "--model", model, "--seed", str(seed)]
    for item in spec.sets:
        args += ["--set", item]
    args += updates
    if spec.float64:
        args.append("--float64")
    if spec.mode:
        args += ["--mode", spec.mode]
    return ["train", *args]


def eval_command(spec, run_path):
    """The ``vrnn-eval`` arguments of a cell: the sweep's evaluation protocol (``--force``: the
    cell is evaluated only when it holds no evaluation of this protocol, and its file is the
    sweep's, even where another evaluation was written over it)."""
    args = ["eval", str(run_path), "--split", spec.split, "--samples", str(spec.samples),
            "--checkpoint", spec.checkpoint, "--seed", str(spec.eval_seed), "--force"]
    if spec.limit:
        args += ["--limit", str(spec.limit)]
    if spec.eval_particles:
        args += ["--particles", str(spec.eval_particles), "--resample", spec.eval_resample or "ess"]
    return args


def _die_with_parent():  # pragma: no cover  (runs in the child between fork and exec)
    """Linux: have the kernel signal this process when its parent dies (no orphaned training)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(PARENT_DEATH_SIGNAL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def cell_cpus(threads, slot=0, allowed=None):
    """The CPUs a cell with ``threads`` threads runs on when it is the ``slot``-th of the cells
    sharing this machine: ``threads`` consecutive CPUs of ``allowed`` (default: those this process
    may use) from ``slot * threads``, wrapping around; None when ``threads`` is None (inherit)."""
    if not threads:
        return None
    allowed = sorted(os.sched_getaffinity(0) if allowed is None else allowed)
    start = (int(slot) * threads) % len(allowed)
    return sorted({allowed[(start + i) % len(allowed)] for i in range(min(threads, len(allowed)))})


def _worker_slot():
    """This process's slot among the cells running at once: the Dask worker's name when it is a
    number (a LocalCluster names its workers 0, 1, ...), else 0."""
    try:
        from distributed import get_worker
        name = get_worker().name
    except (ImportError, ValueError):
        return 0
    return name if isinstance(name, int) else 0


def _run(args, log_path, pid_path, threads, slot=0):
    """Run ``python -m <cli> *args`` with output to ``log_path``, with ``threads`` BLAS threads and
    pinned to :func:`cell_cpus` ``(threads, slot)``; returns the exit status."""
    env = dict(os.environ)
    if threads:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
    cpus = cell_cpus(threads, slot) if hasattr(os, "sched_setaffinity") else None
    linux = sys.platform.startswith("linux")

    def preexec():  # pragma: no cover  (runs in the child between fork and exec)
        if cpus:
            os.sched_setaffinity(0, cpus)
        if linux:
            _die_with_parent()
    with open(log_path, "a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        process = subprocess.Popen([sys.executable, "-m", CLI_MODULE, *args], stdout=out,
                                   stderr=subprocess.STDOUT, env=env,
                                   preexec_fn=preexec if cpus or linux else None)
        write_json(pid_path, {"pid": process.pid, "command": args[0]})
        try:
            return process.wait()
        except KeyboardInterrupt:
            try:  # Ctrl-C reached the command too: let vrnn-train save its checkpoint
                process.wait()
            except KeyboardInterrupt:
                process.kill()
                process.wait()
            raise
        except BaseException:
            process.terminate()  # vrnn-train saves its checkpoint on SIGTERM
            process.wait()
            raise
        finally:
            pid_path.unlink(missing_ok=True)


def _failure(step, status, log_path):
    """One line saying why a command failed: its 'Error:' line, its signal, or its exit status."""
    raw = Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [line for line in raw if line.startswith("Error:")]
    headers = [i for i, line in enumerate(raw) if line.startswith("Traceback (most recent call last)")]
    # A traceback's frames are indented; its first unindented line is the exception.
    raised = [line for line in raw[headers[-1] + 1:] if line.strip() and not line[0].isspace()] if headers else []
    if status < 0:
        why = f"killed by {signal.Signals(-status).name}"
    elif errors:
        why = errors[-1][len("Error:"):].strip()
    elif raised:
        why = f"exit status {status}: {raised[0].strip()}"
    else:
        last = [line.strip() for line in raw if line.strip()]
        why = f"exit status {status}" + (f": {last[-1]}" if last else "")
    return f"vrnn-{step} {why} (see {log_path})"


def _trained(run_path, max_updates):
    """True when the run's log says its training ended (not interrupted), or its last checkpoint
    already has ``max_updates`` updates (stopped between that checkpoint and the log's 'end')."""
    run_path = Path(run_path)
    try:
        done = json.loads((run_path / "checkpoints" / "last" / "trainlog.json").read_text())["batch_seen"]
        if max_updates and done >= max_updates:
            return True
    except (OSError, ValueError, KeyError, TypeError):
        pass
    log_path = run_path / LOG_FILE
    if not log_path.is_file():
        return False
    course = [r.get("event") for r in read_log(log_path) if r.get("event") in ("start", "resume", "interrupted", "end")]
    return bool(course) and course[-1] == "end"


def run_cell(task):
    """Train and evaluate one cell; never raises for a failure of the cell itself.

    Parameters
    ----------
    task : dict
        ``sweep`` (the sweep directory, absolute), ``spec`` (the :class:`SweepSpec` as a dict),
        ``model``, ``seed``, ``threads`` (threads per cell, or None to inherit: see the module
        doc), optionally ``slot`` (default: the Dask worker's number, else 0).

    Returns
    -------
    dict: ``cell``, ``model``, ``seed``, ``state`` (a :data:`~.sweepdir.CELL_STATES` name),
    ``steps`` (what was done, in words), ``error`` (one line, or None), ``seconds``, ``host``,
    and ``lower_bound`` / ``loglik_is`` when done.
    """
    began = time.perf_counter()
    slot = task.get("slot", _worker_slot())
    spec = SweepSpec(**task["spec"])
    sweep, model, seed = Path(task["sweep"]), task["model"], task["seed"]
    name = cell_name(model, seed)
    run_path, pid_path = sweep / name, sweep / LOGS / f"{name}.pid"
    result = {"cell": name, "model": model, "seed": seed, "steps": [], "error": None,
              "host": os.uname().nodename}

    def finish(error=None):
        result["error"] = error
        result["state"] = cell_state(sweep, spec, model, seed) if error is None else \
            ("interrupted" if (run_path / "checkpoints" / "last").is_dir() else "failed")
        found = eval_result(run_path, spec.split, spec)
        if found and error is None:
            result.update(lower_bound=found.get("lower_bound"), loglik_is=found.get("loglik_is"))
        result["seconds"] = time.perf_counter() - began
        return result

    try:
        if eval_result(run_path, spec.split, spec) is not None:
            result["steps"].append("already evaluated")
            return finish()
        if not _trained(run_path, spec.max_updates):
            holder = lock_holder(run_path)
            if holder is not None:  # never discard or join a run another process trains
                return finish(f"{run_path}: another process (pid {holder}) is training this cell; "
                              "run the sweep again once it has ended")
            resume = (run_path / "checkpoints" / "last").is_dir()
            if not resume and (run_path / CONFIG_FILE).exists():
                discard_run(RunDir(run_path))  # failed before its first checkpoint: start again
                result["steps"].append("discarded a run without checkpoint")
            log_path = sweep / LOGS / f"{name}.train.log"
            status = _run(train_command(spec, model, seed, run_path, resume), log_path, pid_path,
                          task.get("threads"), slot)
            if status != 0:
                return finish(_failure("train", status, log_path))
            result["steps"].append("resumed" if resume else "trained")
        log_path = sweep / LOGS / f"{name}.eval.log"
        status = _run(eval_command(spec, run_path), log_path, pid_path, task.get("threads"), slot)
        if status != 0:
            return finish(_failure("eval", status, log_path))
        result["steps"].append("evaluated")
        return finish()
    except (OSError, RunError, SweepError) as err:
        return finish(f"{type(err).__name__}: {' '.join(str(err).split())}")


class _Status:
    """``status.json``, kept by the driver: cell name -> the outcome of its last attempt."""

    def __init__(self, sweep):
        self.path = Path(sweep) / STATUS_FILE
        self.record = read_status(sweep)

    def update(self, result):
        self.record[result["cell"]] = {k: result.get(k) for k in
                                       ("state", "error", "steps", "seconds", "host", "lower_bound", "loglik_is")}
        self.record[result["cell"]]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        write_json(self.path, self.record)


def _dask_results(tasks, workers, address, threads):
    """Yield the result of each task run on a dask.distributed cluster, as they complete."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise SweepError(CLUSTER_HINT) from None
    cluster = None
    if address:
        try:
            client = Client(address, timeout=SCHEDULER_TIMEOUT_S)
        except Exception as err:  # noqa: BLE001 (unreachable, refused, or not a Dask scheduler that answered)
            raise SweepError(f"cannot reach the Dask scheduler at {address} ({type(err).__name__}: "
                             f"{' '.join(str(err).split())[:200]}); expected the address a running "
                             "scheduler prints, e.g. tcp://10.0.0.1:8786") from None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        threads = threads or default_threads(workers)
    try:
        futures = {}
        for task in tasks:
            future = client.submit(run_cell, {**task, "threads": threads}, pure=False,
                                   key=f"vrnn-cell-{cell_name(task['model'], task['seed'])}-{time.time_ns()}")
            futures[future] = task
        for future in as_completed(futures):
            task = futures[future]
            try:
                yield future.result()
            except Exception as err:  # the worker died or Dask gave up on the task
                name = cell_name(task["model"], task["seed"])
                yield {"cell": name, "model": task["model"], "seed": task["seed"], "steps": [],
                       "state": cell_state(task["sweep"], SweepSpec(**task["spec"]), task["model"], task["seed"]),
                       "error": f"dask: {type(err).__name__}: {' '.join(str(err).split())}"}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_sweep(path, spec, engine="local", workers=None, address=None, threads=None, on_result=None):
    """Run every cell of the sweep ``path`` that is not done; returns the results, one per cell.

    Parameters
    ----------
    path : path
        The sweep directory (made, or extended, with ``spec``: see :func:`~.sweepdir.create_sweep`).
    spec : SweepSpec
    engine : {'local', 'dask'}
    workers : int or None
        Dask: start a LocalCluster of this many worker processes (one thread each).
    address : str or None
        Dask: the scheduler to join, e.g. ``tcp://10.0.0.1:8786`` (instead of ``workers``).
    threads : int or None
        Threads per cell, in every mode (BLAS / OpenMP threads and the CPUs XLA runs on; default:
        inherited; ``cores // workers`` in a LocalCluster).
    on_result : callable or None
        ``on_result(result, done, total)`` as each cell finishes (see :func:`run_cell`).

    A failed cell does not stop the others; its error is in its result and in ``status.json``.
    The driver holds the sweep directory's lock (``.lock``): a second sweep of the same folder
    refuses (a RunLockedError) instead of discarding or joining the first one's cells.
    """
    if engine not in ENGINES:
        raise SweepError(f"scheduler must be one of {', '.join(ENGINES)}; got {engine!r}")
    if engine == "dask" and not address and not workers:
        raise SweepError("--scheduler dask needs --workers N (a cluster on this machine) or "
                         "--address tcp://HOST:PORT (a running scheduler)")
    path = Path(path).resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SweepError(f"{path}: cannot make the sweep directory ({err.strerror}); expected a "
                         "folder this user can write") from None
    with folder_lock(path, "vrnn-sweep"):
        return _run_sweep_locked(path, spec, engine, workers, address, threads, on_result)


def _run_sweep_locked(path, spec, engine, workers, address, threads, on_result):
    spec = create_sweep(path, spec)
    status = _Status(path)
    notify = on_result or (lambda result, done, total: None)
    results, tasks = [], []
    for model, seed in spec.cells():
        if cell_state(path, spec, model, seed) == "done":
            found = eval_result(path / cell_name(model, seed), spec.split, spec)
            results.append({"cell": cell_name(model, seed), "model": model, "seed": seed, "state": "done",
                            "steps": ["already evaluated"], "error": None,
                            "lower_bound": found.get("lower_bound"), "loglik_is": found.get("loglik_is")})
            notify(results[-1], len(results), len(spec.cells()))
        else:
            tasks.append({"sweep": str(path), "spec": asdict(spec), "model": model, "seed": seed,
                          "threads": threads})
    if engine == "local":
        outcomes = (run_cell(task) for task in tasks)
    else:
        outcomes = _dask_results(tasks, workers, address, threads)
    for result in outcomes:
        status.update(result)
        results.append(result)
        notify(result, len(results), len(spec.cells()))
    return results
