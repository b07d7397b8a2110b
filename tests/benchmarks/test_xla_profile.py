"""benchmarks/xla_profile.py: the op-by-op profile of a JAX-mode function finds its matrix products, inside
and outside a scan, with FLOP counts worked out here from the shapes."""

import importlib
import sys
from pathlib import Path

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import cle.backend as B

# benchmarks/ is not a package: its folder is put on the import path (appended: nothing installed
# is shadowed), as the scripts import each other when run as ``python benchmarks/<script>.py``.
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))
xla_profile = importlib.import_module("xla_profile")
compiled_hlo, format_report, instruction_flops, parse_hlo, profile_calls = (
    xla_profile.compiled_hlo, xla_profile.format_report, xla_profile.instruction_flops,
    xla_profile.parse_hlo, xla_profile.profile_calls)

HLO = """HloModule jit_small, entry_computation_layout={(f32[4,3]{1,0}, f32[3,5]{1,0})->f32[4,5]{1,0}}

%fused_computation (param_0: f32[4,3], param_1: f32[3,5]) -> f32[4,5] {
  %param_0 = f32[4,3]{1,0} parameter(0)
  %param_1 = f32[3,5]{1,0} parameter(1)
  ROOT %dot.7 = f32[4,5]{1,0} dot(%param_0, %param_1), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}

%body.2 (state: (s32[], f32[6,4])) -> (s32[], f32[6,4]) {
  %state = (s32[], f32[6,4]{1,0}) parameter(0)
  %gte.1 = f32[6,4]{1,0} get-tuple-element(%state), index=1
  %dot.3 = f32[4,4]{1,0} dot(%gte.1, %gte.1), lhs_contracting_dims={0}, rhs_contracting_dims={0}
  %i = s32[] get-tuple-element(%state), index=0
  ROOT %tuple.2 = (s32[], f32[6,4]{1,0}) tuple(%i, %gte.1)
}

ENTRY %main.9 (a: f32[4,3], b: f32[3,5]) -> f32[4,5] {
  %a = f32[4,3]{1,0} parameter(0)
  %b = f32[3,5]{1,0} parameter(1)
  %while.4 = (s32[], f32[6,4]{1,0}) while(%tuple.1), condition=%cond.3, body=%body.2
  %exponential.2 = f32[4,3]{1,0} exponential(%a)
  ROOT %fusion.1 = f32[4,5]{1,0} fusion(%exponential.2, %b), kind=kOutput, calls=%fused_computation
}
"""


def test_parse_hlo_gives_shapes_places_and_product_flops():
    instructions, loop_of_body = parse_hlo(HLO)
    assert loop_of_body == {"body.2": "while.4"}
    assert instructions["fusion.1"].shape == (4, 5) and instructions["fusion.1"].computation == "main.9"
    assert instructions["while.4"].shape is None  # a tuple
    assert instructions["dot.3"].computation == "body.2"
    assert instructions["fusion.1"].operands == ["exponential.2", "b"]
    # 2 * (4 x 5 outputs) * 3 contracted; a fusion counts the dot it calls
    assert instruction_flops(instructions["dot.7"], instructions) == 2 * 4 * 5 * 3
    assert instruction_flops(instructions["fusion.1"], instructions) == 2 * 4 * 5 * 3
    # contracting the left operand's dimension 0 (a transposed product): 6 summed terms
    assert instruction_flops(instructions["dot.3"], instructions) == 2 * 4 * 4 * 6
    assert instruction_flops(instructions["exponential.2"], instructions) == 0


def test_a_c_mode_function_has_no_xla_program():
    x = pt.matrix("x")
    fn = B.function([x], (x ** 2).sum(), mode="c")
    with pytest.raises(ValueError, match="not a JAX-mode function"):
        compiled_hlo(fn)


def test_profile_of_a_scan_counts_each_product_per_iteration(jax_float32):
    pytest.importorskip("jax")
    steps, batch, width, rows, inner, cols = 7, 16, 64, 96, 48, 80
    rng = np.random.default_rng(0)
    u = pytensor.shared(rng.standard_normal((width, width)).astype("float32") * 0.1, name="u")
    h0 = pt.tensor("h0", dtype="float32", shape=(batch, width))
    a = pt.tensor("a", dtype="float32", shape=(rows, inner))
    w = pt.tensor("w", dtype="float32", shape=(inner, cols))
    states = pytensor.scan(lambda h, u: pt.tanh(h @ u), outputs_info=[h0], non_sequences=[u],
                           n_steps=steps, return_updates=False)
    cost = states[-1].sum() + pt.exp(a @ w).sum()
    with B.precision("float32"):
        fn = B.function([h0, a, w], cost, mode="jax")
    arguments = [rng.standard_normal((batch, width)).astype("float32"),
                 rng.standard_normal((rows, inner)).astype("float32") * 0.1,
                 rng.standard_normal((inner, cols)).astype("float32") * 0.1]

    report = profile_calls(fn, lambda: float(fn(*arguments)), calls=2, untraced_calls=1)

    products = [row for row in report["rows"] if row["gflop"] > 0]
    in_loop = [row for row in products if row["where"].startswith("loop")]
    outside = [row for row in products if row["where"] == "outside loops"]
    assert len(in_loop) == 1 and len(outside) == 1
    assert in_loop[0]["executions"] == steps and in_loop[0]["shape"] == [batch, width]
    assert in_loop[0]["gflop"] == pytest.approx(2 * batch * width * width * steps / 1e9)
    assert outside[0]["executions"] == 1 and outside[0]["shape"] == [rows, cols]
    assert outside[0]["gflop"] == pytest.approx(2 * rows * inner * cols / 1e9)
    assert all(row["ms"] > 0 for row in products)
    assert not any(row["opcode"] == "while" for row in report["rows"])  # only what the loop runs
    text = format_report(report)
    assert "products, inside loops" in text and "products, outside loops" in text
    assert in_loop[0]["name"] in text and outside[0]["name"] in text
    assert "of the traced call" in text


def test_the_report_says_when_the_ops_cover_too_little_of_the_call():
    row = {"name": "dot.1", "opcode": "dot", "where": "outside loops", "shape": [4, 5], "executions": 1,
           "ms": 1.0, "gflop": 0.001}
    report = {"module": "m", "calls": 1, "untraced_s": [0.01], "rows": [row]}
    assert "incomplete" not in format_report(dict(report, traced_s=0.0011))  # 91 %
    assert "incomplete" in format_report(dict(report, traced_s=0.01))  # 10 %
