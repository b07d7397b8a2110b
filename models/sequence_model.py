"""What every sequence model of the paper shares: parameters, inputs, TBPTT state, and the
graphs (training, monitoring, per-sequence evaluation, generation) assembled from family hooks.

A family (:mod:`~nips2015_vrnn.models.vrnn`, :mod:`~nips2015_vrnn.models.rnn`) subclasses
:class:`SequenceModel` and supplies:

- ``family``: the :class:`ModelConfig` family it builds ('vrnn' or 'rnn');
- ``latent_dim``: width of the per-step latent noise (``z_dim``; 0 without a latent variable);
- ``_forward(x, eps, s_0)``: the per-frame terms of one batch (dict with 's', 'recon', 'kl', the
  output heads and what the monitor reports);
- ``_log_weight_terms(terms, eps)``: per-frame ``log p(x_t, z_t | .) - log q(z_t | .)``;
- ``_particle_sequences(x)`` and ``_particle_step(*seq_t, eps_t, s_tm1)``: the same weight one
  frame at a time, for particle filters (families with a latent z);
- ``_generate_step(noise, s_tm1, bias)``: one ancestral-sampling step ``-> (x_t, s_t)``.

The numpy drivers (lower bound, importance sampling, generation) are in
:mod:`~nips2015_vrnn.models.estimators`; parameter files in :mod:`~nips2015_vrnn.models.params`.
"""
import copy
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt

from cle.backend import Backend, precision
from cle.utils.scan import scan
from nips2015_vrnn.models import params as param_io
from nips2015_vrnn.models.bounds import iwae_bound, particle_filter
from nips2015_vrnn.models.compiled import Graph, model_function_cache
from nips2015_vrnn.models.estimators import Estimators

__all__ = ["SequenceModel", "COST_CHANNELS"]

#: The cost outputs of the training and monitor graphs (the first is the training cost).
COST_CHANNELS = ("nll_upper_bound", "recon_term", "kl_term")
#: Statistics the monitor graph reports of these per-frame terms (when the family has them).
MONITORED_TERMS = ("phi_sig", "prior_sig", "theta_sig", "theta_mu")


class SequenceModel(Estimators):
    """Base of the VRNN and RNN models: layers, parameters, inputs, state and compiled functions.

    Parameters
    ----------
    config : ModelConfig
    layers : OrderedDict name -> layer (legacy order)
    dtype : {'float32', 'float64'} or None
        Precision of the parameters and of every graph (default: ``backend.floatX``).
    backend : cle.backend.Backend or None
        Compiles every graph of the model (default ``Backend()``: the C mode, float32, no store).

    Attributes
    ----------
    params : OrderedDict legacy name -> shared variable (legacy order)
    x : symbolic (T, B, x_dim) input; ``mask`` (T, B) for handwriting, else None
    step_count, rnn_tm1 : shared TBPTT state (number of training calls; last state (batch_size, 2n))
    train_rng, monitor_rng : shared numpy Generators of the training / monitoring noise
    """

    family = None
    latent_dim = 0

    def __init__(self, config, layers, dtype=None, backend=None):
        if config.family != self.family:
            raise ValueError(f"{type(self).__name__} needs config.family {self.family!r}; "
                             f"got {config.family!r}")
        self.config = config
        self.backend = backend or Backend()
        if dtype is not None:
            self.backend = self.backend.replace(floatX=dtype)
        self.dtype = self.backend.floatX
        self.layers = layers
        self.params = OrderedDict()
        with precision(self.dtype):
            for layer in layers.values():
                for name, value in layer.initialize().items():
                    value = np.asarray(value, dtype=self.dtype)
                    # Static shapes: fewer runtime shape checks, and the JAX backend needs them.
                    self.params[name] = pytensor.shared(value, name=name, shape=value.shape)
            self.x = pt.tensor3("x", dtype=self.dtype)
            self.mask = pt.matrix("mask", dtype=self.dtype) if config.has_mask else None
        #: (T, B) of every data and noise input of this model's graphs, or None (dynamic).
        self.static_shape = None
        self._static_copies = {}
        # int32: the same in every backend (JAX without x64 has no int64), so checkpoints match.
        self.step_count = pytensor.shared(np.int32(0), name="step_count")
        # IWAE / FIVO training carries the state of each of the K particles (rows k * B + b).
        rows = config.batch_size * (config.particles if config.bound != "elbo" else 1)
        self.rnn_tm1 = pytensor.shared(np.zeros((rows, config.state_dim), dtype=self.dtype), name="rnn_tm1")
        #: Updates trained so far, for KL annealing (only when ``config.kl_anneal_updates``).
        self.kl_step = (pytensor.shared(np.int32(0), name="kl_step") if config.kl_anneal_updates else None)
        self.train_rng = pytensor.shared(np.random.default_rng(config.seed), name="train_rng")
        self.monitor_rng = pytensor.shared(np.random.default_rng(config.seed + 1), name="monitor_rng")
        self._cache = model_function_cache(self, config.model_name)

    # ------------------------------------------------------------------ static shapes
    def static(self, n_steps, n_seq):
        """This model with static (n_steps, n_seq) inputs: graphs for backends that need them (JAX).

        The copy shares every parameter and state variable (and so updates, checkpoints and
        ``set_param_values`` act on both); only its inputs and compiled functions are its own.
        Built once per shape.
        """
        key = (int(n_steps), int(n_seq))
        if self.static_shape == key:
            return self
        if key not in self._static_copies:
            clone = copy.copy(self)
            clone.static_shape, clone._static_copies = key, {}
            with precision(self.dtype):
                clone.x = pt.tensor("x", dtype=self.dtype, shape=key + (self.config.x_dim,))
                clone.mask = None if self.mask is None else pt.tensor("mask", dtype=self.dtype, shape=key)
            clone._cache = model_function_cache(clone, f"{self.config.model_name}[{key[0]}x{key[1]}]")
            self._static_copies[key] = clone
        return self._static_copies[key]

    def shaped(self, n_steps, n_seq):
        """The model whose compiled functions run (n_steps, n_seq) inputs in the model's mode:
        :meth:`static` ``(n_steps, n_seq)`` where the backend needs static shapes (JAX), else
        this model (one compiled function for every shape).

        Compile what will run through here: a function of the dynamic model compiled in JAX mode
        is never called, and its unknown shapes leave broadcast checks JAX cannot keep.
        """
        return self.static(n_steps, n_seq) if self.backend.static_shapes else self

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

    # ------------------------------------------------------------------ layer helpers
    def _stack(self, names, first_inputs):
        """Output of the stack ``names``: the first layer on ``first_inputs``, each next on the previous."""
        out = self.layers[names[0]].fprop(first_inputs, self.params)
        for name in names[1:]:
            out = self.layers[name].fprop([out], self.params)
        return out

    def _heads(self, names, hidden):
        """OrderedDict head name -> the head layer on ``hidden``."""
        return OrderedDict((name, self.layers[name].fprop([hidden], self.params)) for name in names)

    def _rnn_input(self, x_feat):
        """The LSTM's input pre-activation from the x features, hoisted out of the scan:
        ``x_L @ W_x_L__rnn + b_rnn`` (T, B, 4n)."""
        rnn = self.layers["rnn"]
        return rnn.project_parents({self.x_names[-1]: x_feat}, self.params) + self.params[rnn.bias_name]

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
        return self._cache.graph(("train", eps_input), lambda: self._build_training_graph(eps_input))

    def _cost_outputs(self, terms):
        recon_term, kl_term = self._cost_terms(terms["recon"], terms["kl"])
        return OrderedDict(zip(COST_CHANNELS, (recon_term + kl_term, recon_term, kl_term)))

    def _build_training_graph(self, eps_input):
        if self.config.bound != "elbo":
            return self._build_bound_training_graph(eps_input)
        inputs, eps, updates = self._graph_noise(eps_input, self.train_rng)
        terms = self._forward(self.x, eps, self._initial_state(carry=True, batch=self.x.shape[1]))
        model_updates = OrderedDict()
        if self.config.reset_freq > 0:
            model_updates[self.step_count] = self.step_count + 1
            model_updates[self.rnn_tm1] = terms["s"][-1]
        model_updates.update(updates)
        outputs = self._cost_outputs(terms)
        if self.config.kl_anneal_updates or self.config.free_bits:
            outputs["training_cost"] = outputs["recon_term"] + self._kl_weight() * self._free_bits_kl(terms)
            if self.kl_step is not None:
                model_updates[self.kl_step] = self.kl_step + 1
        return Graph(inputs, outputs, model_updates)

    @property
    def training_noise_dim(self):
        """Width of the training graph's noise input ``eps`` (T, B, .) when it is an input: z_dim
        for the ELBO; ``K * (z_dim + 1)`` for IWAE and FIVO (per particle its z noise and one
        normal whose CDF is the uniform of its ancestor draw)."""
        if self.config.bound == "elbo":
            return self.latent_dim
        return self.config.particles * (self.latent_dim + 1)

    def _bound_noise(self, noise):
        """(T, B, K (z_dim + 1)) standard normals -> eps (T, K*B, z_dim) particle-major and the
        ancestors' uniforms u (T, K, B) = Phi(last K columns)."""
        K, Z = self.config.particles, self.latent_dim
        T, B = noise.shape[0], noise.shape[1]
        eps = noise[:, :, :K * Z].reshape((T, B, K, Z)).dimshuffle(0, 2, 1, 3).reshape((T, K * B, Z))
        u = 0.5 * (1.0 + pt.erf(noise[:, :, K * Z:] / np.sqrt(2.0)))
        return eps, u.dimshuffle(0, 2, 1)

    def _build_bound_training_graph(self, eps_input):
        """The IWAE or FIVO training cost (``config.bound``) with K = ``config.particles``.

        Outputs nll_upper_bound = ``-bound`` normalised by ``cost_norm`` (per frame: / T), also
        as ``training_cost``; recon_term and kl_term are the ELBO's terms averaged over the
        particles (IWAE; FIVO: the per-frame terms of the particles alive at each frame).
        Updates as :meth:`training_graph` (the carried state has K * batch_size rows).
        """
        K = self.config.particles
        inputs = list(self.data_inputs)
        updates = OrderedDict()
        width = self.training_noise_dim
        if eps_input:
            noise = pt.tensor("eps", dtype=self.dtype, shape=self.x.type.shape[:2] + (width,))
            inputs.append(noise)
        else:
            next_rng, noise = pt.random.normal(0.0, 1.0, size=(self.x.shape[0], self.x.shape[1], width),
                                               rng=self.train_rng, dtype=self.dtype, return_next_rng=True)
            updates[self.train_rng] = next_rng
        eps, u = self._bound_noise(noise)
        s_0 = self._initial_state(carry=True, batch=K * self.x.shape[1])
        mask = self.mask if self.mask is not None else pt.ones(self.x.shape[:2], dtype=self.dtype)
        tiled_mask = pt.tile(mask, (1, K))
        if self.config.bound == "iwae":  # the hoisted graph on K*B rows
            x_tiled = pt.tile(self.x, (1, K, 1))
            terms = self._forward(x_tiled, eps, s_0)
            log_w = (self._log_weight_terms(terms, eps) * tiled_mask).sum(axis=0).reshape((K, -1))
            bound, s_T = iwae_bound(log_w), terms["s"][-1]
            recon, kl = terms["recon"], terms["kl"]
        else:
            out = self._particle_filter(eps, u, s_0, K, self.config.resample)
            bound, s_T = out["log_p_hat"], out["s"]
            recon, kl = out["extras"]
        outputs = OrderedDict()
        if self.config.cost_norm == "frame_mean":
            outputs["nll_upper_bound"] = -bound.mean() / self.x.shape[0].astype(self.dtype)
            outputs["recon_term"], outputs["kl_term"] = recon.mean(), kl.mean()
        else:
            outputs["nll_upper_bound"] = -bound.mean()
            outputs["recon_term"] = (recon * tiled_mask).sum(axis=0).mean()
            outputs["kl_term"] = (kl * tiled_mask).sum(axis=0).mean()
        outputs["training_cost"] = outputs["nll_upper_bound"]
        if self.config.reset_freq > 0:
            updates[self.step_count] = self.step_count + 1
            updates[self.rnn_tm1] = s_T
        return Graph(inputs, outputs, updates)

    def _kl_weight(self):
        """beta = min(1, updates trained / kl_anneal_updates), or 1 without annealing."""
        if not self.config.kl_anneal_updates:
            return 1.0
        return pt.minimum(1.0, self.kl_step.astype(self.dtype) / self.config.kl_anneal_updates)

    def _free_bits_kl(self, terms):
        """The KL term of the training cost with free bits: each latent dimension's KL per frame,
        averaged over the batch's (unmasked) frames, floored at ``free_bits`` nats, summed over the
        dimensions, then scaled as ``cost_norm`` scales the KL term (so 0 gives the KL term)."""
        kl_term = self._cost_terms(terms["recon"], terms["kl"])[1]
        if not self.config.free_bits:
            return kl_term
        kl_dims = self._kl_dims(terms)  # (T, B, z_dim)
        mask = self.mask if (self.mask is not None and self.config.cost_norm == "sequence_sum") \
            else pt.ones_like(terms["kl"])
        frames = mask.sum()
        per_dim = (kl_dims * mask[:, :, None]).sum(axis=(0, 1)) / frames
        floored = pt.maximum(per_dim, self.config.free_bits).sum()
        if self.config.cost_norm == "frame_mean":
            return floored
        return floored * frames / self.x.shape[1].astype(self.dtype)

    def _graph_noise(self, eps_input, rng):
        """Inputs and noise of a graph: ``(inputs, eps or None, rng updates)``."""
        inputs = list(self.data_inputs)
        if not self.latent_dim:
            return inputs, None, OrderedDict()
        if eps_input:
            # As static as x (the JAX backend needs static shapes; x is usually dynamic).
            eps = pt.tensor("eps", dtype=self.dtype, shape=self.x.type.shape[:2] + (self.latent_dim,))
            return inputs + [eps], eps, OrderedDict()
        next_rng, eps = pt.random.normal(0.0, 1.0, size=(self.x.shape[0], self.x.shape[1], self.latent_dim),
                                         rng=rng, dtype=self.dtype, return_next_rng=True)
        return inputs, eps, OrderedDict([(rng, next_rng)])

    def monitor_graph(self, eps_input=False):
        """The monitoring channels (legacy names), the scan always starting from zeros.

        Outputs: nll_upper_bound, recon_term, kl_term, then max/mean/min of phi_sig, prior_sig
        (VRNN), theta_sig, theta_mu, (coeff for handwriting mixtures) and x.
        """
        return self._cache.graph(("monitor", eps_input), lambda: self._build_monitor_graph(eps_input))

    def _build_monitor_graph(self, eps_input):
        inputs, eps, updates = self._graph_noise(eps_input, self.monitor_rng)
        terms = self._forward(self.x, eps, self._initial_state(carry=False, batch=self.x.shape[1]))
        outputs = self._cost_outputs(terms)
        stats = [name for name in MONITORED_TERMS if name in terms]
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
        return self._cache.graph("sequence", self._build_sequence_graph)

    def _build_sequence_graph(self):
        inputs, eps, _ = self._graph_noise(True, None)
        terms = self._forward(self.x, eps, self._initial_state(carry=False, batch=self.x.shape[1]))
        mask = self.mask if self.mask is not None else pt.ones_like(terms["recon"])
        log_w = (self._log_weight_terms(terms, eps) * mask).sum(axis=0)
        bound = -((terms["recon"] + terms["kl"]) * mask).sum(axis=0)
        return Graph(inputs, OrderedDict([("log_w", log_w), ("bound", bound)]), OrderedDict())

    def particle_graph(self, n_particles, resample="ess"):
        """The FIVO estimate of each sequence with injected noise, s_0 = zeros (evaluation).

        Inputs ``[x(, mask), eps (T, K*B, z_dim), u (T, K, B)]``: particle-major noise (row
        ``k * B + b``) and the uniforms of the ancestor draws. Outputs ``log_p_hat`` (B,)
        (:func:`~nips2015_vrnn.models.bounds.particle_filter`; ``resample='never'``: the IWAE
        bound) and ``resampled`` (B,), the frames at which each sequence's particles were resampled.
        """
        key = ("particles", int(n_particles), resample)
        return self._cache.graph(key, lambda: self._build_particle_graph(int(n_particles), resample))

    def _particle_noise_inputs(self, n_particles):
        T, B = self.x.type.shape[:2]
        rows = None if B is None else n_particles * B
        eps = pt.tensor("eps", dtype=self.dtype, shape=(T, rows, self.latent_dim))
        u = pt.tensor("u", dtype=self.dtype, shape=(T, n_particles, B))
        return eps, u

    def _particle_filter(self, eps, u, s_0, n_particles, resample):
        """:func:`~nips2015_vrnn.models.bounds.particle_filter` of this model's
        :meth:`_particle_step` on ``self.x``: the per-frame inputs computed for B rows and tiled
        K times (particle-major)."""
        seqs = [pt.tile(v, (1, n_particles, 1)) for v in self._particle_sequences(self.x)]
        return particle_filter(self._particle_step, seqs + [eps], s_0, n_particles, u, mask=self.mask,
                               resample=resample, name=f"{self.family}_particles", n_extras=2)

    def _build_particle_graph(self, n_particles, resample):
        eps, u = self._particle_noise_inputs(n_particles)
        s_0 = self._initial_state(carry=False, batch=n_particles * self.x.shape[1])
        out = self._particle_filter(eps, u, s_0, n_particles, resample)
        outputs = OrderedDict([("log_p_hat", out["log_p_hat"]), ("resampled", out["resampled"].sum(axis=0))])
        return Graph(self.data_inputs + [eps, u], outputs, OrderedDict())

    def generate_graph(self):
        """Generation with injected noise: inputs are the noise tensors (n, B, ...) of
        :meth:`generation_noise_layout`, then the sampling bias ``bias`` (a scalar, see
        :func:`~nips2015_vrnn.models.outputs.biased_heads`; 0: the model's own distribution);
        output ``x`` (n, B, x_dim); s_0 = zeros. The bias is an input so that one compiled
        generator serves every bias."""
        return self._cache.graph("generate", self._build_generate_graph)

    def _build_generate_graph(self):
        layout = self.generation_noise_layout()
        lead = self.static_shape or (None, None)
        noise = OrderedDict((name, pt.tensor(name, dtype=self.dtype, shape=tuple(lead) + tuple(shape)))
                            for name, (shape, _) in layout.items())
        bias = pt.scalar("bias", dtype=self.dtype)
        names = list(noise)
        first = next(iter(noise.values()))
        s_0 = self._initial_state(carry=False, batch=first.shape[1])

        def step(*args):
            return self._generate_step(OrderedDict(zip(names, args[:-1])), args[-1], bias)

        x, _ = scan(step, sequences=list(noise.values()), outputs_info=[None, s_0],
                    name=f"{self.family}_generate")
        return Graph(list(noise.values()) + [bias], OrderedDict([("x", x)]), OrderedDict())

    # ------------------------------------------------------------------ compiled functions
    def cost_fn(self, eps_input=False):
        """Compiled training cost (no gradient step) with the TBPTT / noise updates.

        Call ``fn(x[, mask][, eps])`` -> [nll_upper_bound, recon_term, kl_term].
        """
        return self._cache.function(("cost", eps_input), lambda: self.training_graph(eps_input))

    def grad_fn(self, eps_input=True):
        """Compiled ``[nll_upper_bound, recon_term, kl_term, d cost / d p for p in params]``, no updates.

        The initial state follows the TBPTT switch on the current ``step_count`` / ``rnn_tm1``.
        """
        def build():
            graph = self.training_graph(eps_input)
            grads = pytensor.grad(graph.outputs["nll_upper_bound"], list(self.params.values()))
            outputs = OrderedDict(graph.outputs)
            outputs.update((f"grad__{name}", g) for name, g in zip(self.params, grads))
            return Graph(graph.inputs, outputs, OrderedDict())
        return self._cache.function(("grad", eps_input), build)

    def monitor_fn(self, eps_input=False):
        """Compiled monitor: ``fn(x[, mask][, eps])`` -> channel values (names in ``fn.output_names``)."""
        return self._cache.function(("monitor", eps_input), lambda: self.monitor_graph(eps_input))

    def sequence_fn(self):
        """Compiled :meth:`sequence_graph`: ``fn(x[, mask][, eps])`` -> [log_w (B,), bound (B,)]."""
        return self._cache.function("sequence", self.sequence_graph)

    def particle_fn(self, n_particles, resample="ess"):
        """Compiled :meth:`particle_graph`: ``fn(x[, mask], eps, u)`` -> [log_p_hat (B,), resampled (B,)]."""
        return self._cache.function(("particles", int(n_particles), resample),
                                    lambda: self.particle_graph(n_particles, resample))

    def generate_fn(self):
        """Compiled :meth:`generate_graph`: ``fn(*noise, bias)`` -> [x (n, B, x_dim)]."""
        return self._cache.function("generate", self.generate_graph)

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
        self.step_count.set_value(np.int32(0))
        self.rnn_tm1.set_value(np.zeros_like(self.rnn_tm1.get_value()))

    # ------------------------------------------------------------------ family hooks
    def _forward(self, x, eps, s_0):
        """Symbolic per-frame terms of one batch (dict with 's', 'recon', 'kl', heads ...)."""
        raise NotImplementedError

    def _log_weight_terms(self, terms, eps):
        """Per-frame log p(x_t, z_t | ...) - log q(z_t | ...) (T, B)."""
        raise NotImplementedError

    def _kl_dims(self, terms):
        """Per-frame KL of each latent dimension (T, B, z_dim) (families with a latent z)."""
        raise NotImplementedError

    def _particle_sequences(self, x):
        """Per-frame inputs (T, B, ...) of :meth:`_particle_step` (families with a latent z)."""
        raise NotImplementedError

    def _particle_step(self, *args):
        """``(*seq_t, eps_t, s_tm1) -> (s_t, log p(x_t, z_t | .) - log q(z_t | .), recon_t, kl_t)``,
        each per-frame value (rows,)."""
        raise NotImplementedError

    def _generate_step(self, noise, s_tm1, bias):
        """One generation step: noise name -> (B, ...) tensors, s_{t-1} and the sampling bias
        (a scalar) -> (x_t, s_t)."""
        raise NotImplementedError
