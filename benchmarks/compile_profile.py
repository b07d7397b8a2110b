"""Where the compile time of a command goes: graph construction, gradient, rewrites, linking.

Builds the functions each command compiles for a preset (default the speech demo) and times the
stages of each: building the symbolic graph, the gradient and updates (training only), PyTensor's
graph rewrites and the linker (C code generation, compilation or loading from ``~/.pytensor``).
``cpu_s`` is this process's CPU time (C compilation runs in child processes and is not in it;
on a shared machine it is the number to compare). Run it twice to see the warm-cache numbers;
``--passes`` adds the time of each rewrite pass (PyTensor's ``profile_optimizer``).

Usage::

    python benchmarks/compile_profile.py                      # blizzard/demo, all commands
    python benchmarks/compile_profile.py --preset iamondb/demo --only train
"""
import argparse
import contextlib
import io
import json
import os
import time

import pytensor
from pytensor.compile.debug import profiling as compile_profiling

from cle.backend import Backend, precision
from nips2015_vrnn.models import build_model, get_preset


@contextlib.contextmanager
def stage_clock(results, name):
    """Time one function's compile: total, rewrites and linker (deltas of PyTensor's counters)."""
    rewrite0, link0 = compile_profiling.total_graph_rewrite_time, compile_profiling.total_time_linker
    start, cpu = time.perf_counter(), time.process_time()
    yield
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu
    rewrite = compile_profiling.total_graph_rewrite_time - rewrite0
    link = compile_profiling.total_time_linker - link0
    results[name] = {"total_s": round(total, 2), "cpu_s": round(cpu, 2), "rewrite_s": round(rewrite, 2),
                     "link_s": round(link, 2), "graph_s": round(total - rewrite - link, 2)}


def profile(preset, only, passes):
    config = get_preset(preset)
    results = {}
    start = time.perf_counter()
    backend = Backend(mode="c", floatX="float32")
    model = build_model(config, backend=backend)
    results["build_model"] = {"total_s": round(time.perf_counter() - start, 2)}
    wanted = only or ["train", "sample", "eval"]
    if "train" in wanted:
        from cle.train import Training
        from cle.train.opt import Adam

        with stage_clock(results, "train: training function (graph + gradient + compile)"):
            graph = model.training_graph()
            outputs = [out.copy(name=name) for name, out in graph.outputs.items()]
            with precision("float32"):
                Training("profile", [], model.as_cle_model(), Adam(lr=config.lr), outputs[0], outputs,
                         progress=False, backend=backend)
        with stage_clock(results, "train: monitor function"):
            model.monitor_fn()
    if "sample" in wanted:
        with stage_clock(results, "sample: generator"):
            model.generate_fn()
    if "eval" in wanted:
        with stage_clock(results, "eval: sequence function"):
            model.sequence_fn()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="blizzard/demo")
    parser.add_argument("--only", action="append", choices=["train", "sample", "eval"])
    parser.add_argument("--passes", action="store_true", help="print PyTensor's per-pass rewrite profile")
    args = parser.parse_args()
    if args.passes:
        pytensor.config.profile = True  # profile_optimizer needs it
        pytensor.config.profile_optimizer = True
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured) if args.passes else contextlib.nullcontext():
        results = profile(args.preset, args.only, args.passes)
    results["load_average"] = os.getloadavg()
    print(json.dumps(results, indent=1))
    if args.passes:
        print(captured.getvalue())


if __name__ == "__main__":
    main()
