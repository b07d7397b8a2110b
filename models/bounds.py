"""Bounds on log p(x) from K particles: ELBO, IWAE and FIVO, as graphs any sequence model reuses.

A model supplies one step ``step(*seq_t, s_tm1) -> (s_t, log_alpha_t)``: its state after frame t
and the incremental log-weight ``log_alpha_t = log p(x_t, z_t | .) - log q(z_t | .)`` of each of
K*B rows, particle-major (row ``k * B + b`` is particle k of sequence b). :func:`particle_filter`
runs it over time as one scan with the particles as an extra batch dimension:

- ``log w_t = log w_{t-1} + mask_t * log_alpha_t`` (K, B);
- FIVO (Maddison et al. 2017): when the effective sample size ``(sum w)^2 / sum w^2`` falls below
  K/2 (``resample='ess'``) or at every step (``'always'``), the estimate gains
  ``log mean_k w_t``, ancestors are drawn from ``w_t / sum w`` (multinomial, with injected
  uniforms), the states gathered and the weights reset to 1;
- ``log p_hat = sum over resampling steps of log mean_k w + log mean_k w_T``.

With ``resample='never'`` this is the importance-weighted bound (IWAE, Burda et al. 2016)
``log mean_k prod_t alpha_t``, and ``mean_k log w_T`` is the ELBO of one sample. Each is a lower
bound of log p(x) in expectation (Jensen), IWAE and FIVO tightening as K grows.

Gradients flow through the reparameterised samples, the weights and the gathered states, never
through the ancestor indices (integers, drawn from the weights through ``disconnected_grad``):
the FIVO paper's biased gradient, without the resampling score-function term.

Example
-------
>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> alpha = pt.matrix('alpha')                       # (T, K*B) incremental log-weights
>>> out = particle_filter(lambda a, s: (s, a), [alpha], pt.zeros((4,)), 2,
...                       pt.zeros((3, 2, 2)), resample='never')
>>> f = pytensor.function([alpha], out['log_p_hat'])
>>> a = np.log(np.array([[1., 2., 3., 4.]] * 3))     # K=2, B=2: particles (1, 3) and (2, 4)
>>> np.allclose(f(a), np.log([(1 + 27) / 2, (8 + 64) / 2]))
True
"""
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad

from cle.utils.op import logsumexp
from cle.utils.scan import scan

__all__ = ["RESAMPLING", "particle_filter", "multinomial_ancestors", "iwae_bound"]

#: FIVO's resampling criteria (config key ``resample``); 'never' gives the IWAE bound.
RESAMPLING = ("ess", "always", "never")


def multinomial_ancestors(log_w, u):
    """Ancestor indices (K, B) int64 drawn from the normalised weights, by inverting the CDF.

    Parameters
    ----------
    log_w : (K, B) log-weights (unnormalised); no gradient flows through the draw
    u : (K, B) uniforms in [0, 1): ``a[k, b] = #{j : cdf[j, b] <= u[k, b]}``, clipped to K - 1

    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> lw, u = pt.matrix('lw'), pt.matrix('u')
    >>> f = pytensor.function([lw, u], multinomial_ancestors(lw, u))
    >>> f(np.log([[1.], [3.]]), np.array([[0.2], [0.3]])).ravel().tolist()   # cdf 0.25, 1.0
    [0, 1]
    """
    log_w = disconnected_grad(log_w)
    cdf = pt.cumsum(pt.exp(log_w - logsumexp(log_w, axis=0)[None, :]), axis=0)  # (K, B)
    below = pt.le(cdf[None, :, :], u[:, None, :])                              # (K_draw, K, B)
    return pt.minimum(below.sum(axis=1), log_w.shape[0] - 1).astype("int64")


def iwae_bound(log_w):
    """``log mean_k exp(log_w[k])``: (K, B) total log-weights -> (B,) IWAE bound."""
    return logsumexp(log_w, axis=0) - pt.log(pt.cast(log_w.shape[0], log_w.dtype))


def particle_filter(step, sequences, s_0, n_particles, uniforms, mask=None, resample="ess", name="particles",
                    n_extras=0):
    """The FIVO / IWAE estimate of log p(x) of each sequence, one scan over time.

    Parameters
    ----------
    step : callable ``step(*seq_t, s_tm1) -> (s_t, log_alpha_t, *extras_t)``
        One frame for all K*B rows: ``s_tm1`` (K*B, ...), ``log_alpha_t`` (K*B,), and
        ``n_extras`` more per-frame values of the rows (before resampling) to collect.
    sequences : list of (T, K*B, ...) tensors
        Per-frame inputs of ``step`` (particle-major rows).
    s_0 : (K*B, ...) initial state
    n_particles : int K >= 1
    uniforms : (T, K, B) uniforms of the ancestor draws (unused with ``resample='never'``)
    mask : (T, B) or None
        0 after a sequence ends: no weight, no resampling.
    resample : {'ess', 'always', 'never'}
    n_extras : int
        How many extra values ``step`` returns.

    Returns
    -------
    dict: ``log_p_hat`` (B,) the estimate; ``log_w`` (K, B) the log-weights after the last frame
    (since the last resampling); ``resampled`` (T, B) 1.0 where the particles were resampled;
    ``s`` (K*B, ...) the states after the last frame; ``extras``: the (T, K*B) extra values.
    """
    if resample not in RESAMPLING:
        raise ValueError(f"resample must be one of {RESAMPLING}; got {resample!r}")
    if not isinstance(n_particles, (int, np.integer)) or n_particles < 1:
        raise ValueError(f"n_particles must be an int >= 1; got {n_particles!r}")
    K = int(n_particles)
    n_seq = len(sequences)
    dtype = s_0.dtype
    log_k = np.asarray(np.log(K), dtype=dtype)
    masks = [] if mask is None else [mask]

    def pf_step(*args):
        seq_t = args[:n_seq]
        u_t = args[n_seq]
        m_t = args[n_seq + 1] if mask is not None else None
        s_tm1, log_w_tm1, log_z_tm1 = args[-3:]
        s_t, log_alpha, *extras = step(*seq_t, s_tm1)
        log_alpha = log_alpha.reshape((K, -1))
        if m_t is not None:
            log_alpha = log_alpha * m_t[None, :]
        log_w = log_w_tm1 + log_alpha                                    # (K, B)
        lse = logsumexp(log_w, axis=0)                                   # (B,)
        if resample == "never":
            return [s_t, log_w, log_z_tm1, pt.zeros_like(lse)] + extras
        if resample == "always":
            do = pt.ones_like(lse) if m_t is None else pt.gt(m_t, 0)
        else:  # ESS = exp(2 lse(w) - lse(2 w)) < K / 2
            do = pt.lt(2 * lse - logsumexp(2 * log_w, axis=0), np.log(K / 2.0))
            if m_t is not None:
                do = pt.and_(do, pt.gt(m_t, 0))
        ancestors = pt.switch(do[None, :], multinomial_ancestors(log_w, u_t),
                              pt.arange(K, dtype="int64")[:, None])
        # Column index b of each (k, b), shape-free (static in every backend).
        column = (pt.ones_like(u_t).cumsum(axis=1) - 1).astype("int64")
        rows = (ancestors * column.shape[1] + column).flatten()
        s_t = s_t[rows]
        log_z = log_z_tm1 + pt.switch(do, lse - log_k, pt.zeros_like(lse))
        log_w = pt.switch(do[None, :], pt.zeros_like(log_w), log_w)
        return [s_t, log_w, log_z, pt.cast(do, dtype)] + extras

    w_0 = pt.zeros((K, s_0.shape[0] // K), dtype=dtype)
    z_0 = pt.zeros((s_0.shape[0] // K,), dtype=dtype)
    s, log_w, log_z, resampled, *extras = scan(pf_step, sequences=list(sequences) + [uniforms] + masks,
                                               outputs_info=[s_0, w_0, z_0, None] + [None] * n_extras, name=name)
    log_w_T = log_w[-1]
    log_p_hat = log_z[-1] + logsumexp(log_w_T, axis=0) - log_k
    return {"log_p_hat": log_p_hat, "log_w": log_w_T, "resampled": resampled, "s": s[-1], "extras": extras}
