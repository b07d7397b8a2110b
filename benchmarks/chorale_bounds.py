"""Issue 30's closing table on real data: a VRNN trained with each bound on Bach chorales.

Needs music21 (the ``bench`` extra); the piano rolls are those of ``benchmarks/chorales.py``
(:func:`chorales.make_rolls`: 198 four-part chorales of music21's Bach corpus, 88 keys,
eighth-note frames; 158 / 20 / 20 sequences after the split).

1. ``vrnn-prepare sequences ROLLS WORK/chorales.h5 --valid-frac 0.1 --test-frac 0.1``.
2. ``vrnn-train sequences --data WORK/chorales.h5 --model vrnn-bernoulli --out WORK/runs/<bound>
   --max-updates N --set rnn_dim=R --set monitoring_freq=M [--set bound=iwae|fivo --set particles=K]``
   for each bound of :data:`BOUNDS`: the same model size, seed and update budget.
3. For each run's best checkpoint (chosen by the validation ELBO, the channel every run monitors):
   ``vrnn-eval RUN --split test --samples K --particles K --resample ess`` (ELBO, IWAE and FIVO at the
   training's K) and the plain ``vrnn-eval RUN --split test`` (ELBO and IWAE with 40 samples).

Reported: a 3 x 3 table of test nats per time step (negative log-likelihood bounds, lower is
better; rows the training bound, columns the estimator), the 40-sample IWAE, and each run's real
training frames/s (the epoch's real frames times the epochs trained, over the seconds spent in
updates, as ``vrnn-train``'s summary gives them) with the load average at its end.

    python benchmarks/chorale_bounds.py --work /tmp/chorale-bounds --max-updates 200 --rnn-dim 128
    python benchmarks/chorale_bounds.py --work /tmp/chorale-bounds --table
    python benchmarks/chorale_bounds.py --work /tmp/chorale-bounds-400 --resume-from /tmp/chorale-bounds \
        --max-updates 400     # the same runs continued (vrnn-train --resume), in a folder of their own

Also printed: each run minus the ELBO-trained run under each estimator, paired over the test
sequences (:func:`paired`).
"""
import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chorales import command, make_rolls, parse_train, split_lengths  # noqa: E402  (benchmarks/ is no package)

#: (name, --set overrides) of the runs; K is filled in from --particles.
BOUNDS = (("elbo", ()), ("iwae", ("bound=iwae",)), ("fivo", ("bound=fivo",)))
ESTIMATES = ("elbo", "iwae", "fivo")


def train_run(cli, data, run, sets, args, env, log):
    """Train one run (kept when already there) and return its training summary (a dict); with
    ``args.resume_from``, copy that folder's run of the same name and resume it to
    ``args.max_updates`` (the summary then times this command's updates only)."""
    if not (run / "bench_train.json").is_file() and args.resume_from:
        if not run.is_dir():
            shutil.copytree(args.resume_from.resolve() / "runs" / run.name, run,
                            ignore=shutil.ignore_patterns("eval_*.json", "bench_train.json"))
        text = command([*cli, "train", "--resume", run, "--max-updates", str(args.max_updates)], env, log)
        info = parse_train(text)
        info["epoch_frames"] = int(split_lengths(data, "train").sum())
        info["load"] = os.getloadavg()[0]
        (run / "bench_train.json").write_text(json.dumps(info))
    if not (run / "bench_train.json").is_file():
        train = [*cli, "train", "sequences", "--data", data, "--out", run, "--model", "vrnn-bernoulli",
                 "--max-updates", str(args.max_updates), "--seed", str(args.seed),
                 "--set", f"rnn_dim={args.rnn_dim}", "--set", f"monitoring_freq={args.monitoring_freq}"]
        for item in sets:
            train += ["--set", item]
        if sets:
            train += ["--set", f"particles={args.particles}"]
        info = parse_train(command(train, env, log))
        info["epoch_frames"] = int(split_lengths(data, "train").sum())
        info["load"] = os.getloadavg()[0]
        (run / "bench_train.json").write_text(json.dumps(info))
    info = json.loads((run / "bench_train.json").read_text())
    info["real_frames_per_s"] = round(info["epoch_frames"] * info["updates"] / info["batches"] / info["update_s"])
    return info


def evaluate(cli, run, k, env, log):
    """The test estimates of ``run``'s best checkpoint, per time step: ELBO, IWAE and FIVO with K
    particles, and IWAE with vrnn-eval's default 40 samples."""
    fivo_file = run / f"eval_test_best_fivo{k}-ess.json"
    if not fivo_file.is_file():
        command(cli + ["eval", run, "--split", "test", "--samples", str(k), "--particles", str(k),
                       "--resample", "ess"], env, log)
    plain_file = run / "eval_test_best.json"
    if not plain_file.is_file():
        command(cli + ["eval", run, "--split", "test"], env, log)
    fivo, plain = json.loads(fivo_file.read_text()), json.loads(plain_file.read_text())
    out = {name: fivo[f"{name}_per_step"] for name in ESTIMATES}
    out.update(iwae40=plain["iwae_per_step"], elbo_plain=plain["elbo_per_step"],
               checkpoint_updates=fivo["checkpoint_updates"], n_steps=fivo["n_steps"])
    return out


def table(rows, k):
    """The Markdown table of the rows (negated: nats per step, lower is better)."""
    lines = [f"| trained with | test ELBO | test IWAE (K={k}) | test FIVO (K={k}, ess) | test IWAE (40) "
             "| best checkpoint (update) | real frames/s (load) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        e = row["eval"]
        name = row["bound"] if row["bound"] == "elbo" else f"{row['bound']} (K={k})"
        lines.append(f"| {name} | {-e['elbo']:.3f} | {-e['iwae']:.3f} | {-e['fivo']:.3f} | {-e['iwae40']:.3f} "
                     f"| {e['checkpoint_updates']} | {row['real_frames_per_s']:,} ({row['load']:.1f}) |")
    return "\n".join(lines)


def paired(work, k, base="elbo"):
    """Each run's test estimates minus the ``base``-trained run's, in nats per time step, with the
    standard error of the paired per-sequence differences (the same 20 test sequences): sum over
    sequences of (run - base) / steps, s.e. sqrt(n) std(differences) / steps."""
    import numpy as np

    def load(name):
        return json.loads((work / "runs" / name / f"eval_test_best_fivo{k}-ess.json").read_text())["per_sequence"]

    ref, lines = load(base), []
    steps = sum(ref["steps"])
    for name, _ in BOUNDS:
        if name == base or not (work / "runs" / name / f"eval_test_best_fivo{k}-ess.json").is_file():
            continue
        run = load(name)
        parts = []
        for est in ESTIMATES:
            diff = np.asarray(run[est]) - np.asarray(ref[est])
            parts.append(f"{est} {-diff.sum() / steps:+.3f} +- {np.sqrt(len(diff)) * diff.std(ddof=1) / steps:.3f}")
        lines.append(f"{name}-trained minus {base}-trained (nats/step, lower is better): " + ", ".join(parts))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("chorale-bounds"))
    parser.add_argument("--chorales", type=int, default=198)
    parser.add_argument("--max-updates", type=int, default=200)
    parser.add_argument("--rnn-dim", type=int, default=128)
    parser.add_argument("--monitoring-freq", type=int, default=50)
    parser.add_argument("--particles", type=int, default=4, help="K of the IWAE and FIVO runs and evaluation.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", default="jax")
    parser.add_argument("--only", nargs="*", help="Bounds to run (default: all).")
    parser.add_argument("--resume-from", type=Path, help="Continue the runs of this WORK folder to --max-updates "
                        "(copied into --work; its prepared data file is used).")
    parser.add_argument("--table", action="store_true", help="Print the table of WORK's results and stop.")
    args = parser.parse_args()
    work = args.work.resolve()
    if args.table:
        print(table(json.loads((work / "bounds.json").read_text()), args.particles))
        print(paired(work, args.particles))
        return

    work.mkdir(parents=True, exist_ok=True)
    lengths = make_rolls((args.resume_from.resolve() if args.resume_from else work) / "rolls", args.chorales)
    print(f"{len(lengths)} chorales, lengths {min(lengths)}..{max(lengths)}, {sum(lengths)} frames")
    env = dict(os.environ, VRNN_MODE=args.mode)
    cli = [sys.executable, "-m", "nips2015_vrnn.models.app.cli"]
    log = work / "bounds.log"
    data = (args.resume_from.resolve() if args.resume_from else work) / "chorales.h5"
    if not data.is_file():
        command(cli + ["prepare", "sequences", work / "rolls", data, "--valid-frac", "0.1", "--test-frac", "0.1"],
                env, log)
    rows = []
    for name, sets in BOUNDS:
        if args.only and name not in args.only:
            continue
        run = work / "runs" / name
        info = train_run(cli, data, run, sets, args, env, log)
        row = {"bound": name, "set": list(sets), **info, "eval": evaluate(cli, run, args.particles, env, log)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    partial = work / "bounds.partial.json"
    partial.write_text(json.dumps(rows, indent=1))
    os.replace(partial, work / "bounds.json")
    print(table(rows, args.particles))
    print(paired(work, args.particles))


if __name__ == "__main__":
    main()
