"""Issue 28's closing protocol on real data: Bach chorales as 88-key piano rolls, through the commands.

Needs music21 (the ``bench`` extra: ``pip install -e ".[bench]"`` or ``pip install music21``); it
ships the chorales in its corpus, so nothing is downloaded. Not a dependency of the project.

1. Piano rolls as issue 28 made them: the four-voice chorales of music21's Bach corpus (scores of
   exactly four parts, in Riemenschneider's order; the first ``--chorales`` of them, default 198,
   the issue's count: 158 / 20 / 20 sequences; lengths 64..386, median 96), each an (T, 88)
   uint8 array, frame t the eighth note [t / 2, (t + 1) / 2) quarter notes, key k = MIDI pitch
   21 + k set while a note sounds (a note covers the frames from floor(2 onset) to
   ceil(2 (onset + duration)); grace notes of no duration are left out), saved as
   ``ROLLS/<bwv>.npy``, one per chorale.
2. ``vrnn-prepare sequences ROLLS WORK/chorales.h5 --valid-frac 0.1 --test-frac 0.1``.
3. ``vrnn-train sequences --data WORK/chorales.h5 --out WORK/runs/<name> --model M --max-updates N
   [--set KEY=VALUE]`` for each setting of :data:`SETTINGS` (the VRNN and the RNN of the presets'
   size, rnn_dim 256; the VRNN again with KL annealing and with free bits), then
   ``vrnn-eval WORK/runs/<name> --split test --samples S``.

What is reported, per setting (one JSON line each, then a Markdown table): the training summary's
real-frame fraction and sequences seen per epoch, real frames per second of update time
(the epoch's real frames times the epochs trained, over the seconds spent in updates, as
``vrnn-train`` prints them), the stopping reason, the validation KL term, and vrnn-eval's test
bound and importance-sampled estimate in nats per time step (a sum over sequences over the
number of unmasked steps; negative log-likelihoods, lower is better).

    python benchmarks/chorales.py --work /tmp/chorales --max-updates 300

``--before CODE``: run the same commands with the code in CODE (a ``git worktree`` of an older
commit) importable first, for the numbers before issue 28; its output lines are parsed where they
match and the epoch's coverage is computed from the data otherwise.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: (name, model, --set overrides) of the protocol's runs.
SETTINGS = (
    ("vrnn", "vrnn-bernoulli", ()),
    ("rnn", "rnn-bernoulli", ()),
    ("vrnn-anneal", "vrnn-bernoulli", ("kl_anneal_updates=200",)),
    ("vrnn-freebits", "vrnn-bernoulli", ("free_bits=0.05",)),
)
LOWEST_PITCH, N_KEYS = 21, 88
FRAMES_PER_QUARTER = 2  # eighth-note frames


def chorale_roll(score):
    """The (T, 88) uint8 piano roll of a music21 score at eighth-note frames (see the docstring)."""
    frames = int(math.ceil(float(score.highestTime) * FRAMES_PER_QUARTER - 1e-9))
    roll = np.zeros((frames, N_KEYS), dtype=np.uint8)
    for element in score.flatten().notes:
        length = float(element.quarterLength)
        if length <= 0:
            continue  # a grace note
        onset = float(element.offset)
        start = int(math.floor(onset * FRAMES_PER_QUARTER + 1e-9))
        end = max(start + 1, int(math.ceil((onset + length) * FRAMES_PER_QUARTER - 1e-9)))
        for pitch in element.pitches:
            key = pitch.midi - LOWEST_PITCH
            if 0 <= key < N_KEYS:
                roll[start:end, key] = 1
    return roll


def make_rolls(folder, count):
    """The first ``count`` four-part chorales of music21's Bach chorales (Riemenschneider's
    numbering, :class:`music21.corpus.chorales.Iterator`) as ``folder/<name>.npy``
    (kept when already there); returns their lengths."""
    from music21 import corpus

    folder.mkdir(parents=True, exist_ok=True)
    lengths, names = [], set()
    for name in corpus.chorales.Iterator(returnType="filename"):  # Riemenschneider's order
        if len(lengths) == count:
            break
        if name in names:
            continue  # a chorale numbered twice
        names.add(name)
        target = folder / f"{name.split('/')[-1]}.npy"
        if target.is_file():
            lengths.append(len(np.load(target)))
            continue
        score = corpus.parse(name)
        if len(score.parts) != 4:
            continue
        roll = chorale_roll(score)
        partial = target.with_suffix(".partial.npy")
        np.save(partial, roll)
        os.replace(partial, target)
        lengths.append(len(roll))
    (folder / "DONE").write_text(json.dumps({"count": count, "lengths": lengths}))
    return lengths


def command(args, env=None, log=None):
    """Run ``args``; its output (stdout and stderr) echoed into ``log`` and returned; a failure
    raises with the output's tail."""
    began = time.perf_counter()
    # run outside the repository: ``python -m`` puts the working folder first on the import path,
    # which would shadow --before's code with the checkout's
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    text = done.stdout + done.stderr
    if log is not None:
        with open(log, "a") as out:
            out.write(f"$ {' '.join(map(str, args))}\n{text}\n[exit {done.returncode}, "
                      f"{time.perf_counter() - began:.1f} s]\n")
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(map(str, args))}\n{text[-3000:]}")
    return text


def parse_train(text):
    """What vrnn-train's output says: updates, epochs, seconds in updates, coverage, stop, KL."""
    out = {}
    done = re.search(r"done: (\d+) updates(?: \((\d+) by this command\))?, (\d+) epochs in ([\d.]+) s "
                     r"\(([\d.]+) s in updates\)", text)
    if done:   # a resumed run's line also says how many updates this command made (and timed)
        out.update(updates=int(done[2] or done[1]), total_updates=int(done[1]), epochs=int(done[3]),
                   wall_s=float(done[4]), update_s=float(done[5]))
    epoch = re.search(r"an epoch: (\d+) of (\d+) training sequences in (\d+) batches", text)
    if epoch:
        out.update(seen=int(epoch[1]), total=int(epoch[2]), batches=int(epoch[3]))
    real = re.search(r"(\d+)% of the computed frames real", text)
    if real:
        out["real_percent"] = int(real[1])
    stopped = re.search(r"stopped: (.*)", text)
    if stopped:
        out["stopped"] = stopped[1].strip()
    kl = re.search(r"KL term.*", text)
    if kl:
        out["kl_line"] = kl[0].strip()
    return out


def read_eval(run, data):
    """``run``'s test evaluation (its JSON file): bound and estimate per sequence and per time step
    (computed from the test split's steps in ``data`` where the file has none: the code before
    issue 28 reported per-sequence numbers only)."""
    import h5py

    result = json.loads(next(Path(run).glob("eval_test_*.json")).read_text())
    if "lower_bound_per_step" not in result:
        with h5py.File(data, "r") as f:
            steps = int(f["test/offsets"][-1])
        result["n_steps"] = steps
        for key in ("lower_bound", "loglik_is"):
            result[f"{key}_per_step"] = result[key] * result["n_sequences"] / steps
    return {k: result[k] for k in ("n_sequences", "n_steps", "lower_bound", "loglik_is",
                                   "lower_bound_per_step", "loglik_is_per_step", "checkpoint_updates")
            if k in result}


def last_valid_kl(run):
    """The validation KL term per sequence of ``run``'s last monitoring record (its log.jsonl)."""
    records = [json.loads(line) for line in (Path(run) / "log.jsonl").read_text().splitlines() if line.strip()]
    values = [r["valid_kl_term"] for r in records if "valid_kl_term" in r]
    return values[-1] if values else None


def split_lengths(data, split):
    """The sequence lengths of ``split`` in the prepared file ``data``."""
    import h5py

    with h5py.File(data, "r") as f:
        return np.diff(f[f"{split}/offsets"][()])


def legacy_epoch(data, batch_size):
    """An epoch of the code before issue 28 (computed, as it did not say): the training sequences
    in order in whole batches of ``batch_size`` (the rest never seen), each batch padded in JAX
    mode to the longest training or validation sequence."""
    train, valid = split_lengths(data, "train"), split_lengths(data, "valid")
    batches = len(train) // batch_size
    seen = batches * batch_size
    computed = seen * max(train.max(), valid.max())
    return {"seen": seen, "total": len(train), "batches": batches,
            "real_percent": round(100 * train[:seen].sum() / computed), "epoch_frames": int(train[:seen].sum())}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("chorales-bench"))
    parser.add_argument("--chorales", type=int, default=198)
    parser.add_argument("--max-updates", type=int, default=300)
    parser.add_argument("--samples", type=int, default=20, help="vrnn-eval's importance samples.")
    parser.add_argument("--mode", default="jax")
    parser.add_argument("--only", nargs="*", help="Names of SETTINGS to run (default: all).")
    parser.add_argument("--before", type=Path, help="Run the code of this folder (an older commit).")
    parser.add_argument("--table", action="store_true", help="Print the table of WORK's results and stop.")
    args = parser.parse_args()
    if args.table:
        print(table(args.work.resolve()))
        return

    work = args.work.resolve()
    rolls = work / "rolls"
    began = time.perf_counter()
    lengths = make_rolls(rolls, args.chorales)
    print(f"{len(lengths)} chorales, lengths {min(lengths)}..{max(lengths)}, median "
          f"{int(np.median(lengths))}, {sum(lengths)} frames ({time.perf_counter() - began:.0f} s)")
    env = dict(os.environ, VRNN_MODE=args.mode)
    tag = "before" if args.before else "after"
    if args.before:
        env["PYTHONPATH"] = str(_shim(args.before, work))
        env["VRNN_FUNCTION_CACHE"] = str(work / "before-store")
    cli = [sys.executable, "-m", "nips2015_vrnn.models.app.cli"]
    log = work / f"{tag}.log"
    data = work / f"chorales-{tag}.h5"
    if not data.is_file():
        print(command(cli + ["prepare", "sequences", rolls, data, "--valid-frac", "0.1", "--test-frac", "0.1"],
                      env, log).strip().splitlines()[-1])
    rows = []
    for name, model, sets in SETTINGS:
        if (args.only and name not in args.only) or (args.before and sets):
            continue  # the code before issue 28 has neither KL annealing nor free bits
        run = work / "runs" / tag / name
        if not (run / "config.json").is_file():
            train = [*cli, "train", "sequences", "--data", data, "--out", run, "--model", model,
                     "--max-updates", str(args.max_updates)]
            if args.before:  # before issue 28 the preset's epoch=4 capped --max-updates silently,
                # and a validation split smaller than m_batch_size failed at update 0 in JAX mode
                train += ["--epochs", "100000", "--set", f"m_batch_size={len(split_lengths(data, 'valid'))}"]
            for item in sets:
                train += ["--set", item]
            info = parse_train(command(train, env, log))
            if args.before:
                info.update(legacy_epoch(data, 32))
            else:
                info["epoch_frames"] = int(split_lengths(data, "train").sum())
            (run / "bench_train.json").write_text(json.dumps(info))
        info = json.loads((run / "bench_train.json").read_text())
        info.setdefault("epoch_frames", int(split_lengths(data, "train").sum()))
        info["real_frames_per_s"] = round(info["epoch_frames"] * info["updates"] / info["batches"] / info["update_s"])
        if not list(run.glob("eval_test_*.json")):
            command(cli + ["eval", run, "--split", "test", "--samples", str(args.samples)], env, log)
        info["valid_kl"] = last_valid_kl(run) if model.startswith("vrnn") else None
        row = {"code": tag, "setting": name, "model": model, "set": list(sets), **info,
               "eval": read_eval(run, data), "load": os.getloadavg()[0]}
        print(json.dumps(row))
        rows.append(row)
    (work / f"{tag}.json").write_text(json.dumps(rows, indent=1))


def table(work):
    """The Markdown table of WORK/before.json and WORK/after.json (those that exist)."""
    lines = ["| code | model | --set | updates (s in updates) | sequences seen / epoch | real frames computed "
             "| real frames/s | test bound / step | test IS estimate / step | valid KL / seq (last) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for tag in ("before", "after"):
        path = work / f"{tag}.json"
        for row in json.loads(path.read_text()) if path.is_file() else []:
            lines.append(f"| {tag} | {row['model']} | {' '.join(row['set']) or '-'} | {row['updates']} "
                         f"({row['update_s']:.0f}) | {row['seen']} of "
                         f"{row['total']} | {row['real_percent']} % | {row['real_frames_per_s']:,} | "
                         f"{-row['eval']['lower_bound_per_step']:.3f} | {-row['eval']['loglik_is_per_step']:.3f} | "
                         f"{'-' if row.get('valid_kl') is None else format(row['valid_kl'], '.3g')} |")
    return "\n".join(lines)


def _shim(code, work):
    """A folder that makes ``nips2015_vrnn`` and ``cle`` import from ``code`` (before the install)."""
    shim = work / "before-shim"
    package = shim / "nips2015_vrnn"
    package.mkdir(parents=True, exist_ok=True)
    for name, target in (("models", code / "models"), ("datasets", code / "datasets")):
        if not (package / name).exists():
            (package / name).symlink_to(target.resolve())
    if not (shim / "cle").exists():
        (shim / "cle").symlink_to((code / "cle").resolve())
    return shim


if __name__ == "__main__":
    main()
