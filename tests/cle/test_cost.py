"""cle.cost and cle.utils.op.logsumexp against the legacy golden numbers, and the simple costs
against numpy formulas written here."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from golden_data import load_golden
from numerics import FLOAT64_RTOL, rel_err

import cle.backend as B
from cle import cost
from cle.utils.op import logsumexp

#: float64 against the legacy numbers: measured worst relative error (tests/numerics.rel_err)
#: 3.2e-16 for the outputs (bigauss), 3.8e-16 for the gradients (bigauss corr).
GOLDEN_RTOL = FLOAT64_RTOL

# case -> (builder, argument names in call order); inputs come from ``<case>__in_<arg>``.
CASES = {
    "gaussian": (cost.Gaussian, ["y", "mu", "sig"]),
    "gmm": (cost.GMM, ["y", "mu", "sig", "coeff"]),
    "bigmm": (cost.BiGMM, ["y", "mu", "sig", "coeff", "corr", "binary"]),
    "bigauss": (cost.BiGauss, ["y", "mu", "sig", "corr", "binary"]),
    "klgg": (cost.KLGaussianGaussian, ["mu1", "sig1", "mu2", "sig2"]),
    "klgg_keepdims": (lambda *a: cost.KLGaussianGaussian(*a, keep_dims=1), ["mu1", "sig1", "mu2", "sig2"]),
    "klstd": (cost.KLGaussianStdGaussian, ["mu", "sig"]),
    "logsumexp_axis1": (lambda x: logsumexp(x, axis=1), ["x"]),
    "logsumexp_axis0": (lambda x: logsumexp(x, axis=0), ["x"]),
    "logsumexp_axisNone": (lambda x: logsumexp(x, axis=None), ["x"]),
    "logsumexp3d_axis1": (lambda x: logsumexp(x, axis=1), ["x"]),
    "logsumexp3d_axism1": (lambda x: logsumexp(x, axis=-1), ["x"]),
}


@pytest.fixture(scope="module")
def golden_results():
    """Every golden case compiled into ONE float64 function: outputs and gradients by key."""
    golden = load_golden("cost_functions")
    with B.precision("float64"):
        inputs, values, outputs, keys = [], [], [], []
        for case, (build, args) in CASES.items():
            variables = {}
            for arg in args:
                value = golden[f"{case}__in_{arg}"]
                var = pt.tensor(f"{case}_{arg}", dtype="float64", shape=(None,) * value.ndim)
                variables[arg] = var
                inputs.append(var)
                values.append(value)
            out = build(*(variables[a] for a in args))
            outputs.append(out)
            keys.append(f"{case}__out")
            grad_args = [a for a in args if f"{case}__grad_{a}" in golden.files]
            grads = pytensor.grad(out.sum(), [variables[a] for a in grad_args])
            outputs.extend(grads)
            keys.extend(f"{case}__grad_{a}" for a in grad_args)
        fn = B.function(inputs, outputs)
        results = dict(zip(keys, fn(*values)))
    return golden, results


@pytest.mark.parametrize("case", list(CASES))
def test_output_matches_golden(golden_results, case):
    golden, results = golden_results
    key = f"{case}__out"
    assert results[key].shape == golden[key].shape
    assert rel_err(results[key], golden[key]) < GOLDEN_RTOL


@pytest.mark.parametrize("case", list(CASES))
def test_gradients_match_golden(golden_results, case):
    golden, results = golden_results
    grad_keys = [k for k in golden.files if k.startswith(f"{case}__grad_")]
    assert grad_keys
    for key in grad_keys:
        assert rel_err(results[key], golden[key]) < GOLDEN_RTOL, key


def test_every_golden_grad_is_checked(golden_results):
    golden, results = golden_results
    expected = {k for k in golden.files if "__grad_" in k or k.endswith("__out")}
    assert expected == set(results)


def test_logsumexp_gradient_is_finite_at_plus_minus_1000(golden_results):
    _, results = golden_results
    assert np.isfinite(results["logsumexp3d_axis1__grad_x"]).all()
    assert np.isfinite(results["logsumexp3d_axism1__grad_x"]).all()


# --------------------------------------------------------------------------------------------
# GMM / BiGMM with 3-D inputs give the 2-D result reshaped to (T, B)
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mixture_3d():
    golden = load_golden("cost_functions")
    T, Bt = 7, 1
    with B.precision("float64"):
        gmm_args = [pt.tensor3(f"g_{a}", dtype="float64") for a in ("y", "mu", "sig", "coeff")]
        bigmm_args = [pt.tensor3(f"b_{a}", dtype="float64") for a in ("y", "mu", "sig", "coeff", "corr", "binary")]
        fn = B.function(gmm_args + bigmm_args, [cost.GMM(*gmm_args), cost.BiGMM(*bigmm_args)])
    gmm_vals = [golden[f"gmm__in_{a}"].reshape(T, Bt, -1) for a in ("y", "mu", "sig", "coeff")]
    bigmm_vals = [golden[f"bigmm__in_{a}"].reshape(T, Bt, -1)
                  for a in ("y", "mu", "sig", "coeff", "corr", "binary")]
    gmm_out, bigmm_out = fn(*gmm_vals, *bigmm_vals)
    return golden, gmm_out, bigmm_out


def test_gmm_accepts_3d_inputs(mixture_3d):
    golden, gmm_out, _ = mixture_3d
    assert gmm_out.shape == (7, 1)
    assert rel_err(gmm_out.ravel(), golden["gmm__out"]) < GOLDEN_RTOL


def test_bigmm_accepts_3d_inputs(mixture_3d):
    golden, _, bigmm_out = mixture_3d
    assert bigmm_out.shape == (7, 1)
    assert rel_err(bigmm_out.ravel(), golden["bigmm__out"]) < GOLDEN_RTOL


# --------------------------------------------------------------------------------------------
# Costs without golden numbers, against numpy formulas
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def simple_costs():
    rng = np.random.default_rng(7)
    N, D = 4, 3
    data = {
        "y_bin": (rng.uniform(size=(N, D)) > 0.5).astype("float64"),
        "p": rng.uniform(0.05, 0.95, size=(N, D)),
        "y_mul": np.eye(D)[rng.integers(0, D, size=N)],
        "q": np.exp(rng.normal(size=(N, D))),
        "idx": rng.integers(0, D, size=N),
        "y": rng.normal(size=(N, D)),
        "mu": rng.normal(size=(N, D)),
        "sig": rng.uniform(0.5, 2.0, size=(N, D)),
    }
    data["q"] = data["q"] / data["q"].sum(axis=1, keepdims=True)
    with B.precision("float64"):
        v = {k: pt.matrix(k, dtype="float64") for k in ("y_bin", "p", "y_mul", "q", "y", "mu", "sig")}
        idx = pt.lvector("idx")
        outs = [
            cost.NllBin(v["y_bin"], v["p"]),
            cost.NllMul(v["y_mul"], v["q"]),
            cost.NllMulInd(idx, v["q"]),
            cost.MSE(v["y"], v["mu"]),
            cost.MSE(v["y"], v["mu"], use_sum=0),
            cost.Laplace(v["y"], v["mu"], v["sig"]),
        ]
        fn = B.function(list(v.values()) + [idx], outs)
    got = fn(*[data[k] for k in v], data["idx"])
    names = ["nllbin", "nllmul", "nllmulind", "mse_sum", "mse_mean", "laplace"]
    return data, dict(zip(names, got))


def test_nllbin_is_binary_cross_entropy(simple_costs):
    d, got = simple_costs
    want = -np.sum(d["y_bin"] * np.log(d["p"]) + (1 - d["y_bin"]) * np.log(1 - d["p"]), axis=1)
    np.testing.assert_allclose(got["nllbin"], want, rtol=1e-12)


def test_nllmul_is_multinomial_nll(simple_costs):
    d, got = simple_costs
    np.testing.assert_allclose(got["nllmul"], -np.sum(d["y_mul"] * np.log(d["q"]), axis=1), rtol=1e-12)


def test_nllmulind_picks_the_target_probability(simple_costs):
    d, got = simple_costs
    want = -np.log(d["q"][np.arange(4), d["idx"]])
    np.testing.assert_allclose(got["nllmulind"], want, rtol=1e-12)


def test_mse_sums_or_averages_over_last_axis(simple_costs):
    d, got = simple_costs
    sq = (d["y"] - d["mu"]) ** 2
    np.testing.assert_allclose(got["mse_sum"], sq.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(got["mse_mean"], sq.mean(axis=1), rtol=1e-12)


def test_laplace_is_laplace_nll(simple_costs):
    d, got = simple_costs
    want = np.sum(np.abs(d["y"] - d["mu"]) / d["sig"] + np.log(2 * d["sig"]), axis=1)
    np.testing.assert_allclose(got["laplace"], want, rtol=1e-12)


def test_costs_keep_float32():
    with B.precision("float32"):
        y, mu, sig = (pt.matrix(n, dtype="float32") for n in ("y", "mu", "sig"))
        coeff = pt.matrix("coeff", dtype="float32")
        assert cost.Gaussian(y, mu, sig).dtype == "float32"
        assert cost.GMM(y, mu, sig, coeff).dtype == "float32"
        assert cost.KLGaussianGaussian(mu, sig, mu, sig).dtype == "float32"
        assert logsumexp(y, axis=1).dtype == "float32"
