#!/usr/bin/env bash
# The opening table of benchmarks/README.md: training throughput of the main config, this project
# (JAX and C mode) against the PyTorch yardstick at its three strengths (eager, --best,
# --best --compile), at 1 and 2 threads, ROUNDS rounds (default 2), every program right after the
# other, each pinned to the same N cores. One JSON line per run goes to OUT (default
# yardstick.jsonl); the table is printed at the end.
#
#   bash benchmarks/yardstick.sh                         # from the project's root, venv active
#   TORCH_PY=~/.cache/torch-peer/bin/python PEER_SCRIPT=../shared/peer/torch_vrnn.py bash benchmarks/yardstick.sh
#
# The project's runs compile afresh (VRNN_FUNCTION_CACHE=off); the PyTorch yardstick is not part of
# the project (PyTorch is never its dependency): TORCH_PY is a Python that has torch, PEER_SCRIPT its
# VRNN (default: the team's ../shared/peer/torch_vrnn.py).
set -u
TORCH_PY=${TORCH_PY:-$HOME/.cache/torch-peer/bin/python}
PEER_SCRIPT=${PEER_SCRIPT:-../shared/peer/torch_vrnn.py}
OUT=${OUT:-yardstick.jsonl}
CFG=${CFG:-"--x-dim 200 --z-dim 50 --rnn-dim 500 --hid 250 --k 20 --T 40 --batch 32 --steps 8"}
[ -f benchmarks/train_step.py ] || { echo "run from the project's root"; exit 1; }
[ -x "$TORCH_PY" ] && [ -f "$PEER_SCRIPT" ] || { echo "no PyTorch yardstick: set TORCH_PY and PEER_SCRIPT"; exit 1; }
echo "{\"machine\": \"$(lscpu | sed -n 's/^Model name:[[:space:]]*//p')\", \"cores\": $(nproc), \"commit\": \"$(git rev-parse --short HEAD)\", \"date\": \"$(date -u +%FT%TZ)\"}" >> "$OUT"
for round in $(seq "${ROUNDS:-2}"); do
  for t in 1 2; do
    for prog in jax c eager best compile; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      case $prog in
        jax|c) line=$(VRNN_FUNCTION_CACHE=off OMP_NUM_THREADS=$t python benchmarks/train_step.py $CFG --threads "$t" --mode $prog 2>/dev/null | tail -1) ;;
        eager) line=$(OMP_NUM_THREADS=$t taskset -c 0-$((t-1)) "$TORCH_PY" "$PEER_SCRIPT" $CFG --threads "$t" 2>/dev/null | tail -1) ;;
        best) line=$(OMP_NUM_THREADS=$t taskset -c 0-$((t-1)) "$TORCH_PY" "$PEER_SCRIPT" $CFG --threads "$t" --best 2>/dev/null | tail -1) ;;
        compile) line=$(OMP_NUM_THREADS=$t taskset -c 0-$((t-1)) "$TORCH_PY" "$PEER_SCRIPT" $CFG --threads "$t" --best --compile 2>/dev/null | tail -1) ;;
      esac
      echo "{\"round\": $round, \"threads\": $t, \"prog\": \"$prog\", \"load\": $load, \"result\": ${line:-null}}" >> "$OUT"
    done
  done
done
python - "$OUT" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if '"round"' in line]
print("| round | threads | load | JAX | C | eager | --best | torch.compile | JAX / eager, / compile | C / eager, / compile |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
cells = {}
for row in rows:
    cells.setdefault((row["round"], row["threads"]), {})[row["prog"]] = row
for (r, t), progs in sorted(cells.items()):
    fps = {p: (progs[p]["result"] or {}).get("frames_per_sec") for p in progs}
    loads = [progs[p]["load"] for p in progs]
    ratio = lambda a, b: f"{fps[a] / fps[b]:.2f}" if fps.get(a) and fps.get(b) else "-"
    print(f"| {r} | {t} | {min(loads):.2f}-{max(loads):.2f} | " + " | ".join(
        f"{fps[p]:,.0f}" if fps.get(p) else "-" for p in ("jax", "c", "eager", "best", "compile"))
        + f" | {ratio('jax', 'eager')}, {ratio('jax', 'compile')} | {ratio('c', 'eager')}, {ratio('c', 'compile')} |")
PY
