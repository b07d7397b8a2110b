"""Where the compile time of a command goes: graph construction, gradient, rewrites, linking.

Builds the functions each command compiles for a preset (default the speech demo) and times the
stages of each: building the symbolic graph, the gradient and updates (training only), PyTensor's
graph rewrites and the linker (C code generation, compilation or loading from ``~/.pytensor``).
``cpu_s`` is this process's CPU time (C compilation runs in child processes and is not in it;
on a shared machine it is the number to compare). Run it twice to see the warm-cache numbers;
``--passes`` adds the time of each rewrite pass (PyTensor's ``profile_optimizer``).

In JAX mode (``--mode jax``) the functions are built for static shapes as the trainer builds them
(``--T`` steps, the preset's batch sizes, the noise drawn on the host); ``cle.finish`` has XLA
compile each ahead of its first call, and JAX's compile events split that time into tracing
(``jax_trace_s``), lowering (``jax_lower_s``) and XLA's compile (``xla_compile_s``). Each function
is then called once on zeros (``first call``: nothing left to compile).
``--set KEY=VALUE`` overrides the preset (any ``ModelConfig`` field), as ``vrnn-train --set`` does.

Usage::

    python benchmarks/compile_profile.py                      # blizzard/demo, all commands
    python benchmarks/compile_profile.py --preset iamondb/demo --only train
    python benchmarks/compile_profile.py --mode jax --only train --preset blizzard/vrnn_gmm \
        --set rnn_dim=256 --set z_dim=32 --set num_k=10 --set batch_size=16 --set m_batch_size=16
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

#: Seconds of JAX's compile events so far, by event name (JAX mode: tracing to a jaxpr, lowering,
#: XLA's compile), summed by :func:`listen_to_jax`'s listener.
JAX_SECONDS = {}
JAX_EVENTS = {"/jax/core/compile/jaxpr_trace_duration": "jax_trace_s",
              "/jax/core/compile/jaxpr_to_mlir_module_duration": "jax_lower_s",
              "/jax/core/compile/backend_compile_duration": "xla_compile_s"}


def listen_to_jax():
    """Sum the durations of JAX's compile events (:data:`JAX_EVENTS`) into :data:`JAX_SECONDS`."""
    import jax

    def listener(event, duration, **kwargs):
        if event in JAX_EVENTS:
            JAX_SECONDS[JAX_EVENTS[event]] = JAX_SECONDS.get(JAX_EVENTS[event], 0.0) + duration

    jax.monitoring.register_event_duration_secs_listener(listener)


@contextlib.contextmanager
def stage_clock(results, name):
    """Time one function's compile: total, rewrites and linker (deltas of PyTensor's counters), and
    in JAX mode JAX's tracing, lowering and XLA compile (inside ``graph_s``: ``cle.finish`` compiles
    ahead, after PyTensor's linker)."""
    rewrite0, link0 = compile_profiling.total_graph_rewrite_time, compile_profiling.total_time_linker
    jax0 = dict(JAX_SECONDS)
    start, cpu = time.perf_counter(), time.process_time()
    yield
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu
    rewrite = compile_profiling.total_graph_rewrite_time - rewrite0
    link = compile_profiling.total_time_linker - link0
    results[name] = {"total_s": round(total, 2), "cpu_s": round(cpu, 2), "rewrite_s": round(rewrite, 2),
                     "link_s": round(link, 2), "graph_s": round(total - rewrite - link, 2)}
    results[name].update({key: round(JAX_SECONDS[key] - jax0.get(key, 0.0), 2) for key in JAX_SECONDS})


def parse_override(text):
    """``KEY=VALUE`` -> (key, value as int, float or str)."""
    key, _, value = text.partition("=")
    for kind in (int, float):
        try:
            return key, kind(value)
        except ValueError:
            pass
    return key, value


def first_call(fn):
    """Call the PyTensor function ``fn`` once on zeros of its inputs' static shapes."""
    import numpy as np

    fn(*[np.zeros(i.variable.type.shape, dtype=i.variable.dtype) for i in fn.maker.inputs
         if not i.implicit])


def profile(preset, only, passes, mode="c", overrides=(), n_steps=40):
    config = get_preset(preset, **dict(overrides))
    results = {"config": {"preset": preset, "mode": mode, **dict(overrides)}}
    start = time.perf_counter()
    backend = Backend(mode=mode, floatX="float32").start_process()
    if mode == "jax":
        listen_to_jax()
    model = build_model(config, backend=backend)
    results["build_model"] = {"total_s": round(time.perf_counter() - start, 2)}
    host_noise = backend.static_shapes
    wanted = only or ["train", "sample", "eval"]
    if "train" in wanted:
        from cle.train import Training
        from cle.train.opt import Adam

        shaped = model.shaped(n_steps, config.batch_size)
        with stage_clock(results, "train: training function (graph + gradient + compile)"):
            graph = shaped.training_graph(eps_input=host_noise)
            outputs = [out.copy(name=name) for name, out in graph.outputs.items()]
            with precision("float32"):
                training = Training("profile", [], shaped.as_cle_model(eps_input=host_noise),
                                    Adam(lr=config.lr), outputs[0], outputs, progress=False, backend=backend)
        if host_noise:
            with stage_clock(results, "train: first call"):
                first_call(training._train_fn)
        with stage_clock(results, "train: monitor function"):
            monitor = model.shaped(n_steps, config.m_batch_size).monitor_fn(eps_input=host_noise)
        if host_noise:
            with stage_clock(results, "train: monitor first call"):
                first_call(monitor.fn)
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
    parser.add_argument("--mode", default="c", choices=["c", "jax"])
    parser.add_argument("--set", dest="overrides", action="append", default=[], type=parse_override,
                        metavar="KEY=VALUE", help="override a field of the preset")
    parser.add_argument("--T", type=int, default=40, help="steps of the static-shape graphs (JAX mode)")
    args = parser.parse_args()
    if args.passes:
        pytensor.config.profile = True  # profile_optimizer needs it
        pytensor.config.profile_optimizer = True
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured) if args.passes else contextlib.nullcontext():
        results = profile(args.preset, args.only, args.passes, args.mode, args.overrides, args.T)
    results["load_average"] = os.getloadavg()
    print(json.dumps(results, indent=1))
    if args.passes:
        print(captured.getvalue())


if __name__ == "__main__":
    main()
