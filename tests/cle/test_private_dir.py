"""cle.private_dir: folders made private whatever the umask; what another user could write refused."""
import os

import pytest

from cle import private_dir
from cle.private_dir import UnsafeFileError, open_private, private_folder, unsafe_folder, unsafe_tree, write_private


def test_folders_and_files_are_private_whatever_the_umask(tmp_path):
    previous = os.umask(0)
    try:
        folder = private_folder(tmp_path / "a" / "b")
        write_private(folder / "f", b"x")
    finally:
        os.umask(previous)
    assert [(p.stat().st_mode & 0o777) for p in (tmp_path / "a", folder)] == [0o700, 0o700]
    assert (folder / "f").stat().st_mode & 0o777 == 0o600
    assert unsafe_folder(folder) is None and unsafe_tree(tmp_path / "a") is None
    assert [p.name for p in folder.iterdir()] == ["f"]  # no temporary left


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o775])
def test_a_folder_others_can_write_is_refused(tmp_path, mode):
    folder = private_folder(tmp_path / "cache")
    os.chmod(folder, mode)
    assert "writable by group or others" in unsafe_folder(folder)
    inner = private_folder(folder / "inner")
    assert unsafe_folder(inner, root=folder) is not None  # the chain down from the root is checked
    assert unsafe_tree(folder) is not None


def test_a_sticky_folder_above_the_cache_is_allowed_a_loose_one_is_not(tmp_path):
    above = tmp_path / "above"
    above.mkdir()
    os.chmod(above, 0o1777)
    assert unsafe_folder(private_folder(above / "cache")) is None
    os.chmod(above, 0o777)
    assert "without the sticky bit" in unsafe_folder(above / "cache")


def test_symbolic_links_are_refused(tmp_path):
    real = private_folder(tmp_path / "real")
    write_private(real / "f", b"x")
    (tmp_path / "link").symlink_to(real)
    assert "symbolic link" in unsafe_folder(tmp_path / "link")
    (real / "g").symlink_to(real / "f")
    assert "symbolic link" in unsafe_tree(real)
    with pytest.raises(OSError):
        open_private(real / "g")


def test_a_loose_file_is_refused_or_repaired_when_asked(tmp_path):
    folder = private_folder(tmp_path / "cache")
    write_private(folder / "f", b"x")
    os.chmod(folder / "f", 0o666)
    with pytest.raises(UnsafeFileError, match="writable by group or others"):
        open_private(folder / "f")
    assert unsafe_tree(folder) is not None
    assert unsafe_tree(folder, repair_files=True) is None
    assert (folder / "f").stat().st_mode & 0o777 == 0o644
    assert open_private(folder / "f").read() == b"x"


def test_a_failed_write_leaves_no_temporary(tmp_path, monkeypatch):
    folder = private_folder(tmp_path / "cache")

    def full(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(private_dir.os, "replace", full)
    with pytest.raises(OSError):
        write_private(folder / "f", b"x" * 10)
    assert list(folder.iterdir()) == []
