#!/usr/bin/env bash
# Paper-size VRNN-GMM training throughput in JAX mode on a CUDA GPU: one JSON line per corpus
# (Blizzard, IAM-OnDB) and per precision of the float32 products (highest: full float32, the
# default of every run; tf32: tensor cores) with frames/s, compile time and peak device memory.
# Needs the jax CUDA wheels (README.rst, "JAX and GPUs"). Extra arguments go to
# benchmarks/gpu.py (--steps, --T ...).
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import jax; d = jax.devices()[0]; print('device:', d.platform, getattr(d, 'device_kind', ''))" >&2
exec python benchmarks/gpu.py --matmul-precision highest tf32 "$@"
