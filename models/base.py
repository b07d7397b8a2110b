"""What every sequence model of the paper shares: parameters, TBPTT state, compiled-function cache,
parameter I/O, and the numpy drivers of evaluation (lower bound, importance sampling) and generation.

A family (:mod:`~nips2015_vrnn.models.vrnn`, :mod:`~nips2015_vrnn.models.rnn`) supplies the
symbolic pieces: ``_forward`` (the per-frame terms of one batch), ``_monitor_channels``,
``_sequence_terms`` (per-sequence log-weights) and ``_generate_graph``.

Units (the paper's Table 1): every per-sequence number returned here — :meth:`lower_bound`,
:meth:`importance_sampled_loglik` — is a log-likelihood in nats of ONE whole sequence: the SUM
over its frames of the per-frame terms (speech: one row of 8000 normalised samples = 40 frames of
200; handwriting: one line = its unmasked timesteps). Averaging these over the test set gives the
paper's "average log-likelihood per sequence". The training cost is normalised differently
(per frame for speech, per sequence for handwriting; see ``cost_norm``).
"""
import logging
import time
from collections import OrderedDict, namedtuple

import numpy as np
import pytensor
import pytensor.tensor as pt

from cle import backend
from cle.backend import precision
from nips2015_vrnn.models import params as param_io
from nips2015_vrnn.models.outputs import sample_noise_shapes

log = logging.getLogger(__name__)

__all__ = ["SequenceModel", "CompiledFunction", "Graph", "logmeanexp"]

#: A symbolic graph ready to compile: its inputs, named outputs and shared-variable updates.
Graph = namedtuple("Graph", ["inputs", "outputs", "updates"])

#: Default number of columns (sequence copies) evaluated per call of the importance sampler:
#: bounds memory for long sequences and large S.
IS_COLUMNS_PER_CALL = 400


def logmeanexp(log_w, axis=-1):
    """``log(mean(exp(log_w)))`` along ``axis`` in float64, stable (the max is subtracted).

    >>> float(np.round(logmeanexp(np.log([1.0, 3.0])), 12)) == float(np.round(np.log(2.0), 12))
    True
    """
    log_w = np.asarray(log_w, dtype=np.float64)
    top = np.max(log_w, axis=axis, keepdims=True)
    out = np.log(np.mean(np.exp(log_w - top), axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis)


class CompiledFunction:
    """A compiled PyTensor function with the names of its outputs.

    Calling it returns the list of output values (as ``pytensor.function`` does);
    :meth:`named` returns them as an OrderedDict name -> value. ``fn`` is the PyTensor function.
    """

    def __init__(self, fn, output_names):
        self.fn = fn
        self.output_names = output_names

    def __call__(self, *args):
        return self.fn(*args)

    def named(self, *args):
        """The outputs as an OrderedDict name -> value."""
        return OrderedDict(zip(self.output_names, self.fn(*args)))


class SequenceModel:
    """Base of the VRNN and RNN models: holds layers, parameters, inputs, state and compiled functions.

    Parameters
    ----------
    config : ModelConfig
    layers : OrderedDict name -> layer (legacy order)

    Attributes
    ----------
    params : OrderedDict legacy name -> shared variable (legacy order)
    x : symbolic (T, B, x_dim) input; ``mask`` (T, B) for handwriting, else None
    step_count, rnn_tm1 : shared TBPTT state (number of training calls; last state (batch_size, 2n))
    train_rng, monitor_rng : shared numpy Generators of the training / monitoring noise
    """

    family = None

    def __init__(self, config, layers):
        if config.family != self.family:
            raise ValueError(f"{type(self).__name__} needs config.family {self.family!r}; "
                             f"got {config.family!r}")
        self.config = config
        self.dtype = backend.floatX()
        self.layers = layers
        self.params = OrderedDict()
        for layer in layers.values():
            for name, value in layer.initialize().items():
                value = np.asarray(value, dtype=self.dtype)
                # Static shapes: fewer runtime shape checks, and the JAX backend needs them.
                self.params[name] = pytensor.shared(value, name=name, shape=value.shape)
        self.x = pt.tensor3("x", dtype=self.dtype)
        self.mask = pt.matrix("mask", dtype=self.dtype) if config.has_mask else None
        self.step_count = pytensor.shared(np.int64(0), name="step_count")
        self.rnn_tm1 = pytensor.shared(np.zeros((config.batch_size, config.state_dim), dtype=self.dtype),
                                       name="rnn_tm1")
        self.train_rng = pytensor.shared(np.random.default_rng(config.seed), name="train_rng")
        self.monitor_rng = pytensor.shared(np.random.default_rng(config.seed + 1), name="monitor_rng")
        self._graphs = {}
        self._functions = {}

    # ------------------------------------------------------------------ small helpers
    def __repr__(self):
        return f"{type(self).__name__}({self.config.model_name}, {self.n_params()} parameters, {self.dtype})"

    @property
    def data_inputs(self):
        """The data inputs of every graph: ``[x]`` or ``[x, mask]``."""
        return [self.x] if self.mask is None else [self.x, self.mask]

    def n_params(self):
        """Number of scalar parameters."""
        return int(sum(p.get_value(borrow=True).size for p in self.params.values()))

    def param_names(self):
        """Legacy parameter names in legacy order."""
        return list(self.params)

    def _cached_graph(self, key, build):
        if key not in self._graphs:
            with precision(self.dtype):
                self._graphs[key] = build()
        return self._graphs[key]

    def _compile(self, key, graph_fn):
        """Compile (once per model) the Graph returned by ``graph_fn``; outputs in order."""
        if key not in self._functions:
            graph = graph_fn()
            start = time.perf_counter()
            for name, var in graph.outputs.items():
                if var.name is None:
                    var.name = name
            with precision(self.dtype):
                fn = backend.function(graph.inputs, list(graph.outputs.values()), updates=graph.updates,
                                      name=f"{self.config.model_name}:{key}")
            log.info("compiled %s %s in %.1f s", self.config.model_name, key, time.perf_counter() - start)
            self._functions[key] = CompiledFunction(fn, list(graph.outputs))
        return self._functions[key]

    def _initial_state(self, carry, batch):
        """s_0 (B, 2n): zeros, or (with carry) the TBPTT switch on ``step_count``.

        ``s_0 = switch(step_count % reset_freq == 0, zeros, rnn_tm1)``: with carry the batch
        must have ``config.batch_size`` rows (the shape of ``rnn_tm1``).
        """
        if carry and self.config.reset_freq > 0:
            reset = pt.eq(self.step_count % self.config.reset_freq, 0)
            return pt.switch(reset, pt.zeros_like(self.rnn_tm1), self.rnn_tm1)
        return pt.zeros((batch, self.config.state_dim), dtype=self.dtype)

    def _cost_terms(self, recon, kl):
        """``(recon_term, kl_term)`` from per-frame (T, B) terms by ``config.cost_norm``.

        frame_mean: mean over all (t, b). sequence_sum: ``sum_t mask * term``, mean over b.
        """
        if self.config.cost_norm == "frame_mean":
            return recon.mean(), kl.mean()
        mask = self.mask if self.mask is not None else pt.ones_like(recon)
        return (recon * mask).sum(axis=0).mean(), (kl * mask).sum(axis=0).mean()

    def _noise(self, rng, shape):
        next_rng, eps = pt.random.normal(0.0, 1.0, size=shape, rng=rng, dtype=self.dtype, return_next_rng=True)
        return eps, next_rng

    # ------------------------------------------------------------------ layer helpers
    def _stack(self, names, first_inputs):
        """Output of the stack ``names``: the first layer on ``first_inputs``, each next on the previous."""
        out = self.layers[names[0]].fprop(first_inputs, self.params)
        for name in names[1:]:
            out = self.layers[name].fprop([out], self.params)
        return out

    def _finish(self, name, preact):
        """``unit(preact + b) + cons`` of layer ``name`` (its weighted sum computed by the caller)."""
        layer = self.layers[name]
        out = layer.nonlin(preact + self.params[layer.bias_name])
        return out + float(layer.cons) if layer.cons != 0 else out

    def _weight(self, layer, parent):
        return self.params[self.layers[layer].weight_name(parent)]

    # ------------------------------------------------------------------ graphs
    def training_graph(self, eps_input=False):
        """The training cost with the model's shared updates (TBPTT state, noise generator).

        Parameters
        ----------
        eps_input : bool
            True: the noise (T, B, z_dim) is an extra input ``eps`` (exact, repeatable);
            False: drawn for the whole batch from ``train_rng`` before the scan.

        Returns
        -------
        Graph: inputs ``[x(, mask)(, eps)]``; outputs nll_upper_bound, recon_term, kl_term;
        updates ``step_count + 1``, ``rnn_tm1 = s[-1]`` (when ``reset_freq > 0``) and the generator.
        """
        return self._cached_graph(("train", eps_input), lambda: self._build_training_graph(eps_input))

    def _build_training_graph(self, eps_input):
        inputs, eps, updates = self._graph_noise(eps_input, self.train_rng)
        s_0 = self._initial_state(carry=True, batch=self.x.shape[1])
        terms = self._forward(self.x, eps, s_0)
        recon_term, kl_term = self._cost_terms(terms["recon"], terms["kl"])
        outputs = OrderedDict([("nll_upper_bound", recon_term + kl_term), ("recon_term", recon_term),
                               ("kl_term", kl_term)])
        model_updates = OrderedDict()
        if self.config.reset_freq > 0:
            model_updates[self.step_count] = self.step_count + 1
            model_updates[self.rnn_tm1] = terms["s"][-1]
        model_updates.update(updates)
        return Graph(inputs, outputs, model_updates)

    def _graph_noise(self, eps_input, rng):
        """Inputs and noise of a graph: ``(inputs, eps or None, rng updates)``."""
        inputs = list(self.data_inputs)
        if self.family != "vrnn":
            return inputs, None, OrderedDict()
        if eps_input:
            # As static as x (the JAX backend needs static shapes; x is usually dynamic).
            eps = pt.tensor("eps", dtype=self.dtype, shape=self.x.type.shape[:2] + (self.config.z_dim,))
            return inputs + [eps], eps, OrderedDict()
        eps, next_rng = self._noise(rng, (self.x.shape[0], self.x.shape[1], self.config.z_dim))
        return inputs, eps, OrderedDict([(rng, next_rng)])

    def monitor_graph(self, eps_input=False):
        """The monitoring channels (legacy names), the scan always starting from zeros.

        Outputs: nll_upper_bound, recon_term, kl_term, then max/mean/min of phi_sig, prior_sig
        (VRNN), theta_sig, theta_mu, (coeff for handwriting mixtures) and x.
        """
        return self._cached_graph(("monitor", eps_input), lambda: self._build_monitor_graph(eps_input))

    def _build_monitor_graph(self, eps_input):
        inputs, eps, updates = self._graph_noise(eps_input, self.monitor_rng)
        terms = self._forward(self.x, eps, self._initial_state(carry=False, batch=self.x.shape[1]))
        recon_term, kl_term = self._cost_terms(terms["recon"], terms["kl"])
        outputs = OrderedDict([("nll_upper_bound", recon_term + kl_term), ("recon_term", recon_term),
                               ("kl_term", kl_term)])
        stats = [name for name in ("phi_sig", "prior_sig", "theta_sig", "theta_mu") if name in terms]
        if self.config.data == "handwriting" and "coeff" in terms:
            stats.append("coeff")
        for name in stats + ["x"]:
            value = self.x if name == "x" else terms[name]
            outputs[f"max_{name}"] = value.max()
            outputs[f"mean_{name}"] = value.mean()
            outputs[f"min_{name}"] = value.min()
        return Graph(inputs, outputs, updates)

    def sequence_graph(self):
        """Per-sequence terms with injected noise and s_0 = zeros (evaluation).

        Outputs ``log_w`` (B,) = log p(x, z) - log q(z | x) summed over the unmasked frames of
        each sequence (RNN: log p(x), exact) and ``bound`` (B,) = -sum_t (recon_t + KL_t), the
        variational lower bound with the analytic KL (RNN: log p(x)).
        """
        return self._cached_graph("sequence", self._build_sequence_graph)

    def _build_sequence_graph(self):
        inputs, eps, _ = self._graph_noise(True, None)
        terms = self._forward(self.x, eps, self._initial_state(carry=False, batch=self.x.shape[1]))
        mask = self.mask if self.mask is not None else pt.ones_like(terms["recon"])
        log_w = (self._log_weight_terms(terms, eps) * mask).sum(axis=0)
        bound = -((terms["recon"] + terms["kl"]) * mask).sum(axis=0)
        return Graph(inputs, OrderedDict([("log_w", log_w), ("bound", bound)]), OrderedDict())

    def generate_graph(self):
        """Generation from the prior with injected noise: inputs are the noise tensors (n, B, ...),
        output ``x`` (n, B, x_dim)."""
        return self._cached_graph("generate", self._build_generate_graph)

    # ------------------------------------------------------------------ compiled functions
    def cost_fn(self, eps_input=False):
        """Compiled training cost (no gradient step) with the TBPTT / noise updates.

        Call ``fn(x[, mask][, eps])`` -> [nll_upper_bound, recon_term, kl_term].
        """
        return self._compile(("cost", eps_input), lambda: self.training_graph(eps_input))

    def grad_fn(self, eps_input=True):
        """Compiled ``[nll_upper_bound, recon_term, kl_term, d cost / d p for p in params]``, no updates.

        The initial state follows the TBPTT switch on the current ``step_count`` / ``rnn_tm1``.
        """
        def build():
            graph = self.training_graph(eps_input)
            cost = graph.outputs["nll_upper_bound"]
            with precision(self.dtype):
                grads = pytensor.grad(cost, list(self.params.values()))
            outputs = OrderedDict(graph.outputs)
            outputs.update((f"grad__{name}", g) for name, g in zip(self.params, grads))
            return Graph(graph.inputs, outputs, OrderedDict())
        return self._compile(("grad", eps_input), build)

    def monitor_fn(self, eps_input=False):
        """Compiled monitor: ``fn(x[, mask][, eps])`` -> channel values (names in ``fn.output_names``)."""
        return self._compile(("monitor", eps_input), lambda: self.monitor_graph(eps_input))

    def sequence_fn(self):
        """Compiled :meth:`sequence_graph`: ``fn(x[, mask][, eps])`` -> [log_w (B,), bound (B,)]."""
        return self._compile("sequence", self.sequence_graph)

    def generate_fn(self):
        """Compiled :meth:`generate_graph`: ``fn(*noise)`` -> [x (n, B, x_dim)]."""
        return self._compile("generate", self.generate_graph)

    def as_cle_model(self, eps_input=False):
        """A :class:`cle.models.Model` for :class:`cle.train.Training`: inputs, params, nodes and
        the shared updates of :meth:`training_graph` (whose cost is ``outputs['nll_upper_bound']``)."""
        from cle.models import Model

        graph = self.training_graph(eps_input)
        return Model(inputs=graph.inputs, params=self.params, nodes=list(self.layers.values()),
                     updates=graph.updates)

    # ------------------------------------------------------------------ parameters in / out
    def get_param_values(self):
        """OrderedDict legacy name -> copy of the current value."""
        return OrderedDict((name, p.get_value()) for name, p in self.params.items())

    def set_param_values(self, values, cast=False):
        """Set every parameter from ``values`` (name -> array); mismatches raise one ValueError."""
        param_io.set_param_values(values, self.params, cast=cast)

    def save_params(self, path):
        """Save the parameters to the ``.npz`` ``path`` keyed by legacy name."""
        param_io.save_params(path, self.params)

    def load_params(self, path, cast=False):
        """Load a ``.npz`` keyed by legacy name (names, shapes, dtypes checked; ``cast`` converts dtypes)."""
        param_io.load_params(path, self.params, cast=cast)

    def reset_state(self):
        """Forget the TBPTT state: ``step_count = 0`` and ``rnn_tm1 = 0``."""
        self.step_count.set_value(np.int64(0))
        self.rnn_tm1.set_value(np.zeros_like(self.rnn_tm1.get_value()))

    # ------------------------------------------------------------------ numpy drivers
    def _data_args(self, x, mask, columns=None):
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 3 or x.shape[2] != self.config.x_dim:
            raise ValueError(f"x must be (T, N, {self.config.x_dim}); got shape {x.shape}")
        if self.mask is None:
            if mask is not None:
                raise ValueError(f"{self.config.model_name} on {self.config.data} takes no mask")
            return [x]
        if mask is None:
            mask = np.ones(x.shape[:2], dtype=self.dtype)
        mask = np.asarray(mask, dtype=self.dtype)
        if mask.shape != x.shape[:2]:
            raise ValueError(f"mask must be (T, N) = {x.shape[:2]}; got {mask.shape}")
        return [x, mask]

    def _eps(self, rng, n_steps, n_columns):
        if self.family != "vrnn":
            return []
        return [rng.standard_normal((n_steps, n_columns, self.config.z_dim)).astype(self.dtype)]

    def lower_bound(self, x, mask=None, seed=0, batch_size=None):
        """Per-sequence variational lower bound (nats), one z sample per sequence.

        ``L(x) = sum_t [ log p(x_t | z_<=t, x_<t) - KL(q(z_t | x_<=t, z_<t) || p(z_t | x_<t, z_<t)) ]``
        (masked frames excluded). RNN family: exactly ``log p(x)``.

        Parameters
        ----------
        x : ndarray (T, N, x_dim)
        mask : ndarray (T, N), handwriting only (default all ones)
        seed : int
            Seed of the z noise.
        batch_size : int, optional
            Sequences per call (default ``config.m_batch_size``).

        Returns
        -------
        ndarray (N,) float64: the lower bound of each sequence (average it for the paper's "≥").
        """
        args = self._data_args(x, mask)
        fn = self.sequence_fn()
        rng = np.random.default_rng(seed)
        n_seq = args[0].shape[1]
        batch_size = batch_size or self.config.m_batch_size
        out = np.empty(n_seq)
        for start in range(0, n_seq, batch_size):
            chunk = [a[:, start:start + batch_size] for a in args]
            eps = self._eps(rng, chunk[0].shape[0], chunk[0].shape[1])
            out[start:start + chunk[0].shape[1]] = fn(*chunk, *eps)[1]
        return out

    def importance_sampled_loglik(self, x, mask=None, n_samples=40, seed=0, max_columns=IS_COLUMNS_PER_CALL,
                                  return_log_weights=False):
        """Importance-sampled log-likelihood of each sequence (nats), the paper's "≈" numbers.

        ``log p(x) ≈ log (1/S) sum_s p(x, z^s) / q(z^s | x)``, z^s ~ q(z | x) (the encoder, drawn
        step by step as in training), S = ``n_samples`` (40 in the paper). Each sequence is copied
        into up to ``max_columns`` batch columns per call (chunks of sequences and/or of samples,
        so memory stays bounded); the S log-weights are combined in float64 with a stable
        log-mean-exp. For the RNN family it returns the exact ``log p(x)``.

        Parameters
        ----------
        x : ndarray (T, N, x_dim)
        mask : ndarray (T, N), handwriting only
        n_samples : int, >= 1
        seed : int
        max_columns : int
            Most sequence copies evaluated in one call (memory ~ T * max_columns * widths).
        return_log_weights : bool
            Also return the (N, S) log-weights.

        Returns
        -------
        ndarray (N,) float64 (and the (N, S) log-weights when asked)
        """
        if n_samples < 1 or max_columns < 1:
            raise ValueError(f"need n_samples >= 1 and max_columns >= 1; got {n_samples}, {max_columns}")
        args = self._data_args(x, mask)
        if self.family != "vrnn":
            exact = self.lower_bound(x, mask)
            return (exact, exact[:, None]) if return_log_weights else exact
        fn = self.sequence_fn()
        rng = np.random.default_rng(seed)
        n_steps, n_seq = args[0].shape[:2]
        log_w = np.empty((n_seq, n_samples))
        samples_per_call = min(n_samples, max_columns)
        seqs_per_call = max(1, max_columns // samples_per_call)
        for seq_start in range(0, n_seq, seqs_per_call):
            seqs = slice(seq_start, min(seq_start + seqs_per_call, n_seq))
            n_here = seqs.stop - seqs.start
            for s_start in range(0, n_samples, samples_per_call):
                n_s = min(samples_per_call, n_samples - s_start)
                # Column order is sequence-major: column j = b * n_s + s.
                chunk = [np.repeat(a[:, seqs], n_s, axis=1) for a in args]
                eps = self._eps(rng, n_steps, n_here * n_s)
                values = fn(*chunk, *eps)[0]
                log_w[seqs, s_start:s_start + n_s] = np.asarray(values, dtype=np.float64).reshape(n_here, n_s)
        estimate = logmeanexp(log_w, axis=1)
        return (estimate, log_w) if return_log_weights else estimate

    def generate(self, n_steps, n_sequences=1, seed=0, sample_output=None):
        """Sequences generated from the model (the prior for VRNNs), s_0 = zeros.

        Parameters
        ----------
        n_steps : int
            Frames per sequence (speech: 40 frames = 8000 samples).
        n_sequences : int
        seed : int
            All noise is drawn from ``np.random.default_rng(seed)``: same seed, same sequences.
        sample_output : {'sample', 'mean'}, optional
            'sample' draws each frame from the output distribution; 'mean' emits the mean of the
            drawn mixture component (no output noise; the pen bit is still drawn). Default
            ``config.sample_output``.

        Returns
        -------
        ndarray (n_steps, n_sequences, x_dim); handwriting frames are [pen, dx, dy], pen in {0, 1}
        """
        if n_steps < 1 or n_sequences < 1:
            raise ValueError(f"need n_steps >= 1 and n_sequences >= 1; got {n_steps}, {n_sequences}")
        sample_output = sample_output or self.config.sample_output
        if sample_output not in ("sample", "mean"):
            raise ValueError(f"sample_output must be 'sample' or 'mean'; got {sample_output!r}")
        rng = np.random.default_rng(seed)
        noise = self._generation_noise(rng, n_steps, n_sequences)
        if sample_output == "mean":
            noise["eps_x"] = np.zeros_like(noise["eps_x"])
        fn = self.generate_fn()
        return fn(*noise.values())[0]

    def _generation_noise(self, rng, n_steps, n_sequences):
        """OrderedDict noise name -> array (n_steps, n_sequences, ...) in graph-input order."""
        noise = OrderedDict()
        if self.family == "vrnn":
            noise["eps_z"] = rng.standard_normal((n_steps, n_sequences, self.config.z_dim))
        for name, (shape, kind) in sample_noise_shapes(self.config.output, self.config.x_dim).items():
            size = (n_steps, n_sequences) + shape
            noise[name] = rng.standard_normal(size) if kind == "normal" else rng.uniform(size=size)
        return OrderedDict((k, v.astype(self.dtype)) for k, v in noise.items())

    def _generation_inputs(self):
        """Symbolic noise inputs of the generation graph, matching :meth:`_generation_noise`."""
        inputs = OrderedDict()
        if self.family == "vrnn":
            inputs["eps_z"] = pt.tensor3("eps_z", dtype=self.dtype)
        for name, (shape, _) in sample_noise_shapes(self.config.output, self.config.x_dim).items():
            inputs[name] = pt.tensor(name, dtype=self.dtype, shape=(None,) * (2 + len(shape)))
        return inputs

    # ------------------------------------------------------------------ family hooks
    def _forward(self, x, eps, s_0):
        """Symbolic per-frame terms of one batch (dict with 's', 'recon', 'kl', heads ...)."""
        raise NotImplementedError

    def _log_weight_terms(self, terms, eps):
        """Per-frame log p(x_t, z_t | ...) - log q(z_t | ...) (T, B)."""
        raise NotImplementedError

    def _build_generate_graph(self):
        raise NotImplementedError
