"""vrnn-prepare blizzard reads the legacy pickled data_*.npy files only with --allow-pickle."""
import h5py
import numpy as np
from click.testing import CliRunner

from nips2015_vrnn.models.app import cli


def _write_legacy_npy(folder):
    rng = np.random.default_rng(0)
    waves = np.empty(3, dtype=object)
    for i in range(3):
        waves[i] = (rng.normal(0, 3000, 16000 * 2)).astype(np.int16)
    np.save(folder / "data_0.npy", waves, allow_pickle=True)


def test_legacy_npy_is_read_with_allow_pickle(tmp_path):
    src = tmp_path / "legacy"
    src.mkdir()
    _write_legacy_npy(src)
    out = tmp_path / "blz.h5"
    args = ["blizzard", str(src), str(out), "--seq-len", "800", "--batch-size", "2",
            "--allow-pickle"]
    result = CliRunner().invoke(cli.prepare, args)
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as f:
        rows = f["data"]
        assert rows.dtype == np.int16 and rows.shape[1] == 800
        assert rows.shape[0] == 2 * ((3 * 32000) // (2 * 800))


def test_legacy_npy_is_refused_without_allow_pickle(tmp_path):
    src = tmp_path / "legacy"
    src.mkdir()
    _write_legacy_npy(src)
    result = CliRunner().invoke(cli.prepare, ["blizzard", str(src), str(tmp_path / "b.h5")])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "pickle" in result.output.lower()
