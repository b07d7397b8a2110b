"""Helpers of the model tests: tiny configurations, synthetic data, a short training run.

Graphs here are TINY (widths 2-6) and each test module compiles each graph once.
"""
import numpy as np

from nips2015_vrnn.models import get_preset

#: Widths of the tiny test models (every stack).
TINY = dict(rnn_dim=6, x2s_dim=5, z2s_dim=5, q_z_dim=5, p_z_dim=5, p_x_dim=5)


def tiny_config(preset, **overrides):
    """``preset`` shrunk to TINY widths (and ``overrides``)."""
    return get_preset(preset, **{**TINY, **overrides})


def speech_batches(n_batches, n_steps, batch, x_dim, seed=0):
    """Synthetic speech-like batches (T, B, x_dim): noisy sinusoids with random phase, float32 later."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)[:, None, None]
    out = []
    for _ in range(n_batches):
        phase = rng.uniform(0, 2 * np.pi, size=(1, batch, 1))
        freq = np.linspace(0.3, 0.9, x_dim)[None, None, :]
        out.append(np.sin(freq * t + phase) + 0.1 * rng.standard_normal((n_steps, batch, x_dim)))
    return out


def handwriting_batches(n_batches, n_steps, batch, seed=0):
    """Synthetic pen trajectories: (x (T, B, 3) = [pen, dx, dy], mask (T, B)) with ragged lengths."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        x = np.zeros((n_steps, batch, 3))
        angle = np.cumsum(rng.normal(0.4, 0.1, size=(n_steps, batch)), axis=0)
        x[:, :, 1] = np.cos(angle) + 0.05 * rng.standard_normal((n_steps, batch))
        x[:, :, 2] = np.sin(angle) + 0.05 * rng.standard_normal((n_steps, batch))
        x[:, :, 0] = (np.arange(n_steps)[:, None] % 4 == 3)
        lengths = rng.integers(n_steps // 2, n_steps + 1, size=batch)
        lengths[0] = n_steps
        mask = (np.arange(n_steps)[:, None] < lengths[None, :]).astype(float)
        out.append((x, mask))
    return out


def train_costs(model, batches, n_updates, lr=0.01):
    """Train ``model`` with cle.train (GradientClipping -> Adam -> WeightNorm, the legacy extensions)
    for ``n_updates`` updates cycling over ``batches``; returns the per-update costs."""
    from cle.backend import precision
    from cle.train.ext import GradientClipping, WeightNorm
    from cle.train.opt import Adam
    from cle.train.training import Training

    graph = model.training_graph()
    cost = graph.outputs["nll_upper_bound"]
    dtype = model.dtype
    data = [tuple(np.asarray(a, dtype=dtype) for a in (b if isinstance(b, tuple) else (b,))) for b in batches]
    data = (data * (n_updates // len(data) + 1))[:n_updates]
    with precision(dtype):  # the optimizer's shared values in the model's precision, as the trainer makes them
        training = Training("test", data, model.as_cle_model(), Adam(lr), cost, [cost],
                            extension=[GradientClipping(batch_size=data[0][0].shape[1], check_nan=1), WeightNorm()],
                            progress=False, backend=model.backend)
    training.run(max_updates=n_updates)
    return np.array([b[0] for b in training.trainlog.batches]), training


def float64_variables(fgraph):
    """The float64 tensor variables of a compiled function's graph, inner graphs (scan steps)
    included: a float32 graph should hold none (each one is a cast, a slower kernel, or in JAX
    a scan carry whose type changes between steps)."""
    from pytensor.tensor.type import TensorType

    found = [v for v in fgraph.variables if isinstance(v.type, TensorType) and v.type.dtype == "float64"]
    for node in fgraph.apply_nodes:
        inner = getattr(node.op, "fgraph", None)
        if inner is not None:
            found += float64_variables(inner)
    return found


def rnn_output_logits(model, x):
    """The output head's pre-activations (T, B, D) of a depth-1 RNN family model, in numpy.

    Before frame t the head sees h_{t-1} only: theta = relu(h @ W_s_tm1__theta_1 + b_theta_1),
    logits = theta @ W_theta_1__theta_mu + b_theta_mu; then the LSTM (legacy gate order
    [g | i | f | o]) reads relu(x_t @ W_x_t__x_1 + b_x_1).
    """
    P = {k: v.get_value() for k, v in model.params.items()}
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    n = model.config.rnn_dim
    h, c = np.zeros((x.shape[1], n)), np.zeros((x.shape[1], n))
    logits = []
    for x_t in x:
        theta = relu(h @ P["W_s_tm1__theta_1"] + P["b_theta_1"])
        logits.append(theta @ P["W_theta_1__theta_mu"] + P["b_theta_mu"])
        gates = relu(x_t @ P["W_x_t__x_1"] + P["b_x_1"]) @ P["W_x_1__rnn"] + h @ P["U_rnn__rnn"] + P["b_rnn"]
        g, i, f, o = (gates[:, k * n:(k + 1) * n] for k in range(4))
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
    return np.array(logits)
