"""Where a JAX-mode function's time goes, op by op, with each matrix product's FLOP rate.

PyTensor's profiler sees a JAX-mode function as one node (the whole XLA program), so the
op-level profile comes from XLA: :func:`profile_calls` runs the function under JAX's profiler,
reads the trace XLA's CPU runtime writes (one event per executed HLO instruction, a loop body's
once per iteration), and joins it to the optimized HLO of the compiled program
(:func:`compiled_hlo`), which gives each instruction its shape, its operation and the
computation it runs in. For a matrix product (``dot``, or a fusion that contains one) the FLOP
count is ``2 * prod(output shape) * prod(contracted dimensions of the left operand)``.

The report (:func:`format_report`) gives, per call: the time of the products and of the other
work, outside and inside loops (``while`` bodies: the scans), their GFLOP/s, then the
instructions that took longest. Times are from the traced calls, which run somewhat slower
than untraced ones (the report gives both). Container instructions (``while``, ``call``,
``conditional``) are not counted: their bodies' instructions are. Profile with one thread
(XLA's CPU runtime pinned to one CPU): with more, an op XLA splits over its thread pool is
traced as its dispatch only, and the report says its times are incomplete.

Usage, for a function ``fn`` compiled in JAX mode and a callable that runs one step::

    report = profile_calls(fn, lambda: fn(batch), calls=2)
    print(format_report(report))
"""
import glob
import gzip
import json
import math
import os
import re
import tempfile
import time
from dataclasses import dataclass, field

from cle.finish import lowered

__all__ = ["Instruction", "parse_hlo", "instruction_flops", "compiled_hlo", "trace_op_times",
           "profile_calls", "format_report"]

#: Below this share of the traced call's wall time in the instructions' events, the report says
#: the per-op times are incomplete (with several threads, XLA's event for a product split over its
#: thread pool times the dispatch, not the work).
MIN_COVERAGE = 0.8
#: Instructions that only run other computations; their time is their body's.
CONTAINER_OPCODES = frozenset({"while", "call", "conditional"})

_COMPUTATION = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) .*\{\s*$")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (\(.*?\)|[\w]+\[[\d,]*\](?:\{[^}]*\})?) ([\w\-]+)\((.*)$")
_SHAPE = re.compile(r"^[a-z]+\d*\[([\d,]*)\]")


@dataclass
class Instruction:
    """One HLO instruction: its ``name``, the ``computation`` it is in, its ``shape`` (dims of an
    array result; None for a tuple), ``opcode``, operand names, and the text after the operands."""

    name: str
    computation: str
    shape: tuple | None
    opcode: str
    operands: list = field(default_factory=list)
    attributes: str = ""


def _dims(shape_text):
    match = _SHAPE.match(shape_text)
    if not match:
        return None
    return tuple(int(v) for v in match.group(1).split(",") if v)


def parse_hlo(text):
    """``{name: Instruction}`` of every instruction of an HLO module's text (names are unique in a
    module), plus ``{body computation: while instruction}`` for the loops; returns both."""
    instructions, loop_of_body = {}, {}
    computation = None
    for line in text.splitlines():
        if not line.startswith(" "):
            match = _COMPUTATION.match(line)
            if match:
                computation = match.group(1)
            continue
        match = _INSTRUCTION.match(line)
        if not match or computation is None:
            continue
        name, shape, opcode, rest = match.groups()
        operand_text = rest.split(")", 1)[0]
        operands = re.findall(r"%([\w.\-]+)", operand_text)
        attributes = rest[len(operand_text):]
        instructions[name] = Instruction(name, computation, _dims(shape), opcode, operands, attributes)
        if opcode == "while":
            body = re.search(r"body=%?([\w.\-]+)", attributes)
            if body:
                loop_of_body[body.group(1)] = name
    return instructions, loop_of_body


def _dot_flops(dot, instructions):
    lhs = instructions.get(dot.operands[0]) if dot.operands else None
    contracting = re.search(r"lhs_contracting_dims=\{([\d,]*)\}", dot.attributes)
    if lhs is None or lhs.shape is None or dot.shape is None or contracting is None:
        return 0
    inner = math.prod(lhs.shape[int(d)] for d in contracting.group(1).split(",") if d)
    return 2 * math.prod(dot.shape) * inner


def instruction_flops(instruction, instructions):
    """Matrix-product FLOPs of one execution of ``instruction``: a ``dot``'s, or the sum over the
    dots in the computation a ``fusion`` calls; 0 for anything else."""
    if instruction.opcode == "dot":
        return _dot_flops(instruction, instructions)
    if instruction.opcode == "fusion":
        called = re.search(r"calls=%?([\w.\-]+)", instruction.attributes)
        if called:
            return sum(_dot_flops(i, instructions) for i in instructions.values()
                       if i.opcode == "dot" and i.computation == called.group(1))
    return 0


def compiled_hlo(fn):
    """The optimized HLO text of the XLA program of the JAX-mode function ``fn`` (compiled for the
    static shapes of its inputs, as :func:`cle.finish.compile_ahead` does; JAX's cache makes this
    cheap when it already was)."""
    program = lowered(fn)
    if program is None:
        raise ValueError("not a JAX-mode function with inputs of known shape: no XLA program to profile")
    return program.compile().as_text()


def trace_op_times(call, calls, directory, module):
    """Run ``call()`` ``calls`` times under JAX's profiler writing to ``directory``; returns
    ``({hlo instruction: total microseconds}, {hlo instruction: executions}, seconds per call)``
    over the events of the HLO module named ``module`` (the seconds: the calls' wall time, the
    profiler's start and stop excluded)."""
    import jax

    with jax.profiler.trace(directory, create_perfetto_trace=True):
        began = time.perf_counter()
        for _ in range(calls):
            call()
        seconds = (time.perf_counter() - began) / calls
    paths = glob.glob(os.path.join(directory, "**", "*perfetto_trace.json.gz"), recursive=True)
    if not paths:
        raise RuntimeError(f"JAX's profiler wrote no trace under {directory}")
    with gzip.open(max(paths, key=os.path.getmtime)) as handle:
        trace = json.load(handle)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    times, counts = {}, {}
    for event in events:
        args = event.get("args") or {}
        if event.get("ph") != "X" or args.get("hlo_module") != module or "hlo_op" not in args:
            continue
        name = args["hlo_op"]
        times[name] = times.get(name, 0.0) + float(event.get("dur", 0.0))
        counts[name] = counts.get(name, 0) + 1
    return times, counts, seconds


def profile_calls(fn, call, calls=2, untraced_calls=3):
    """Profile the JAX-mode function ``fn``: time ``untraced_calls`` runs of ``call()`` (which must
    run ``fn`` once and wait for its result), then trace ``calls`` more. Returns a dict: per-call
    seconds untraced and traced, and one row per executed instruction (name, opcode, where,
    shape, executions per call, milliseconds per call, GFLOP per call)."""
    text = compiled_hlo(fn)
    module = re.match(r"HloModule ([\w.\-]+)", text).group(1)
    entry = re.search(r"^ENTRY %?([\w.\-]+)", text, re.MULTILINE).group(1)
    instructions, loop_of_body = parse_hlo(text)
    untraced = []
    for _ in range(untraced_calls):
        began = time.perf_counter()
        call()
        untraced.append(time.perf_counter() - began)
    with tempfile.TemporaryDirectory(prefix="xla-profile-") as directory:
        times, counts, traced = trace_op_times(call, calls, directory, module)
    rows = []
    for name, micros in times.items():
        instruction = instructions.get(name)
        if instruction is None or instruction.opcode in CONTAINER_OPCODES:
            continue
        loop = loop_of_body.get(instruction.computation)
        rows.append({
            "name": name,
            "opcode": instruction.opcode,
            "where": f"loop {loop}" if loop else ("outside loops" if instruction.computation == entry
                                                   else instruction.computation),
            "shape": list(instruction.shape) if instruction.shape is not None else None,
            "executions": counts[name] / calls,
            "ms": micros / 1e3 / calls,
            "gflop": instruction_flops(instruction, instructions) * counts[name] / calls / 1e9,
        })
    rows.sort(key=lambda row: -row["ms"])
    return {"module": module, "calls": calls, "untraced_s": sorted(untraced), "traced_s": traced, "rows": rows}


def _rate(gflop, ms):
    return f"{gflop / ms * 1e3:6.1f}" if ms > 0 and gflop > 0 else "     -"


def format_report(report, top=40):
    """The report of :func:`profile_calls` as text: totals by kind and place, then the ``top``
    instructions by time."""
    rows = report["rows"]
    untraced = report["untraced_s"]
    lines = [f"XLA program {report['module']}: {report['calls']} traced calls, "
             f"{report['traced_s'] * 1e3:.1f} ms per traced call; untraced calls "
             f"{', '.join(f'{s * 1e3:.1f}' for s in untraced)} ms",
             "", "per call                                ms   share  GFLOP  GFLOP/s"]
    total_ms = sum(row["ms"] for row in rows) or 1.0
    groups = {}
    for row in rows:
        kind = "products" if row["gflop"] > 0 else "other"
        place = "inside loops" if row["where"].startswith("loop") else "outside loops"
        key = f"{kind}, {place}"
        ms, gflop = groups.get(key, (0.0, 0.0))
        groups[key] = (ms + row["ms"], gflop + row["gflop"])
    for key, (ms, gflop) in sorted(groups.items(), key=lambda item: -item[1][0]):
        lines.append(f"{key:34s} {ms:8.1f} {ms / total_ms:6.1%} {gflop:6.2f}  {_rate(gflop, ms)}")
    coverage = total_ms / (report["traced_s"] * 1e3)
    lines.append(f"{'all instructions':34s} {total_ms:8.1f} ({coverage:.0%} of the traced call)")
    if coverage < MIN_COVERAGE:
        lines.append("  (XLA ran part of the work on other threads, where an op's event times only its dispatch:"
                     " per-op times are incomplete; profile with one thread)")
    lines += ["", f"{'ms/call':>8s} {'runs':>5s} {'GFLOP/s':>7s}  {'opcode':10s} {'shape':18s} {'where':24s} name"]
    for row in rows[:top]:
        shape = "x".join(str(d) for d in row["shape"]) if row["shape"] is not None else "tuple"
        lines.append(f"{row['ms']:8.2f} {row['executions']:5.0f} {_rate(row['gflop'], row['ms']):>7s}  "
                     f"{row['opcode'][:10]:10s} {shape[:18]:18s} {row['where'][:24]:24s} {row['name']}")
    return "\n".join(lines)
