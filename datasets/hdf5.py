"""HDF5 helpers shared by the corpus modules: atomic writing and layout/version checks.

Every prepared file carries two root attributes, ``layout`` (a name per corpus) and
``version`` (an int bumped whenever the layout changes); readers refuse any other pair.
"""
import contextlib
import os
from pathlib import Path

import h5py

from nips2015_vrnn.datasets.errors import DataError


@contextlib.contextmanager
def atomic_h5(out_file, layout, version):
    """Write an HDF5 file under a temporary name, renamed to ``out_file`` only on success.

    Yields the open ``h5py.File`` with ``layout`` and ``version`` already set. On an
    exception the temporary file is removed and ``out_file`` is left untouched.
    """
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["layout"] = layout
            f.attrs["version"] = version
            yield f
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def open_layout(path, layout, version, producer):
    """Open a prepared HDF5 file for reading after checking its layout tag and version.

    Parameters
    ----------
    path : str or Path
    layout : str
        The expected ``layout`` attribute.
    version : int
        The expected ``version`` attribute.
    producer : str
        Name of the function that writes such files (said in the error message).

    Returns
    -------
    h5py.File, open read-only.

    Raises
    ------
    DataError
        Missing file, not HDF5, or another layout / version.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"no such file; expected an HDF5 file written by {producer}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(path, f"is not a readable HDF5 file ({exc}); expected the output of "
                              f"{producer}") from exc
    version_found = f.attrs.get("version")
    found = (_text(f.attrs.get("layout")),
             None if version_found is None else int(version_found))
    if found != (layout, version):
        f.close()
        raise DataError(path, f"has layout {found[0]!r} version {found[1]!r}; expected layout "
                              f"{layout!r} version {version} (re-run {producer})")
    return f


def _text(value):
    return value.decode() if isinstance(value, bytes) else value
