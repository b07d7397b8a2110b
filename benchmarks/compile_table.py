"""Compile time of ``vrnn-train`` by configuration, cold and warm, as a user meets it.

For each configuration, two ``vrnn-train`` commands run one after the other in fresh run
folders, with ``VRNN_FUNCTION_CACHE`` pointing at a store of their own that starts empty (the
compiled-function store and XLA's persistent cache live there):

* **cold**: nothing stored; the command compiles its training and monitoring functions
  ("compiled the training and monitoring functions in X s");
* **warm**: the same configuration again, a new run: it loads them ("loaded ... in X s").

PyTensor's own C-module cache (``~/.pytensor``) is left as it is (warm after the first
configuration); ``--cold-c`` points ``base_compiledir`` at an empty folder for every command, so
the cold row also compiles PyTensor's C modules (and the warm row shows them found).

The Blizzard rows read the demo corpus's ``blizzard.h5`` (200 samples a frame, as the paper's
Blizzard), the IAM-OnDB rows its ``iamondb.h5`` (pen offsets); the data only give the shapes:
the paper's sizes come from the presets. Each command is timed until it says its functions are
ready and then stopped (training is not timed). Printed: one JSON line per command, then a
Markdown table: the command's own compile / load seconds, and ``ready``: the seconds from starting
the command to that line (imports, the data, the run folder, the compile or load).

Usage::

    python benchmarks/compile_table.py --out /tmp/compile_table              # every configuration
    python benchmarks/compile_table.py --out /tmp/ct --only demo --only main --mode c
    python benchmarks/compile_table.py --list
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from nips2015_vrnn.datasets.lookup import ensure_demo_data

WIDTHS = ("x2s_dim", "z2s_dim", "q_z_dim", "p_z_dim", "p_x_dim")


def _sets(**values):
    """``--set KEY=VALUE`` arguments."""
    return [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]


def _widths(width):
    return _sets(**{key: width for key in WIDTHS})


#: Name -> vrnn-train arguments ({data} is the demo corpus's folder). One table: the rows of the
#: benchmark's README table come from it.
CONFIGS = {
    "demo": ["demo"],
    "demo handwriting": ["demo", "--corpus", "handwriting"],
    "mid (rnn 256, widths 128, z 32, K 10, batch 16)": (
        ["blizzard", "--data", "{data}"] + _sets(rnn_dim=256, z_dim=32, k=10, batch_size=16, m_batch_size=16)
        + _widths(128)),
    "main (rnn 500, widths 250, z 50, K 20, batch 32)": (
        ["blizzard", "--data", "{data}"] + _sets(rnn_dim=500, z_dim=50, k=20, batch_size=32, m_batch_size=32)
        + _widths(250)),
    **{f"paper blizzard/{model}": ["blizzard", "--data", "{data}", "--model", model]
       for model in ("vrnn-gmm", "vrnn-gauss", "vrnn-i-gauss", "rnn-gmm", "rnn-gauss")},
    **{f"paper iamondb/{model}": ["iamondb", "--data", "{data}", "--model", model]
       for model in ("vrnn-gmm", "vrnn-gauss", "vrnn-i-gauss", "rnn-gmm", "rnn-gauss")},
}

#: The console script beside this Python (as a user runs it: with its huge-page relaunch).
VRNN_TRAIN = Path(sys.executable).parent / "vrnn-train"
COMPILED = re.compile(r"(compiled|loaded) the training and monitoring functions .*?in ([0-9.]+) s")


def run_command(args, env, log_path):
    """Run ``vrnn-train args`` with ``env`` until its functions are ready: (seconds from the start
    to the line saying so, 'compiled' / 'loaded', the seconds that line gives). The command is then
    stopped (SIGKILL: a benchmark run, nothing to keep); training itself is not timed."""
    start = time.perf_counter()
    with open(log_path, "w") as log:
        process = subprocess.Popen([str(VRNN_TRAIN), *args], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, env=env, text=True)
        found = None
        for line in process.stdout:
            log.write(line)
            found = COMPILED.search(line)
            if found:
                break
        ready = time.perf_counter() - start
        process.kill()
        process.wait()
    if not found:
        raise SystemExit(f"vrnn-train {' '.join(args)} failed (exit {process.returncode}); see {log_path}")
    return ready, found.group(1), float(found.group(2))


def measure(name, arguments, work, mode, cold_c):
    """The cold and the warm command of one configuration: two JSON-ready dicts."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    folder = work / slug
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env = dict(os.environ, VRNN_FUNCTION_CACHE=str(folder / "store"))
    if cold_c:
        flags = env.get("PYTENSOR_FLAGS", "")
        env["PYTENSOR_FLAGS"] = ",".join(filter(None, [flags, f"base_compiledir={folder / 'pytensor'}"]))
    data = str(ensure_demo_data())
    args = [a.format(data=data) for a in arguments] + ["--mode", mode]
    rows = []
    for start in ("cold", "warm"):
        load = os.getloadavg()[0]
        ready, event, seconds = run_command(args + ["--out", str(folder / start)], env, folder / f"{start}.log")
        rows.append({"config": name, "mode": mode, "start": start, "event": event,
                     "compile_or_load_s": seconds, "ready_s": round(ready, 1), "load": round(load, 2)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows):
    """Markdown: one row per configuration."""
    lines = ["| config | mode | cold: compile (ready) | warm: load (ready) |", "| --- | --- | --- | --- |"]
    by_config = {}
    for row in rows:
        by_config.setdefault((row["config"], row["mode"]), {})[row["start"]] = row
    for (config, mode), starts in by_config.items():
        cells = [f"{starts[s]['compile_or_load_s']:.1f} s ({starts[s]['ready_s']:.0f} s)" if s in starts
                 else "-" for s in ("cold", "warm")]
        lines.append(f"| {config} | {mode} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="work folder (runs, stores, logs)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="configurations whose name starts with NAME (repeatable)")
    parser.add_argument("--mode", default="jax", choices=["jax", "c"])
    parser.add_argument("--cold-c", action="store_true", help="an empty PyTensor C-module cache too")
    parser.add_argument("--list", action="store_true", help="print the configurations and exit")
    args = parser.parse_args()
    if args.list:
        for name, arguments in CONFIGS.items():
            print(f"{name}: vrnn-train {' '.join(arguments)}")
        return
    if args.out is None:
        parser.error("--out is required")
    names = [n for n in CONFIGS if not args.only or any(n.startswith(o) for o in args.only)]
    rows = []
    for name in names:
        rows += measure(name, CONFIGS[name], args.out, args.mode, args.cold_c)
    print(table(rows))


if __name__ == "__main__":
    main()
