"""Training-step throughput of the Blizzard VRNN-GMM: compile time, seconds per step, frames/s, memory.

Builds the Blizzard-style VRNN-GMM (4-layer feature networks, all five hidden widths = ``--hid``,
float32) through the models builder, compiles the real training function of
:class:`cle.train.Training` (gradient, GradientClipping(check_nan=1), Adam, WeightNorm and the
TBPTT state updates), runs warm-up steps and times ``--steps`` calls on random data. The last
line printed is one JSON object::

    {"framework": "pytensor", "version", "mode", "threads", "config", "compile_s", "first_call_s",
     "sec_per_step_median", "cpu_sec_per_step_median", "frames_per_sec", "peak_rss_mb", ...}

with ``frames_per_sec = T * batch / sec_per_step_median`` (data frames: with ``--bound iwae`` or
``fivo`` each frame is computed for ``--particles`` particles).

Usage::

    python benchmarks/train_step.py                                  # default config and mode
    python benchmarks/train_step.py --threads 1
    python benchmarks/train_step.py --rnn-dim 4000 --hid 500 --z-dim 200 --batch 128 --steps 2
    python benchmarks/train_step.py --mode jax                       # PyTensor's JAX backend
    python benchmarks/train_step.py --forward-only                   # the monitor graph only
    python benchmarks/train_step.py --bound fivo --particles 4       # the FIVO objective, K = 4
    python benchmarks/train_step.py --variant baseline               # the graph before the speed work
    python benchmarks/train_step.py --mode jax --threads 1 --profile jax.txt   # XLA's op-by-op profile

``--threads N`` sets the BLAS / OpenMP thread count before numpy loads (the process re-executes
itself with the environment set) and pins the process to N CPUs (XLA's thread pool follows the
CPUs it may use). Like the console scripts, the benchmark runs with glibc's huge-page tunable
(``cle.heap``; ``GLIBC_TUNABLES=glibc.malloc.hugetlb=0`` measures without it).
The mode is ``--mode``, else the project's default (``cle.backend.program_default_mode``:
jax when installed, else c). Compile-cache state: ``compile_cache`` in the JSON says
'warm' when no new C module was compiled, else how many were ("cold: N new modules").
Point ``PYTENSOR_FLAGS=base_compiledir=/tmp/somewhere`` at an empty folder for a cold compile.
"""
import os
import sys

#: Environment variables that fix the thread count of the BLAS / OpenMP runtimes.
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _threads_from_argv(argv):
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return None


def _set_threads_then_reexec():
    """Apply --threads to the environment before numpy loads, and glibc's huge-page tunable as the
    console scripts do (:func:`cle.heap.relaunch_with_huge_pages`); re-exec so both take effect
    (once: the re-executed process finds both set).

    The process is also pinned to ``--threads`` CPUs: XLA (JAX mode) sizes its own thread pool
    from the CPUs it may run on and reads none of THREAD_VARS.
    """
    from cle.heap import environment_with_huge_pages, relaunch

    threads = _threads_from_argv(sys.argv[1:])
    if threads is not None:
        allowed = sorted(os.sched_getaffinity(0))
        if int(threads) < len(allowed):
            os.sched_setaffinity(0, allowed[:int(threads)])
    env = environment_with_huge_pages(os.environ) or dict(os.environ)
    if threads is not None:
        env.update({var: threads for var in THREAD_VARS})
    relaunch(env)


if __name__ == "__main__":
    _set_threads_then_reexec()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

log = logging.getLogger("benchmarks.train_step")

#: Warm-up calls before timing (the first calls allocate buffers and fill caches).
WARMUP_STEPS = 2
#: Matrix-product work of a training step in units of the forward pass (forward + 2 backward).
TRAIN_PASSES = 3
#: Gradient-norm clip of the legacy Blizzard script.
CLIP_NORM = 5


def parse_args(argv=None):
    from cle.backend import MODES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="vrnn-gmm", choices=["vrnn-gmm"])
    parser.add_argument("--x-dim", type=int, default=200)
    parser.add_argument("--z-dim", type=int, default=50)
    parser.add_argument("--rnn-dim", type=int, default=500)
    parser.add_argument("--hid", type=int, default=250, help="all five hidden widths (x2s, z2s, q_z, p_z, p_x)")
    parser.add_argument("--k", type=int, default=20, help="mixture components")
    parser.add_argument("--depth", type=int, default=4, help="layers per feature network")
    parser.add_argument("--T", type=int, default=40)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=WARMUP_STEPS)
    parser.add_argument("--mode", default=None, choices=list(MODES),
                        help="default: the project's default mode (jax when installed, else c)")
    parser.add_argument("--matmul-precision", default="highest", choices=["highest", "tf32", "bfloat16"],
                        help="precision of float32 products (JAX mode; highest: full float32)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP threads (set before numpy loads); default: the environment's")
    parser.add_argument("--bound", default="elbo", choices=["elbo", "iwae", "fivo"],
                        help="the training objective (config key bound)")
    parser.add_argument("--particles", type=int, default=4, help="K of the IWAE and FIVO objectives")
    parser.add_argument("--forward-only", action="store_true",
                        help="time the monitor graph (forward only, own scan from zeros) instead of training")
    parser.add_argument("--variant", default="current", choices=["current", "baseline"],
                        help="'baseline': the graph settings before the speed work (benchmarks/baseline.py)")
    parser.add_argument("--profile", metavar="FILE", default=None,
                        help="write a profile to FILE: in JAX mode XLA's, op by op, with each matrix "
                             "product's GFLOP/s (benchmarks/xla_profile.py; use --threads 1); else PyTensor's "
                             "(compiled with its profiler)")
    return parser.parse_args(argv)


def count_compiled_modules(compiledir):
    """Number of compiled C modules (shared libraries) under ``compiledir``."""
    total = 0
    for _, _, files in os.walk(compiledir):
        total += sum(1 for name in files if name.endswith(".so"))
    return total


def write_profile(fn, path, n_lines=40):
    """Write the per-class, per-op and per-node time of ``fn`` and of each scan's inner graph to ``path``."""
    from pytensor.scan.op import Scan

    profiles = [("outer graph", fn.profile)]
    for node in fn.maker.fgraph.toposort():
        if isinstance(node.op, Scan):
            inner = getattr(node.op.fn.maker, "profile", None)
            if inner:
                profiles.append((f"scan {node.op.name}", inner))
    with open(path, "w") as handle:
        for title, profile in profiles:
            handle.write(f"==================== {title}\n")
            profile.summary_class(file=handle, N=n_lines)
            profile.summary_ops(file=handle, N=n_lines)
            profile.summary_nodes(file=handle, N=n_lines)


def write_xla_profile(fn, call, path, calls=2):
    """Write ``benchmarks/xla_profile.py``'s report of ``calls`` traced calls of the JAX-mode function
    ``fn`` (``call()`` runs one step) to ``path``, and its rows as JSON to ``path + ".json"``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from xla_profile import format_report, profile_calls

    report = profile_calls(fn, call, calls=calls)
    Path(path).write_text(format_report(report, top=60) + "\n")
    Path(path + ".json").write_text(json.dumps(report, indent=1) + "\n")


def matmul_flops_per_frame(config):
    """Forward matrix-product FLOPs per frame: ``2 * sum of a * b`` over every weight matrix (a, b).

    Every weight matrix of the VRNN multiplies exactly one row vector per frame (the x-side
    products hoisted out of the scan included), so this counts the forward pass exactly,
    elementwise work aside. A training step costs ``3 x`` this (forward, plus the two products
    of the backward pass: gradients with respect to the input and to the weight).
    """
    from nips2015_vrnn.models import param_shapes

    return 2 * sum(a * b for a, b in (s for s in param_shapes(config).values() if len(s) == 2))


def build_config(args):
    from nips2015_vrnn.models import get_preset

    widths = {name: args.hid for name in ("x2s_dim", "z2s_dim", "q_z_dim", "p_z_dim", "p_x_dim")}
    return get_preset("blizzard/vrnn_gmm", x_dim=args.x_dim, z_dim=args.z_dim, rnn_dim=args.rnn_dim,
                      num_k=args.k, depth=args.depth, batch_size=args.batch, m_batch_size=args.batch,
                      bound=args.bound, particles=args.particles, **widths)


def build_model(config, args, backend):
    """The VRNN (or its pre-speed-work variant) compiled by ``backend``; with JAX, the input ``x``
    has a static shape."""
    import pytensor.tensor as pt

    from nips2015_vrnn.models import build_vrnn

    model = build_vrnn(config, backend=backend)
    if args.variant == "baseline":
        from baseline import dynamic_params

        dynamic_params(model)
    if args.mode == "jax":
        # The JAX backend needs concrete shapes; the graphs are built lazily from model.x.
        model.x = pt.tensor("x", dtype=model.dtype, shape=(args.T, args.batch, args.x_dim))
    return model


def compile_training(model, config):
    """cle.train.Training with the legacy extensions, by the model's backend; compiling happens in
    its constructor."""
    from cle.backend import precision
    from cle.train.ext import GradientClipping, WeightNorm
    from cle.train.opt import Adam
    from cle.train.training import Training

    graph = model.training_graph()
    cost = graph.outputs.get("training_cost", graph.outputs["nll_upper_bound"])
    extensions = [GradientClipping(scaler=CLIP_NORM, batch_size=config.batch_size, check_nan=1), WeightNorm()]
    with precision(model.dtype):
        training = Training("bench", [], model.as_cle_model(), Adam(config.lr), cost, [cost],
                            extension=extensions, progress=False, backend=model.backend)
    return training.cost_fn, training._train_fn


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import pytensor

    from cle.backend import Backend, program_default_mode

    args.mode = args.mode or program_default_mode()
    backend = Backend(mode=args.mode, floatX="float32",
                      matmul_precision=args.matmul_precision).start_process()
    if args.variant == "baseline":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from baseline import use_baseline

        use_baseline()
    if args.profile and args.mode != "jax":
        import atexit

        from pytensor.compile.debug import profiling

        pytensor.config.profile = True
        # PyTensor's own exit-time printer fails on this version; the summary is written below.
        atexit.unregister(profiling._atexit_print_fn)
    config = build_config(args)
    rss_before_compile = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = build_model(config, args, backend)
    compiledir = pytensor.config.compiledir
    modules_before = count_compiled_modules(compiledir)
    start = time.perf_counter()
    if args.forward_only:
        fn = model.monitor_fn()
        step, raw_fn = fn, fn.fn
    else:
        step, raw_fn = compile_training(model, config)
    compile_s = time.perf_counter() - start
    new_modules = count_compiled_modules(compiledir) - modules_before
    cache = "warm" if new_modules == 0 else f"cold: {new_modules} new modules"
    if args.mode != "c":
        cache = "n/a (no C modules for this mode)" if new_modules == 0 else cache

    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((args.T, args.batch, args.x_dim)).astype(model.dtype) for _ in range(4)]
    first_call_s = None
    for i in range(args.warmup):
        began = time.perf_counter()
        np.asarray(step(batches[i % len(batches)])[0])
        if i == 0:
            first_call_s = time.perf_counter() - began
    times, cpu_times = [], []
    for i in range(args.steps):
        began, began_cpu = time.perf_counter(), time.process_time()
        cost = np.asarray(step(batches[i % len(batches)])[0])  # to numpy inside the timed region
        times.append(time.perf_counter() - began)
        cpu_times.append(time.process_time() - began_cpu)
    median = statistics.median(times)
    frames = args.T * args.batch
    passes = 1 if args.forward_only else TRAIN_PASSES
    gflop = passes * matmul_flops_per_frame(config) * frames / 1e9
    if args.profile and args.mode == "jax":
        write_xla_profile(raw_fn, lambda: np.asarray(step(batches[0])[0]), args.profile)
    elif args.profile:
        write_profile(raw_fn, args.profile)
    result = {
        "framework": "pytensor",
        "version": pytensor.__version__,
        "mode": args.mode,
        "matmul_precision": args.matmul_precision,
        "threads": args.threads if args.threads is not None else os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "config": {"model": args.model, "x_dim": args.x_dim, "z_dim": args.z_dim, "rnn_dim": args.rnn_dim,
                   "hid": args.hid, "k": args.k, "depth": args.depth, "T": args.T, "batch": args.batch,
                   "steps": args.steps, "forward_only": args.forward_only, "variant": args.variant,
                   "bound": args.bound, "particles": args.particles if args.bound != "elbo" else 1,
                   "floatX": model.dtype, "n_params": model.n_params()},
        "compile_s": round(compile_s, 2),
        "compile_cache": cache,
        # The first warm-up update (JAX mode before cle.finish: XLA compiled inside it).
        "first_call_s": None if first_call_s is None else round(first_call_s, 2),
        "sec_per_step_median": round(median, 5),
        "sec_per_step_min": round(min(times), 5),
        "sec_per_step_max": round(max(times), 5),
        # CPU seconds of all this process's threads per step: on a shared machine, less sensitive
        # to other work than the wall time (spinning BLAS threads count too).
        "cpu_sec_per_step_median": round(statistics.median(cpu_times), 5),
        "frames_per_sec": round(frames / median, 1),
        "matmul_gflop_per_step": round(gflop, 2),
        "matmul_gflops": round(gflop / median, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_before_compile_mb": round(rss_before_compile, 1),
        "last_cost": float(cost),
        "blas_ldflags": pytensor.config.blas__ldflags,
        "load_avg": [round(v, 2) for v in os.getloadavg()],
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
