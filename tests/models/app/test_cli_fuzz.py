"""Every command, driven with random option values, paths and environment variables (hypothesis):
it exits 0, or says one ``Error:`` line (status 1, or 2 for a usage error), never a traceback.

Nothing compiles or trains: where a command would start the work after its checks (training,
loading a model, running a sweep's cells, importing a legacy pickle, generating the demo corpus),
a stand-in raises :class:`Reached`, which counts as passing its checks. The paths come from a
small world of runs, sweeps, files, folders and links made once per test module, and the
commands run in a temporary working folder.
"""
import json
import os
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from fuzz_strategies import FUZZ
from hypothesis import given, settings
from hypothesis import strategies as st

from cle.train.checkpoint import write_checkpoint
from nips2015_vrnn.datasets import demo, lookup
from nips2015_vrnn.models.app import cli, configure, legacy_import, rundir, sweep, trainer
from nips2015_vrnn.models.app.sweepdir import SweepSpec, create_sweep

#: The commands fuzzed (vrnn-prepare's subcommands one by one; 'demo' only generates data).
COMMANDS = ["train", "sample", "eval", "monitor", "sweep", "table", "import-legacy",
            "prepare blizzard", "prepare timit", "prepare sequences", "prepare iamondb", "prepare pianoroll",
            "prepare text"]
#: Options never given: --follow waits for a training that never ends; --verbose shows tracebacks.
LEFT_OUT = ("follow", "help", "verbose")


class Reached(Exception):
    """A stand-in for work that compiles or trains: the command's checks passed."""


def _reached(*args, **kwargs):
    raise Reached()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Paths a user may give: a run (untrained, with stand-in checkpoints), a broken run, a sweep,
    the demo data, an empty folder, a file, a link out, a missing path."""
    root = tmp_path_factory.mktemp("world")
    data = root / "data"  # a copy: a command may write where it is told
    shutil.copytree(lookup.ensure_demo_data(), data, ignore=shutil.ignore_patterns("blizzard", "iamondb"))
    fmt = "blizzard"
    config = configure.resolve_config(fmt, overrides=lookup.config_overrides(fmt, lookup.find_data_file(fmt, data)),
                                      demo=True)
    run = rundir.create_run(root / "run", fmt, config, data, mode="c", demo=True)
    for which in ("best", "last"):
        write_checkpoint(run.checkpoint_root / which, {"params": {"W": np.zeros(2)}},
                         {"trainlog": {"batch_seen": 3}})
    step = {"event": "monitor", "batch_seen": 2, "nll_upper_bound": 1.0}
    (run.path / "log.jsonl").write_text(json.dumps(step) + "\n")
    (root / "broken").mkdir()
    (root / "broken" / "config.json").write_text("{not json")
    create_sweep(root / "sweep", SweepSpec(fmt, True, str(data / "blizzard.h5"), ("rnn-gauss",), (1,)))
    (root / "empty").mkdir()
    (root / "file.txt").write_text("hello")
    (root / "out-link").symlink_to(tmp_path_factory.mktemp("elsewhere"))
    return [root / "run", root / "broken", root / "sweep", data, data / "blizzard.h5", root / "empty",
            root / "file.txt", root / "out-link", root / "missing" / "x", root / "new.h5", root / "run" / "samples"]


def _value(param, paths, sane):
    """A strategy of values for the click option or argument ``param``: mostly plausible ones (so
    the commands' deeper checks are reached), sometimes anything."""
    import click

    kind = param.type
    texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12)
    if isinstance(kind, click.Choice):
        plausible = st.sampled_from(list(kind.choices))
    elif isinstance(kind, (click.IntRange, click.types.IntParamType)):
        plausible = st.integers(-2, 12).map(str) | st.sampled_from(["200", "8000", str(2 ** 33), "10000000000"])
    elif isinstance(kind, (click.FloatRange, click.types.FloatParamType)):
        plausible = st.sampled_from(["0", "0.1", "0.5", "0.99", "1", "-0.1", "nan", "inf"])
    elif isinstance(kind, click.Path) or param.name in ("out", "data", "resume", "plot", "config_file"):
        plausible = st.sampled_from([str(p) for p in paths])
    elif param.name == "sets":
        keys = st.sampled_from(["rnn_dim", "batch_size", "lr", "k", "x_dim", "monitoring_freq", "no_such", ""])
        plausible = st.tuples(keys, st.sampled_from(["1", "0", "-5", "1e9", "nan", "abc", "2"])).map("=".join)
    elif param.name in ("models", "seeds", "channels"):
        plausible = st.sampled_from(["rnn-gauss", "vrnn-gmm,rnn-gauss", "1", "1,2", "-1", "1,1", "",
                                     "nll_upper_bound", "x,y"])
    elif param.name == "address":
        plausible = st.sampled_from(["tcp://127.0.0.1:1", "nonsense", "tcp://[::1", ""])
    else:
        plausible = texts
    return plausible if sane else st.one_of(plausible, texts, st.floats().map(str))


@st.composite
def invocations(draw, paths):
    """(command name, the click command, its arguments)."""
    name = draw(st.sampled_from(COMMANDS))
    sane = draw(st.booleans())  # only plausible values: the checks after click's are reached
    parts = name.split()
    command = cli.command(parts[0])
    if len(parts) == 2:
        command = command.commands[parts[1]]
    args = []
    for param in command.params:
        given_at_all = st.just(True) if getattr(param, "required", False) else st.booleans()
        if param.name in LEFT_OUT or not draw(given_at_all):
            continue
        many = 2 if param.multiple or param.nargs == -1 else 1
        values = draw(st.lists(_value(param, paths, sane), min_size=1, max_size=many))
        for value in values:
            if getattr(param, "is_flag", False):
                args.append(param.opts[0])
            elif param.param_type_name == "option":
                args += [param.opts[0], value]
            else:
                args.append(value)
    return name, command, args


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_any_options_and_paths_give_exit_0_or_one_error_line(world, tmp_path_factory, monkeypatch, data):
    for target, attribute in ((trainer, "train_run"), (rundir, "load_model"), (sweep, "run_cell"),
                              (sweep, "_dask_results"), (legacy_import, "import_legacy"), (demo, "prepare_demo"),
                              (lookup, "ensure_demo_data")):
        monkeypatch.setattr(target, attribute, _reached)
    name, command, args = data.draw(invocations([*world, *world[:3]]))
    paths = st.sampled_from([str(p) for p in world])
    env = data.draw(st.fixed_dictionaries({}, optional={
        "VRNN_MODE": st.sampled_from(["c", "jax", "numba", "bogus", ""]),
        "VRNN_FUNCTION_CACHE": paths | st.sampled_from(["off", ""]),
        "VRNN_DEMO_DIR": paths,
        "VRNN_DEBUG": st.sampled_from(["0", ""]),
    }))
    work = tmp_path_factory.mktemp("cwd")
    before = os.getcwd()
    os.chdir(work)  # relative paths the fuzz makes up land here
    try:
        result = CliRunner().invoke(command, args, catch_exceptions=True, env={"VRNN_FUNCTION_CACHE": "off", **env})
    finally:
        os.chdir(before)
    if isinstance(result.exception, Reached):
        return
    shown = f"{env} vrnn-{name} {args}\n{result.output}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback
        shown += "".join(traceback.format_exception(result.exception))
        pytest.fail(f"a traceback:\n{shown}")
    assert result.exit_code in (0, 1, 2), shown
    if result.exit_code:
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, shown
