import h5py
import pytest

from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.hdf5 import atomic_h5, open_layout


def test_atomic_file_appears_only_when_complete(tmp_path):
    out = tmp_path / "x.h5"
    with atomic_h5(out, "demo-layout", 2) as f:
        f["a"] = [1, 2]
        assert not out.exists()
    with open_layout(out, "demo-layout", 2, "maker") as f:
        assert f["a"][()].tolist() == [1, 2]


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_h5(tmp_path / "x.h5", "demo-layout", 2):
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_untagged_hdf5_is_another_layout(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w"):
        pass
    with pytest.raises(DataError, match="layout None version None; expected layout 'l' "
                                        r"version 1 \(re-run maker\)"):
        open_layout(tmp_path / "x.h5", "l", 1, "maker")
