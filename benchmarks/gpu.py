"""Paper-size training throughput in JAX mode (a CUDA GPU with the jax CUDA wheels, or any JAX device).

For each corpus asked (default both) the paper's VRNN-GMM (``blizzard/vrnn_gmm``: 4000 LSTM units,
widths 500/600, z 200, 20 components; ``iamondb/vrnn_gmm``: 1200 units, z 50) is built as
``vrnn-train --mode jax`` builds it: a static-shape copy of the model, noise drawn on the host and
fed as an input, the real :class:`cle.train.Training` function (gradient, GradientClipping with
the NaN rule, Adam, WeightNorm, TBPTT updates), with float32 matrix products in each precision
asked (``--matmul-precision``: highest, the default, is full float32; tf32 lets tensor cores use
TensorFloat-32). Prints one JSON line per corpus and precision::

    {"corpus", "device", "jax", "matmul_precision", "config": {...}, "compile_s",
     "sec_per_step_median", "frames_per_sec", "peak_device_mb", ...}

``compile_s`` is graph construction + PyTensor compilation + the first call (XLA compiles on
the first call); ``peak_device_mb`` is the device's ``peak_bytes_in_use`` (None where the
device does not report it, e.g. the CPU). Frames per step: T * batch (IAM-OnDB batches are
padded to T with a mask, as the trainer does).

Usage::

    bash benchmarks/gpu.sh                           # both corpora, paper size, highest and tf32
    python benchmarks/gpu.py --matmul-precision highest tf32
    python benchmarks/gpu.py --corpus blizzard --steps 20
    python benchmarks/gpu.py --corpus iamondb --T 700 --batch 20
    python benchmarks/gpu.py --small                 # a tiny check that runs anywhere (CPU)
"""
import argparse
import json
import logging
import statistics
import sys
import time

import numpy as np

#: Warm-up calls after the first (compiling) call.
WARMUP_STEPS = 2
#: Per corpus: preset, T of one training sequence, batch size (the paper's / legacy scripts').
CORPORA = {
    "blizzard": ("blizzard/vrnn_gmm", 40, 128),
    "iamondb": ("iamondb/vrnn_gmm", 700, 20),
}
#: --small: widths that compile and run in seconds anywhere.
SMALL = dict(rnn_dim=32, x2s_dim=16, z2s_dim=16, q_z_dim=16, p_z_dim=16, p_x_dim=16, z_dim=8, num_k=3)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=list(CORPORA) + ["both"], default="both")
    parser.add_argument("--T", type=int, default=None, help="sequence length (default per corpus)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default per corpus)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--small", action="store_true", help="tiny widths: a quick check of the script")
    parser.add_argument("--matmul-precision", nargs="+", default=["highest"],
                        choices=["highest", "tf32", "bfloat16"],
                        help="precisions of float32 products to measure, one result each")
    return parser.parse_args(argv)


def device_info():
    import jax

    device = jax.devices()[0]
    return device, f"{device.platform}: {getattr(device, 'device_kind', device)}"


def peak_device_mb(device):
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return round(stats["peak_bytes_in_use"] / 2 ** 20, 1)


def measure(corpus, args, matmul_precision="highest"):
    """Build, compile and time the training step of ``corpus`` with float32 products in
    ``matmul_precision``; returns the JSON-ready result."""
    import jax

    from cle.backend import Backend, precision
    from cle.train.ext import GradientClipping, WeightNorm
    from cle.train.opt import Adam
    from cle.train.training import Training
    from nips2015_vrnn.models import build_model, get_preset
    from nips2015_vrnn.models.app.host_batches import HostBatches

    preset, n_steps, batch = CORPORA[corpus]
    n_steps, batch = args.T or n_steps, args.batch or batch
    overrides = dict(SMALL) if args.small else {}
    config = get_preset(preset, batch_size=batch, m_batch_size=batch, **overrides)
    backend = Backend(mode="jax", floatX="float32", matmul_precision=matmul_precision)
    device, device_name = device_info()
    began = time.perf_counter()
    model = build_model(config, backend=backend).static(n_steps, batch)
    graph = model.training_graph(eps_input=True)
    cost = graph.outputs["nll_upper_bound"]
    cle_model = model.as_cle_model(eps_input=True)
    with precision("float32"):  # the optimizer's shared values are made in float32
        training = Training("gpu-bench", [], cle_model, Adam(config.lr), cost, [cost], progress=False,
                            backend=backend,
                            extension=[GradientClipping(scaler=5, batch_size=batch, check_nan=1), WeightNorm()])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n_steps, batch, config.x_dim)).astype("float32")
    data = [x] if model.mask is None else [x, np.ones((n_steps, batch), dtype="float32")]
    noise = HostBatches([data], model.train_rng, model.latent_dim, "float32")
    batches = [noise.prepare(data) for _ in range(4)]
    np.asarray(training.cost_fn(*batches[0])[0])
    compile_s = time.perf_counter() - began
    for i in range(WARMUP_STEPS):
        np.asarray(training.cost_fn(*batches[(i + 1) % 4])[0])
    times = []
    for i in range(args.steps):
        start = time.perf_counter()
        value = np.asarray(training.cost_fn(*batches[i % 4])[0])
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {
        "corpus": corpus, "device": device_name, "jax": jax.__version__,
        "matmul_precision": matmul_precision,
        "config": {"preset": preset, "small": args.small, "T": n_steps, "batch": batch,
                   "rnn_dim": config.rnn_dim, "z_dim": config.z_dim, "n_params": model.n_params(),
                   "steps": args.steps, "floatX": "float32"},
        "compile_s": round(compile_s, 2),
        "sec_per_step_median": round(median, 5),
        "frames_per_sec": round(n_steps * batch / median, 1),
        "peak_device_mb": peak_device_mb(device),
        "last_cost": float(value),
    }


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from cle.backend import start_jax
    start_jax("float32")  # the program's start: JAX's x64 mode off for float32 graphs
    corpora = list(CORPORA) if args.corpus == "both" else [args.corpus]
    for corpus in corpora:
        for precision in args.matmul_precision:
            print(json.dumps(measure(corpus, args, precision)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
