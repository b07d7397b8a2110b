"""Training on variable-length sequences with and without length buckets: real-frame fraction,
updates/s and real frames/s.

A corpus like the Bach chorales as 88-key piano rolls (lengths 48..386 in eighth notes, median
about 96; sparse binary frames, 3-4 notes sounding) is prepared with ``prepare_sequences`` and
trained with the ``sequences/vrnn_bernoulli`` preset (or ``--model``) for ``--epochs`` epochs in
``--mode`` (default jax), twice: padded to the longest sequence in batches of ``batch_size``
(``--before``: the iterator before length bucketing, :class:`cle.data.ExampleIterator` without
buckets) and with the run's length buckets. The last line is one JSON object per setting.
Compiled functions go to a folder of their own (``--store``), not the user's.

    python benchmarks/bucketing.py --sequences 198 --epochs 2
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def chorale_rolls(n, seed=0):
    """n piano rolls (T, 88) of {0, 1}: lengths like the chorales', four voices moving by steps."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(np.round(np.exp(rng.normal(np.log(96), 0.42, n))), 48, 386).astype(int)
    lengths[:2] = 48, 386
    rolls = []
    for length in lengths:
        voices = np.array([40, 47, 52, 59]) + rng.integers(-3, 4, 4)
        roll = np.zeros((length, 88), dtype=np.uint8)
        for t in range(length):
            if t % 2 == 0:
                voices = np.clip(voices + rng.integers(-2, 3, 4), 0, 87)
            roll[t, voices] = 1
        rolls.append(roll)
    return rolls


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=198)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--mode", default="jax")
    parser.add_argument("--model", default="vrnn-bernoulli")
    parser.add_argument("--store", default=None, help="Folder of compiled functions (default: a temporary one).")
    args = parser.parse_args()
    os.environ["VRNN_FUNCTION_CACHE"] = args.store or tempfile.mkdtemp(prefix="bucketing-store-")
    from cle.data import ExampleIterator
    from nips2015_vrnn.datasets.sequences import prepare_sequences
    from nips2015_vrnn.models.app import configure, rundir, trainer

    root = Path(tempfile.mkdtemp(prefix="bucketing-"))
    src = root / "rolls"
    src.mkdir()
    for i, roll in enumerate(chorale_rolls(args.sequences)):
        np.save(src / f"c{i:03d}.npy", roll)
    data = root / "rolls.h5"
    prepare_sequences(src, data, valid_frac=0.1, test_frac=0.1, seed=0)
    legacy = trainer.training_batches
    results = []
    for setting in ("before", "after"):
        if setting == "before":
            trainer.training_batches = lambda config, train: ExampleIterator(
                train, batch_size=config.batch_size, seed=config.seed, fill=True)
        else:
            trainer.training_batches = legacy
        config = configure.resolve_config("sequences", model=args.model,
                                          overrides={"x_dim": 88, "epoch": args.epochs, "monitoring_freq": 10 ** 6})
        run = rundir.create_run(root / setting, "sequences", config, data, mode=args.mode)
        backend = run.backend().start_process()
        began = time.perf_counter()
        events = {}
        training = trainer.train_run(run, backend, on_event=lambda kind, **info: events.setdefault(kind, info))
        wall = time.perf_counter() - began
        train_data = run.open_split("train")
        real = int(train_data.lengths(0, train_data.num_examples()).sum()) * args.epochs
        times = training.trainlog.times
        shapes = events["epoch"].get("shapes")
        computed = None
        if shapes is None:  # padded to the longest of train and valid, batch_size columns
            from nips2015_vrnn.models.app.host_batches import static_steps
            computed = static_steps(train_data, run.open_split("valid")) * config.batch_size * len(times)
        results.append({"setting": setting, "mode": args.mode, "sequences": args.sequences,
                        "updates": len(times), "update_s": sum(times),
                        "updates_per_s": len(times) / sum(times), "real_frames_per_s": real / sum(times),
                        "real_fraction": events["epoch"].get("real_fraction") or real / computed,
                        "shapes": shapes, "compile_and_train_s": wall})
        print(json.dumps(results[-1]), file=sys.stderr)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
