"""The installed import names: the legacy paths work, the generic top-level names are not claimed."""
import importlib.util
import subprocess
import sys

import pytest


def _python(code, tmp_path, **env):
    """Run ``code`` in a fresh interpreter outside the repository (so only installed packages count)."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", **env}
    )


def test_legacy_import_paths_work(tmp_path):
    code = (
        "from cle.cost import GMM, BiGMM\n"
        "from cle.layers import InitCell\n"
        "from cle.layers.feedforward import FullyConnectedLayer\n"
        "from cle.layers.recurrent import LSTM\n"
        "from cle.utils.op import logsumexp, Gaussian_sample\n"
        "import nips2015_vrnn.models, nips2015_vrnn.datasets\n"
        "from nips2015_vrnn.datasets.blizzard import Blizzard_tbptt\n"
        "print('ok')\n"
    )
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize("name", ["models", "datasets"])
def test_generic_top_level_names_are_not_claimed(tmp_path, name):
    result = _python(f"import {name}", tmp_path)
    assert result.returncode != 0
    assert "ModuleNotFoundError" in result.stderr


@pytest.mark.parametrize("flags", [None, "floatX=float64", "floatX=float32"])
def test_importing_the_project_changes_nothing_in_pytensor(tmp_path, flags):
    code = (
        "import importlib, pytensor\n"
        "f = pytensor.config.floatX\n"
        "s = importlib.import_module('pytensor.scan.op')\n"
        "g = s.forced_replace\n"
        "import cle, cle.train, cle.backend, nips2015_vrnn.models, nips2015_vrnn.datasets\n"
        "import nips2015_vrnn.models.app.cli, nips2015_vrnn.datasets.lookup\n"
        "assert pytensor.config.floatX == f, (pytensor.config.floatX, f)\n"
        "assert s.forced_replace is g\n"
        "print(f)\n"
    )
    env = {"PYTENSOR_FLAGS": flags} if flags else {}
    result = _python(code, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [flags.split("=")[1] if flags else "float64"]


#: The mode a command picks with no VRNN_MODE and no --mode: JAX when the jax extra is installed.
PROGRAM_MODE = "jax" if importlib.util.find_spec("jax") else "c"


@pytest.mark.parametrize("env, expected", [({}, ["c", "float32", "highest", PROGRAM_MODE]),
                                           ({"VRNN_MODE": "C"}, ["c", "float32", "highest", "c"]),
                                           ({"PYTENSOR_FLAGS": "floatX=float64"},
                                            ["c", "float32", "highest", PROGRAM_MODE])])
def test_the_library_compiles_in_c_and_commands_follow_the_environment(tmp_path, env, expected):
    code = ("import cle.backend as B; b = B.Backend()\n"
            "print(b.mode, b.floatX, b.matmul_precision, B.Backend.for_program().mode)")
    result = _python(code, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == expected


def test_compiling_changes_nothing_in_pytensor_or_jax(tmp_path):
    pytest.importorskip("jax")
    code = (
        "import importlib, warnings, jax, pytensor, pytensor.tensor as pt\n"
        "import cle.backend as B\n"
        "B.start_jax('float32')  # the program's start\n"
        "s = importlib.import_module('pytensor.scan.op')\n"
        "before = (pytensor.config.floatX, s.forced_replace, pt.zeros, jax.config.jax_enable_x64,\n"
        "          jax.config.jax_compilation_cache_dir, jax.config.jax_default_matmul_precision,\n"
        "          len(warnings.filters))\n"
        "from cle.utils.scan import scan\n"
        "x = pt.tensor('x', dtype='float32', shape=(3, 2))\n"
        "h = scan(lambda x_t, h: pt.tanh(x_t + h), sequences=[x], outputs_info=[pt.zeros((2,), dtype='float32')])\n"
        "g = pytensor.grad(h.sum(), x)\n"
        "B.function([x], [h, g], backend=B.Backend(mode='jax'))\n"
        "B.function([x], [h, g], backend=B.Backend(mode='c'))\n"
        "after = (pytensor.config.floatX, s.forced_replace, pt.zeros, jax.config.jax_enable_x64,\n"
        "         jax.config.jax_compilation_cache_dir, jax.config.jax_default_matmul_precision,\n"
        "         len(warnings.filters))\n"
        "assert before == after, (before, after)\n"
        "print('ok')\n"
    )
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok"]


def test_the_program_default_mode_is_the_first_installed_of_the_preference(monkeypatch):
    import cle.backend as B

    monkeypatch.delenv("VRNN_MODE", raising=False)
    monkeypatch.setattr(B, "installed", lambda name: name != "jax")
    assert B.program_default_mode() == "c"
    monkeypatch.setattr(B, "installed", lambda name: True)
    assert B.program_default_mode() == "jax"
    monkeypatch.setenv("VRNN_MODE", "C")
    assert B.program_default_mode() == "c"


def test_every_command_has_its_console_script():
    """setup.py's entry points are ``vrnn-<name>=...cli:scripts.<name>`` (a '-' of the name is '_' in
    the attribute) for exactly the commands of ``cli.COMMANDS``, and each names a callable that exists."""
    import re
    from pathlib import Path

    from nips2015_vrnn.models.app import cli

    setup = (Path(__file__).resolve().parents[1] / "setup.py").read_text()
    entries = re.findall(r'"vrnn-([\w-]+)=nips2015_vrnn\.models\.app\.cli:scripts\.(\w+)"', setup)
    assert entries and all(script.replace("-", "_") == attr for script, attr in entries)
    assert sorted(name for name, _ in entries) == sorted(cli.COMMANDS)
    assert all(callable(getattr(cli.scripts, attr)) for _, attr in entries)
