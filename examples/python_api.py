"""The Python API in one script: prepare data, train a model, load it, the log-likelihood of a
sequence, generation. README's "Python API" section shows these lines; the test suite runs the
script (tests/test_examples.py), so they stay true.

    python examples/python_api.py [WORK_DIR]
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

from cle import backend as backends
from nips2015_vrnn.datasets.sequences import prepare_sequences
from nips2015_vrnn.models.app import configure, rundir, trainer


def main(work):
    work = Path(work)
    # Data: 40 random walks of 2 values per step, 10..29 steps, as one .npz, then a prepared file.
    rng = np.random.default_rng(0)
    walks = {f"walk{i}": np.cumsum(rng.normal(size=(int(rng.integers(10, 30)), 2)), axis=0) for i in range(40)}
    np.savez(work / "walks.npz", **walks)
    prepare_sequences(work / "walks.npz", work / "walks.h5", valid_frac=0.1, test_frac=0.1, seed=0)

    # Train from Python: a run directory as vrnn-train makes it, trained for 20 updates.
    config = configure.resolve_config("sequences", model="vrnn-gauss", overrides={
        "x_dim": 2, "z_dim": 4, "rnn_dim": 16, "x2s_dim": 8, "z2s_dim": 8, "q_z_dim": 8, "p_z_dim": 8,
        "p_x_dim": 8, "batch_size": 8, "monitoring_freq": 10}, max_updates=20)
    run = rundir.create_run(work / "run", "sequences", config, work / "walks.h5",
                            mode=backends.program_default_mode())  # JAX when installed, else C
    backend = run.backend().start_process()
    training = trainer.train_run(run, backend, max_updates=20)
    print(f"trained {training.trainlog.batch_seen} updates: {training.end_reason}")

    # Load a trained model (any run directory: vrnn-train's, or this one).
    model = rundir.load_model(run, "best", backend)

    # Log-likelihood of one sequence, in the units training saw (normalised frames): x (T, 1, D).
    x_mean, x_std = run.normalisation
    x = ((walks["walk0"] - x_mean) / x_std)[:, None, :]
    bound = model.lower_bound(x)[0]
    estimate = model.importance_sampled_loglik(x, n_samples=40)[0]
    print(f"walk0 ({len(x)} steps): lower bound {bound:.2f} nats, importance-sampled {estimate:.2f} nats")

    # Generate: (steps, sequences, D), back in the data's units.
    samples = model.generate(n_steps=25, n_sequences=3, seed=1) * x_std + x_mean
    print(f"generated {samples.shape[1]} sequences of {samples.shape[0]} steps")
    return bound, estimate, samples


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(folder)
