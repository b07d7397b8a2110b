"""cle.backend: XLA's persistent cache (machine code) is used only from the user's private folder."""
import logging
import os

import pytest

from cle.backend import start_jax


@pytest.fixture
def jax_cache_unset(jax_float32):
    """JAX's persistent-cache folder unset for the test, restored after."""
    import jax

    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    yield jax
    jax.config.update("jax_compilation_cache_dir", before)


def test_xla_cache_is_made_private_whatever_the_umask(tmp_path, jax_cache_unset):
    previous = os.umask(0)
    try:
        start_jax("float32", xla_cache=tmp_path / "store" / "xla")
    finally:
        os.umask(previous)
    assert jax_cache_unset.config.jax_compilation_cache_dir == str(tmp_path / "store" / "xla")
    assert (tmp_path / "store" / "xla").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "store").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("mode", [0o777, 0o1777])
def test_an_xla_cache_others_can_write_is_refused(tmp_path, jax_cache_unset, caplog, mode):
    folder = tmp_path / "xla"
    folder.mkdir()
    os.chmod(folder, mode)
    (folder / "planted-cache").write_bytes(b"machine code")
    with caplog.at_level(logging.WARNING, logger="cle.backend"):
        start_jax("float32", xla_cache=folder)
    assert not jax_cache_unset.config.jax_compilation_cache_dir
    assert "refused" in caplog.text and "writable by group or others" in caplog.text


def test_a_symlinked_xla_cache_or_entry_is_refused(tmp_path, jax_cache_unset, caplog):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "xla").symlink_to(real)
    with caplog.at_level(logging.WARNING, logger="cle.backend"):
        start_jax("float32", xla_cache=tmp_path / "xla")
    assert not jax_cache_unset.config.jax_compilation_cache_dir and "symbolic link" in caplog.text
    (real / "entry-cache").symlink_to(tmp_path / "elsewhere")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cle.backend"):
        start_jax("float32", xla_cache=real)
    assert not jax_cache_unset.config.jax_compilation_cache_dir and "symbolic link" in caplog.text
