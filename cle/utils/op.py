"""Symbolic operations shared by costs and models: a stable logsumexp and noise-taking samplers.

Every function that needs noise takes it in one of two ways:

- injected: pass the noise tensors (``eps``, ``u``, ...) and the result is exact and repeatable
  (tests, golden checks); the returned ``next_rng`` is then None;
- drawn: leave the noise out and pass ``rng``, a PyTensor random generator (a shared
  ``np.random.Generator`` or a symbolic one threaded through ``scan``); the function returns
  ``(out, next_rng)`` and the CALLER must put ``{rng: next_rng}`` in the updates of the compiled
  function (or carry ``next_rng`` as a scan state), or every call repeats the same noise.

Shapes: ``N`` rows, ``D`` data dimensions, ``K`` mixture components.
"""
import pytensor.tensor as pt
from pytensor.gradient import zero_grad

__all__ = ["logsumexp", "Gaussian_sample", "GMM_sample", "BiGMM_sample", "dropout", "add_noise"]


def logsumexp(x, axis=None):
    """``log(sum(exp(x), axis))`` computed stably: ``log(sum(exp(x - m))) + m`` with ``m = max(x)``.

    The max is taken through ``zero_grad`` (its gradient is not needed: the result does not depend
    on m), so the gradient is softmax(x) and stays finite for entries of +-1000.

    Parameters
    ----------
    x : tensor
    axis : int or None
        The reduced axis (None: all of them, giving a scalar).

    Returns
    -------
    tensor: ``x`` without ``axis``
    """
    x_max = zero_grad(pt.max(x, axis=axis, keepdims=True))
    out = pt.log(pt.sum(pt.exp(x - x_max), axis=axis, keepdims=True)) + x_max
    return out.sum(axis=axis)


def _need_rng(rng, what):
    if rng is None:
        raise ValueError(f"{what}: no noise was given and rng is None; pass the noise or a random generator")
    return rng


def _normal(rng, shape, dtype):
    next_rng, value = pt.random.normal(0.0, 1.0, size=shape, rng=rng, dtype=dtype, return_next_rng=True)
    return value, next_rng


def _uniform(rng, shape, dtype):
    next_rng, value = pt.random.uniform(0.0, 1.0, size=shape, rng=rng, dtype=dtype, return_next_rng=True)
    return value, next_rng


def Gaussian_sample(mu, sig, eps=None, rng=None):
    """Reparameterised Gaussian sample ``mu + sig * eps``, eps ~ N(0, I).

    Parameters
    ----------
    mu, sig : tensors (..., D)
    eps : tensor of mu's shape, optional (drawn from ``rng`` when None)
    rng : random generator variable, needed when ``eps`` is None

    Returns
    -------
    (sample, next_rng): sample of mu's shape; next_rng None when eps was given
    """
    next_rng = None
    if eps is None:
        eps, next_rng = _normal(_need_rng(rng, "Gaussian_sample"), mu.shape, mu.dtype)
    return mu + sig * eps, next_rng


def _pick_component(coeff, u):
    """One-hot (N, K) of the component whose cumulative weight first exceeds u (N,) (inverse CDF)."""
    n_comp = coeff.shape[-1]
    cdf = pt.cumsum(coeff, axis=-1)
    index = pt.minimum(pt.sum(u[:, None] > cdf, axis=-1), n_comp - 1)
    return pt.eq(pt.arange(n_comp)[None, :], index[:, None]).astype(coeff.dtype)


def _draw_missing(rng, what, dtype, **noise):
    """Fill each None entry of ``noise`` (name -> (value, shape, kind)) from ``rng``, chaining the generator."""
    out = {}
    current = rng
    drawn = False
    for name, (value, shape, kind) in noise.items():
        if value is None:
            current = _need_rng(current, what)
            draw = _normal if kind == "normal" else _uniform
            value, current = draw(current, shape, dtype)
            drawn = True
        out[name] = value
    return out, (current if drawn else None)


def GMM_sample(mu, sig, coeff, eps=None, u=None, rng=None):
    """Sample a mixture of diagonal Gaussians: pick k per row from coeff, then ``mu_k + sig_k * eps``.

    Parameters
    ----------
    mu, sig : tensors (N, D*K), column ``d*K + k``
    coeff : tensor (N, K), mixture weights (rows sum to 1)
    eps : tensor (N, D), optional, standard normal noise
    u : tensor (N,), optional, uniform(0, 1) noise choosing the component: the first k with
        ``u < cumsum(coeff)_k``
    rng : random generator variable, needed when eps or u is None

    Returns
    -------
    (sample (N, D), next_rng)
    """
    n_comp = coeff.shape[-1]
    n_rows = mu.shape[0]
    n_dim = mu.shape[1] // n_comp
    noise, next_rng = _draw_missing(rng, "GMM_sample", mu.dtype,
                                    u=(u, (n_rows,), "uniform"), eps=(eps, (n_rows, n_dim), "normal"))
    onehot = _pick_component(coeff, noise["u"])
    grid = (n_rows, n_dim, n_comp)
    mu_k = pt.sum(mu.reshape(grid, ndim=3) * onehot[:, None, :], axis=-1)
    sig_k = pt.sum(sig.reshape(grid, ndim=3) * onehot[:, None, :], axis=-1)
    return mu_k + sig_k * noise["eps"], next_rng


def BiGMM_sample(mu, sig, coeff, corr, binary, eps=None, u=None, u_pen=None, rng=None):
    """Sample the handwriting output: pen bit and a mixture of correlated 2-D Gaussians.

    Component k from coeff (inverse CDF of u); ``dx = mu1 + s1 e1``,
    ``dy = mu2 + s2 (rho e1 + sqrt(1 - rho^2) e2)``; ``pen = 1 if u_pen < binary else 0``.

    Parameters
    ----------
    mu, sig : tensors (N, 2K), read as (2, K): columns [0:K] for dx, [K:2K] for dy
    coeff, corr : tensors (N, K)
    binary : tensor (N, 1), the pen-down probability
    eps : tensor (N, 2), optional, standard normal (e1, e2)
    u : tensor (N,), optional, uniform(0, 1) choosing the component
    u_pen : tensor (N,), optional, uniform(0, 1) for the pen bit
    rng : random generator variable, needed when any noise is None

    Returns
    -------
    (sample (N, 3) = [pen, dx, dy], next_rng)
    """
    n_comp = coeff.shape[-1]
    n_rows = mu.shape[0]
    noise, next_rng = _draw_missing(rng, "BiGMM_sample", mu.dtype,
                                    u=(u, (n_rows,), "uniform"), eps=(eps, (n_rows, 2), "normal"),
                                    u_pen=(u_pen, (n_rows,), "uniform"))
    onehot = _pick_component(coeff, noise["u"])

    def pick(columns):
        return pt.sum(columns * onehot, axis=-1)

    mu1, mu2 = pick(mu[:, :n_comp]), pick(mu[:, n_comp:])
    s1, s2 = pick(sig[:, :n_comp]), pick(sig[:, n_comp:])
    rho = pick(corr)
    e1, e2 = noise["eps"][:, 0], noise["eps"][:, 1]
    dx = mu1 + s1 * e1
    dy = mu2 + s2 * (rho * e1 + pt.sqrt(1 - pt.sqr(rho)) * e2)
    pen = pt.lt(noise["u_pen"].flatten(), binary[:, 0]).astype(mu.dtype)
    return pt.stack([pen, dx, dy], axis=1), next_rng


def dropout(x, p, rng=None, train=True, u=None):
    """Legacy (non-inverted) dropout: in training ``x * keep`` with keep ~ Bernoulli(1 - p);
    at test time ``x * (1 - p)``.

    Parameters
    ----------
    x : tensor
    p : float in [0, 1), the drop probability
    rng : random generator variable, needed in training when ``u`` is None
    train : bool
    u : tensor of x's shape, optional, uniform(0, 1) noise: a unit is kept where ``u >= p``

    Returns
    -------
    (out of x's shape, next_rng) — next_rng None at test time or with ``u`` given
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if p == 0:
        return x, None
    if not train:
        return x * (1.0 - p), None
    next_rng = None
    if u is None:
        u, next_rng = _uniform(_need_rng(rng, "dropout"), x.shape, x.dtype)
    keep = pt.ge(u, p).astype(x.dtype)
    return x * keep, next_rng


def add_noise(x, std, rng=None, eps=None):
    """Additive Gaussian noise: ``x + std * eps``, eps ~ N(0, I).

    Parameters
    ----------
    x : tensor
    std : float or scalar tensor
    rng : random generator variable, needed when ``eps`` is None
    eps : tensor of x's shape, optional

    Returns
    -------
    (out of x's shape, next_rng) — next_rng None with ``eps`` given
    """
    next_rng = None
    if eps is None:
        eps, next_rng = _normal(_need_rng(rng, "add_noise"), x.shape, x.dtype)
    return x + std * eps, next_rng
