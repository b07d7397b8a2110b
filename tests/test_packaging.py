"""The installed import names: the legacy paths work, the generic top-level names are not claimed."""
import subprocess
import sys

import pytest


def _python(code, tmp_path):
    """Run ``code`` in a fresh interpreter outside the repository (so only installed packages count)."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
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


def test_importing_cle_selects_float32_and_the_c_backend(tmp_path):
    result = _python("import cle, pytensor, cle.backend as B; print(pytensor.config.floatX, B.mode_name())", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["float32", "c"]
