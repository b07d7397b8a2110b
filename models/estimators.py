"""The numpy drivers of a trained model: per-sequence lower bound, importance-sampled
log-likelihood (the paper's Table 1 numbers) and generation, over compiled graphs.

Units (the paper's Table 1): every per-sequence number returned here is a log-likelihood in nats
of ONE whole sequence: the SUM over its frames of the per-frame terms (speech: one row of 8000
normalised samples = 40 frames of 200; handwriting: one line = its unmasked timesteps). Averaging
these over the test set gives the paper's "average log-likelihood per sequence". The training
cost is normalised differently (per frame for speech, per sequence for handwriting; see
``cost_norm``).

:class:`Estimators` is a mixin of :class:`~nips2015_vrnn.models.sequence_model.SequenceModel`;
it needs the model's ``sequence_fn()``, ``generate_fn()``, ``latent_dim`` and noise layout.

Example
-------
>>> float(np.round(logmeanexp(np.log([1.0, 3.0])), 12)) == float(np.round(np.log(2.0), 12))
True
"""
from collections import OrderedDict

import numpy as np

from nips2015_vrnn.models.outputs import check_bias, sample_noise_shapes

__all__ = ["Estimators", "logmeanexp", "IS_COLUMNS_PER_CALL"]

#: Default number of columns (sequence copies) evaluated per call of the importance sampler:
#: bounds memory for long sequences and large S.
IS_COLUMNS_PER_CALL = 400


def logmeanexp(log_w, axis=-1):
    """``log(mean(exp(log_w)))`` along ``axis`` in float64, stable (the max is subtracted)."""
    log_w = np.asarray(log_w, dtype=np.float64)
    top = np.max(log_w, axis=axis, keepdims=True)
    out = np.log(np.mean(np.exp(log_w - top), axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis)


def _pad_columns(a, n_columns):
    """``a`` (T, N, ...) zero-padded along axis 1 to ``n_columns`` columns."""
    extra = n_columns - a.shape[1]
    if extra <= 0:
        return a
    return np.concatenate([a, np.zeros((a.shape[0], extra) + a.shape[2:], dtype=a.dtype)], axis=1)


class Estimators:
    """Lower bound, importance sampling and generation in numpy around the compiled graphs."""

    def _data_args(self, x, mask):
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

    def _sequence_call(self, chunk, eps, n_columns):
        """``sequence_fn()(*chunk, *eps)`` as float64 [log_w, bound] of the chunk's columns.

        In a backend with static shapes (JAX) the chunk is zero-padded to ``n_columns`` columns
        (mask 0, noise 0; the padded outputs are dropped), so one compiled shape serves every
        chunk including the last.
        """
        n_here = chunk[0].shape[1]
        if not self.backend.static_shapes:
            return [np.asarray(v, dtype=np.float64) for v in self.sequence_fn()(*chunk, *eps)]
        padded = [_pad_columns(a, n_columns) for a in list(chunk) + list(eps)]
        fn = self.shaped(chunk[0].shape[0], n_columns).sequence_fn()
        return [np.asarray(v, dtype=np.float64)[:n_here] for v in fn(*padded)]

    def _eps(self, rng, n_steps, n_columns):
        """The latent noise inputs of the sequence graph: ``[(T, N, z_dim)]``, or [] without z."""
        if not self.latent_dim:
            return []
        return [rng.standard_normal((n_steps, n_columns, self.latent_dim)).astype(self.dtype)]

    def lower_bound(self, x, mask=None, seed=0, batch_size=None):
        """Per-sequence variational lower bound (nats), one z sample per sequence.

        ``L(x) = sum_t [ log p(x_t | z_<=t, x_<t) - KL(q(z_t | x_<=t, z_<t) || p(z_t | x_<t, z_<t)) ]``
        (masked frames excluded). RNN family: exactly ``log p(x)``.

        Parameters
        ----------
        x : ndarray (T, N, x_dim)
        mask : ndarray (T, N), masked data kinds only (default all ones)
        seed : int
            Seed of the z noise.
        batch_size : int, optional
            Sequences per call (default ``config.m_batch_size``).

        Returns
        -------
        ndarray (N,) float64: the lower bound of each sequence (average it for the paper's "≥").
        """
        args = self._data_args(x, mask)
        rng = np.random.default_rng(seed)
        n_seq = args[0].shape[1]
        batch_size = batch_size or self.config.m_batch_size
        out = np.empty(n_seq)
        for start in range(0, n_seq, batch_size):
            chunk = [a[:, start:start + batch_size] for a in args]
            eps = self._eps(rng, chunk[0].shape[0], chunk[0].shape[1])
            out[start:start + chunk[0].shape[1]] = self._sequence_call(chunk, eps, batch_size)[1]
        return out

    def importance_sampled_loglik(self, x, mask=None, n_samples=40, seed=0, max_columns=IS_COLUMNS_PER_CALL,
                                  return_log_weights=False):
        """Importance-sampled log-likelihood of each sequence (nats), the paper's "≈" numbers.

        ``log p(x) ≈ log (1/S) sum_s p(x, z^s) / q(z^s | x)``, z^s ~ q(z | x) (the encoder, drawn
        step by step as in training), S = ``n_samples`` (40 in the paper). Each sequence is copied
        into up to ``max_columns`` batch columns per call (chunks of sequences and/or of samples,
        so memory stays bounded); the S log-weights are combined in float64 with a stable
        log-mean-exp. Without a latent variable (RNN family) it returns the exact ``log p(x)``.

        Parameters
        ----------
        x : ndarray (T, N, x_dim)
        mask : ndarray (T, N), masked data kinds only
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
        if not self.latent_dim:
            exact = self.lower_bound(x, mask)
            return (exact, exact[:, None]) if return_log_weights else exact
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
                values = self._sequence_call(chunk, eps, seqs_per_call * samples_per_call)[0]
                log_w[seqs, s_start:s_start + n_s] = values.reshape(n_here, n_s)
        estimate = logmeanexp(log_w, axis=1)
        return (estimate, log_w) if return_log_weights else estimate

    def fivo_loglik(self, x, mask=None, n_particles=40, seed=0, resample="ess", max_columns=IS_COLUMNS_PER_CALL):
        """The FIVO estimate of each sequence's log-likelihood (nats): a particle filter's
        ``log p_hat(x)`` with K = ``n_particles`` particles drawn from the encoder, resampled
        (multinomial) when their effective sample size falls below K/2 (``resample='ess'``) or at
        every frame (``'always'``); ``'never'`` gives the IWAE bound with K samples, the
        importance-sampled estimate. A lower bound of log p(x) in expectation (Maddison et al. 2017).

        The noise of each chunk of sequences is drawn from ``np.random.default_rng(seed)``: eps
        (T, K, n, z_dim), then the uniforms of the ancestors (T, K, n). Without a latent variable
        (RNN family) it returns the exact ``log p(x)``.

        Parameters
        ----------
        x : ndarray (T, N, x_dim)
        mask : ndarray (T, N), masked data kinds only
        n_particles : int >= 1
        seed : int
        resample : {'ess', 'always', 'never'}
        max_columns : int
            Most particle rows (K * sequences) evaluated in one call.

        Returns
        -------
        ndarray (N,) float64
        """
        if n_particles < 1 or max_columns < 1:
            raise ValueError(f"need n_particles >= 1 and max_columns >= 1; got {n_particles}, {max_columns}")
        args = self._data_args(x, mask)
        if not self.latent_dim:
            return self.lower_bound(x, mask)
        K = int(n_particles)
        rng = np.random.default_rng(seed)
        n_steps, n_seq = args[0].shape[:2]
        per_call = max(1, max_columns // K)
        out = np.empty(n_seq)
        for start in range(0, n_seq, per_call):
            chunk = [a[:, start:start + per_call] for a in args]
            n_here = chunk[0].shape[1]
            eps = rng.standard_normal((n_steps, K, n_here, self.latent_dim)).astype(self.dtype)
            u = rng.uniform(size=(n_steps, K, n_here)).astype(self.dtype)
            if not self.backend.static_shapes:
                fn = self.particle_fn(K, resample)
            else:  # one compiled shape: every chunk padded to per_call columns
                chunk = [_pad_columns(a, per_call) for a in chunk]
                eps = np.concatenate([eps, np.zeros((n_steps, K, per_call - n_here, self.latent_dim),
                                                    dtype=self.dtype)], axis=2)
                u = np.concatenate([u, np.zeros((n_steps, K, per_call - n_here), dtype=self.dtype)], axis=2)
                fn = self.shaped(n_steps, per_call).particle_fn(K, resample)
            eps = eps.reshape(n_steps, -1, self.latent_dim)  # particle-major rows k * n + b
            values = np.asarray(fn(*chunk, eps, u)[0], dtype=np.float64)
            out[start:start + n_here] = values[:n_here]
        return out

    def generate(self, n_steps, n_sequences=1, seed=0, sample_output=None, bias=0.0):
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
        bias : float > -1
            Sampling bias (Graves 2013, section 5.2; see
            :func:`~nips2015_vrnn.models.outputs.biased_heads`): sharper mixture weights and
            probabilities, deviations times ``exp(-bias)``; 0 (default) samples the model as it is.

        Returns
        -------
        ndarray (n_steps, n_sequences, x_dim); handwriting frames are [pen, dx, dy], pen in {0, 1}
        """
        if n_steps < 1 or n_sequences < 1:
            raise ValueError(f"need n_steps >= 1 and n_sequences >= 1; got {n_steps}, {n_sequences}")
        sample_output = sample_output or self.config.sample_output
        if sample_output not in ("sample", "mean"):
            raise ValueError(f"sample_output must be 'sample' or 'mean'; got {sample_output!r}")
        check_bias(bias)
        rng = np.random.default_rng(seed)
        noise = self.generation_noise(rng, n_steps, n_sequences)
        if sample_output == "mean":
            noise["eps_x"] = np.zeros_like(noise["eps_x"])
        fn = self.shaped(n_steps, n_sequences).generate_fn()
        return fn(*noise.values(), np.asarray(bias, dtype=self.dtype))[0]

    def generation_noise_layout(self):
        """OrderedDict noise name -> (per-step shape, 'normal' or 'uniform'), in graph-input order:
        ``eps_z`` (z_dim,) when the model has a latent variable, then the output model's noise."""
        layout = OrderedDict()
        if self.latent_dim:
            layout["eps_z"] = ((self.latent_dim,), "normal")
        layout.update(sample_noise_shapes(self.config.output, self.config.x_dim))
        return layout

    def generation_noise(self, rng, n_steps, n_sequences):
        """OrderedDict noise name -> array (n_steps, n_sequences, ...) drawn from ``rng``."""
        noise = OrderedDict()
        for name, (shape, kind) in self.generation_noise_layout().items():
            size = (n_steps, n_sequences) + shape
            value = rng.standard_normal(size) if kind == "normal" else rng.uniform(size=size)
            noise[name] = value.astype(self.dtype)
        return noise
