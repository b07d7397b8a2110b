"""Per-row costs (negative log-likelihoods and KL divergences); the caller averages.

Each cost reduces the LAST axis (the data dimension) and keeps the leading ones: a (N, D) input
gives (N,), a (T, B, D) input gives (T, B). The mixture costs (GMM, BiGMM) accept 2-D and 3-D
inputs alike and reshape internally. Formulas as in the legacy ``cle.cle.cost`` (LEGACY.md).
"""
import pytensor.tensor as pt

from cle.fused.gmm import LOG_2PI, gmm_nll
from cle.utils.op import logsumexp

__all__ = [
    "Gaussian",
    "GMM",
    "BiGauss",
    "BiGMM",
    "KLGaussianGaussian",
    "KLGaussianStdGaussian",
    "NllBin",
    "NllMul",
    "NllMulInd",
    "MSE",
    "Laplace",
]


def _rows(x):
    """``x`` as a matrix (N, last dim): (T, B, D) -> (T*B, D); 2-D stays."""
    return x.reshape((-1, x.shape[-1])) if x.ndim != 2 else x


def _unrows(cost, like):
    """Per-row ``cost`` (N,) back to ``like``'s leading shape ((T, B) for a 3-D ``like``)."""
    if like.ndim == 2:
        return cost
    return cost.reshape(tuple(like.shape[i] for i in range(like.ndim - 1)), ndim=like.ndim - 1)


def Gaussian(y, mu, sig):
    """Diagonal Gaussian nll per row: ``0.5 * sum_d [(y-mu)^2/sig^2 + 2 log sig + log 2pi]``.

    Parameters
    ----------
    y, mu, sig : tensors (..., D)

    Returns
    -------
    tensor (...)
    """
    return 0.5 * pt.sum(pt.sqr(y - mu) / pt.sqr(sig) + 2 * pt.log(sig) + LOG_2PI, axis=-1)


def GMM(y, mu, sig, coeff):
    """Mixture of diagonal Gaussians nll per row.

    ``nll = -logsumexp_k(log coeff_k - 0.5 sum_d [(y_d-mu_dk)^2/sig_dk^2 + 2 log sig_dk + log 2pi])``
    with ``log coeff`` taken literally (coeff is a softmax output). Computed by the fused op
    :data:`cle.fused.gmm.gmm_nll` (one C loop for the cost, one for its gradient).

    Parameters
    ----------
    y : tensor (N, D) or (T, B, D)
    mu, sig : tensors (N, D*K) or (T, B, D*K), column ``d*K + k`` (dimension-major)
    coeff : tensor (N, K) or (T, B, K)

    Returns
    -------
    tensor (N,) or (T, B)
    """
    nll = gmm_nll(_rows(y), _rows(mu), _rows(sig), _rows(coeff))
    return _unrows(nll, y)


def _pen_log_likelihood(pen, binary):
    """``y0 log b + (1 - y0) log(1 - b)`` with 0 log 0 = 0; pen, binary (N,) -> (N,)."""
    return pt.special.xlogy(pen, binary) + pt.special.xlogy(1 - pen, 1 - binary)


def _bivariate_log_density(y1, y2, mu1, mu2, s1, s2, rho):
    """Log-density of a correlated 2-D normal, broadcast over components.

    ``-[log 2pi + log s1 + log s2 + 0.5 log(1 - rho^2)] - Z / (2 (1 - rho^2))``,
    ``Z = u1^2 + u2^2 - 2 rho u1 u2``, ``u = (y - mu) / s``.
    """
    u1 = (y1 - mu1) / s1
    u2 = (y2 - mu2) / s2
    one_minus_rho2 = 1 - pt.sqr(rho)
    z = pt.sqr(u1) + pt.sqr(u2) - 2 * rho * u1 * u2
    log_norm = LOG_2PI + pt.log(s1) + pt.log(s2) + 0.5 * pt.log(one_minus_rho2)
    return -log_norm - z / (2 * one_minus_rho2)


def BiGauss(y, mu, sig, corr, binary):
    """One correlated 2-D Gaussian for the pen offsets and a Bernoulli pen bit, nll per row.

    ``nll = -log N2([dx, dy]; mu, sig, corr) - [y0 log b + (1 - y0) log(1 - b)]``

    Parameters
    ----------
    y : tensor (N, 3) = [pen, dx, dy]
    mu, sig : tensors (N, 2) (dx, dy)
    corr, binary : tensors (N, 1)

    Returns
    -------
    tensor (N,)
    """
    y2, mu2, sig2, corr2, binary2 = _rows(y), _rows(mu), _rows(sig), _rows(corr), _rows(binary)
    log_density = _bivariate_log_density(
        y2[:, 1], y2[:, 2], mu2[:, 0], mu2[:, 1], sig2[:, 0], sig2[:, 1], corr2[:, 0])
    nll = -log_density - _pen_log_likelihood(y2[:, 0], binary2[:, 0])
    return _unrows(nll, y)


def BiGMM(y, mu, sig, coeff, corr, binary):
    """Mixture of correlated 2-D Gaussians for the pen offsets and a Bernoulli pen bit, nll per row.

    ``nll = -logsumexp_k(log coeff_k + log N2([dx, dy]; mu_k, sig_k, corr_k)) - [y0 log b + (1-y0) log(1-b)]``

    Parameters
    ----------
    y : tensor (N, 3) or (T, B, 3) = [pen, dx, dy]
    mu, sig : tensors (N, 2K) or (T, B, 2K), read as (2, K): columns [0:K] for dx, [K:2K] for dy
    coeff, corr : tensors (N, K) or (T, B, K)
    binary : tensor (N, 1) or (T, B, 1), the pen-down probability

    Returns
    -------
    tensor (N,) or (T, B)
    """
    y2, mu2, sig2 = _rows(y), _rows(mu), _rows(sig)
    coeff2, corr2, binary2 = _rows(coeff), _rows(corr), _rows(binary)
    n_comp = coeff2.shape[-1]
    dx, dy = y2[:, 1][:, None], y2[:, 2][:, None]  # (N, 1), broadcast against the K components
    log_density = _bivariate_log_density(
        dx, dy, mu2[:, :n_comp], mu2[:, n_comp:], sig2[:, :n_comp], sig2[:, n_comp:], corr2)
    nll = -logsumexp(pt.log(coeff2) + log_density, axis=1) - _pen_log_likelihood(y2[:, 0], binary2[:, 0])
    return _unrows(nll, y)


def KLGaussianGaussian(mu1, sig1, mu2, sig2, keep_dims=0):
    """KL(N(mu1, sig1^2) || N(mu2, sig2^2)) of diagonal Gaussians.

    ``0.5 * [2 log sig2 - 2 log sig1 + (sig1^2 + (mu1 - mu2)^2) / sig2^2 - 1]``, summed over the last
    axis unless ``keep_dims``.

    Parameters
    ----------
    mu1, sig1, mu2, sig2 : tensors (..., D)
    keep_dims : bool

    Returns
    -------
    tensor (...) or, with keep_dims, (..., D)
    """
    kl = 0.5 * (2 * pt.log(sig2) - 2 * pt.log(sig1) + (pt.sqr(sig1) + pt.sqr(mu1 - mu2)) / pt.sqr(sig2) - 1)
    return kl if keep_dims else pt.sum(kl, axis=-1)


def KLGaussianStdGaussian(mu, sig, keep_dims=0):
    """KL(N(mu, sig^2) || N(0, I)): ``0.5 * [-2 log sig + mu^2 + sig^2 - 1]`` summed over the last axis.

    Parameters
    ----------
    mu, sig : tensors (..., D)
    keep_dims : bool

    Returns
    -------
    tensor (...) or, with keep_dims, (..., D)
    """
    kl = 0.5 * (-2 * pt.log(sig) + pt.sqr(mu) + pt.sqr(sig) - 1)
    return kl if keep_dims else pt.sum(kl, axis=-1)


def NllBin(y, y_hat):
    """Binary cross-entropy per row: ``-sum_d [y log y_hat + (1 - y) log(1 - y_hat)]``.

    Parameters
    ----------
    y : tensor (..., D) of targets in [0, 1]
    y_hat : tensor (..., D) of probabilities
    """
    return -pt.sum(y * pt.log(y_hat) + (1 - y) * pt.log(1 - y_hat), axis=-1)


def NllMul(y, y_hat):
    """Multinomial nll per row: ``-sum_c y_c log y_hat_c`` (y one-hot or a distribution).

    Parameters
    ----------
    y, y_hat : tensors (..., C)
    """
    return -pt.sum(y * pt.log(y_hat), axis=-1)


def NllMulInd(y, y_hat):
    """Multinomial nll per row with integer targets: ``-log y_hat[n, y_n]``.

    Parameters
    ----------
    y : integer tensor (N,) or (N, 1) of class indices
    y_hat : tensor (N, C) of probabilities

    Returns
    -------
    tensor (N,)
    """
    index = y.flatten()
    return -pt.log(y_hat[pt.arange(y_hat.shape[0]), index])


def MSE(y, y_hat, use_sum=1):
    """Squared error per row: ``sum_d (y - y_hat)^2`` (``use_sum``), else its mean over d.

    Parameters
    ----------
    y, y_hat : tensors (..., D)
    use_sum : bool
    """
    sq = pt.sqr(y - y_hat)
    return pt.sum(sq, axis=-1) if use_sum else pt.mean(sq, axis=-1)


def Laplace(y, mu, sig):
    """Laplace nll per row: ``sum_d [|y - mu| / sig + log(2 sig)]`` (sig is the scale).

    Parameters
    ----------
    y, mu, sig : tensors (..., D)
    """
    return pt.sum(pt.abs(y - mu) / sig + pt.log(2 * sig), axis=-1)
