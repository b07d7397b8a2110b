"""Output models' samplers: the sampling bias (Graves 2013, section 5.2) against numpy oracles.

Each draw is compiled once per output kind with the bias as an input; the oracle reproduces the
same draw from the same injected noise in numpy.
"""
import numpy as np
import pytensor.tensor as pt
import pytest

from cle import backend as B
from nips2015_vrnn.models.app.characters import text_noise
from nips2015_vrnn.models.outputs import HEAD_NAMES, check_bias, output_sample, sample_noise_shapes

N, K, D, V = 64, 3, 2, 5


def _heads(output, rng):
    """Random head values (N, width) of ``output`` as the head layers would give them."""
    def softmax(a):
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    widths = {"gauss": {"theta_mu": D, "theta_sig": D},
              "gmm": {"theta_mu": D * K, "theta_sig": D * K, "coeff": K},
              "bigauss": {"theta_mu": 2, "theta_sig": 2, "corr": 1, "binary": 1},
              "bigmm": {"theta_mu": 2 * K, "theta_sig": 2 * K, "coeff": K, "corr": K, "binary": 1},
              "bernoulli": {"theta_mu": D}, "categorical": {"theta_mu": V}}[output]
    out = {}
    for name, width in widths.items():
        a = rng.standard_normal((N, width))
        out[name] = {"theta_mu": a, "theta_sig": np.log1p(np.exp(a)) + 1e-4, "coeff": softmax(a),
                     "corr": np.tanh(a), "binary": 1 / (1 + np.exp(-a))}[name]
    if output == "bernoulli":
        out["theta_mu"] = 1 / (1 + np.exp(-out["theta_mu"]))
    if output == "categorical":
        out["theta_mu"] = softmax(out["theta_mu"])
    return out


def _noise(output, rng):
    width = {"categorical": V}.get(output, D)
    return {name: (rng.standard_normal((N,) + shape) if kind == "normal" else rng.uniform(size=(N,) + shape))
            for name, (shape, kind) in sample_noise_shapes(output, width).items()}


def _draws(output):
    """(unbiased draw, biased draw): compiled functions of heads, noise (and the bias)."""
    heads = {name: pt.matrix(name, dtype="float64") for name in HEAD_NAMES[output]}
    width = {"categorical": V}.get(output, D)
    noise = {name: pt.tensor(name, dtype="float64", shape=(None,) + shape)
             for name, (shape, _) in sample_noise_shapes(output, width).items()}
    bias = pt.dscalar("bias")
    inputs = list(heads.values()) + list(noise.values())
    plain = B.function(inputs, output_sample(output, heads, noise))
    biased = B.function(inputs + [bias], output_sample(output, heads, noise, bias))
    return plain, biased


def _args(output, heads, noise):
    return [heads[name] for name in HEAD_NAMES[output]] + list(noise.values())


@pytest.mark.parametrize("output", sorted(HEAD_NAMES))
def test_zero_bias_draws_the_unbiased_frames_bit_for_bit(output):
    rng = np.random.default_rng(0)
    plain, biased = _draws(output)
    args = _args(output, _heads(output, rng), _noise(output, rng))
    assert np.array_equal(biased(*args, 0.0), plain(*args))
    assert not np.array_equal(biased(*args, 2.0), plain(*args)) or output in ("bernoulli", "categorical")


def _oracle_gmm(heads, noise, bias):
    """numpy: weights softmax(log coeff (1 + b)), component by inverse CDF of u, mu + sig e^-b eps."""
    logits = np.log(heads["coeff"]) * (1 + bias)
    coeff = np.exp(logits - logits.max(axis=1, keepdims=True))
    coeff /= coeff.sum(axis=1, keepdims=True)
    k = np.minimum((noise["u"][:, None] > np.cumsum(coeff, axis=1)).sum(axis=1), K - 1)
    cols = np.arange(D)[None, :] * K + k[:, None]
    mu = np.take_along_axis(heads["theta_mu"], cols, axis=1)
    sig = np.take_along_axis(heads["theta_sig"], cols, axis=1)
    return mu + sig * np.exp(-bias) * noise["eps_x"]


@pytest.mark.parametrize("bias", [0.0, 0.5, 1.5, -0.5])
def test_biased_mixture_draw_matches_the_numpy_oracle(bias):
    rng = np.random.default_rng(1)
    heads, noise = _heads("gmm", rng), _noise("gmm", rng)
    _, biased = _draws("gmm")
    np.testing.assert_allclose(biased(*_args("gmm", heads, noise), bias), _oracle_gmm(heads, noise, bias),
                               rtol=1e-12, atol=1e-12)


def test_gaussian_deviation_shrinks_by_exp_minus_bias():
    rng = np.random.default_rng(2)
    heads, noise = _heads("gauss", rng), _noise("gauss", rng)
    _, biased = _draws("gauss")
    want = heads["theta_mu"] + heads["theta_sig"] * np.exp(-1.5) * noise["eps_x"]
    np.testing.assert_allclose(biased(*_args("gauss", heads, noise), 1.5), want, rtol=1e-12)


def test_biased_bernoulli_fires_with_sigmoid_of_the_sharpened_logit():
    heads = {"theta_mu": np.tile([[0.7, 0.2]], (40000, 1))}
    u = np.random.default_rng(3).uniform(size=(40000, 2))
    _, biased = _draws("bernoulli")
    got = biased(heads["theta_mu"], u, 1.0).mean(axis=0)
    want = 1 / (1 + ((1 - np.array([0.7, 0.2])) / np.array([0.7, 0.2])) ** 2)   # logit times 2
    assert np.all(np.abs(got - want) < 4 * np.sqrt(want * (1 - want) / 40000)), (got, want)


class NoiseOnly:
    def generation_noise(self, rng, n_steps, n):
        return {"u_x": rng.uniform(size=(n_steps, n, V))}


@pytest.mark.parametrize("bias", [1.0, -0.5])
def test_categorical_bias_draws_the_symbols_of_temperature_one_over_one_plus_bias(bias):
    p = _heads("categorical", np.random.default_rng(4))["theta_mu"]
    u = NoiseOnly().generation_noise(np.random.default_rng(5), 1, N)["u_x"][0]
    tempered = text_noise(NoiseOnly(), np.random.default_rng(5), 1, N, temperature=1 / (1 + bias))["u_x"][0]
    plain, biased = _draws("categorical")
    assert np.array_equal(biased(p, u, bias), plain(p, tempered))


@pytest.mark.parametrize("bad", [-1.0, -2.0, float("nan"), float("inf"), "x"])
def test_a_bias_at_or_below_minus_one_or_not_finite_is_refused(bad):
    with pytest.raises(ValueError, match="> -1"):
        check_bias(bad)
