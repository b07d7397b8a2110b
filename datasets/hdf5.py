"""HDF5 helpers shared by the corpus modules: atomic writing and layout/version checks.

Every prepared file carries two root attributes, ``layout`` (a name per corpus) and
``version`` (an int bumped whenever the layout changes); readers refuse any other pair. A third,
``integrity``, is the sha256 of every attribute and dataset shape (the statistics training
depends on included): a file whose attributes were changed after writing is refused.
"""
import contextlib
import ctypes
import hashlib
import logging
import os
import shutil
from pathlib import Path

import h5py
import numpy as np

from nips2015_vrnn.datasets.errors import DataError

log = logging.getLogger(__name__)


#: Root attribute holding the checksum of the file's attributes and dataset shapes.
INTEGRITY = "integrity"


@contextlib.contextmanager
def atomic_h5(out_file, layout, version, companions=()):
    """Write an HDF5 file under a temporary name, renamed to ``out_file`` only on success.

    Yields the open ``h5py.File`` with ``layout`` and ``version`` already set. When the block
    ends, the :data:`INTEGRITY` checksum (see :func:`integrity_of`) is stamped, the file is
    closed, each of ``companions`` (files the block wrote at :func:`temporary_path`) is renamed
    into place, then the HDF5 file. On an exception every temporary is removed and
    ``out_file`` is left untouched; a write that fails for want of room (or any other error of
    the output file) is a :class:`DataError` naming ``out_file``. Temporaries left by killed
    writers (their process gone) are removed first.
    """
    out = Path(out_file)
    companions = [Path(c) for c in companions]
    out.parent.mkdir(parents=True, exist_ok=True)
    for path in [out] + companions:
        _remove_stale_temporaries(path)
    tmp = temporary_path(out)
    handle = None
    try:
        handle = h5py.File(tmp, "w")
        handle.attrs["layout"] = layout
        handle.attrs["version"] = version
        yield handle
        handle.attrs[INTEGRITY] = integrity_of(handle)
        handle.flush()  # a write failing here leaves every object open, to be abandoned
        handle.close()
        handle = None
        for companion in companions:
            os.replace(temporary_path(companion), companion)
        os.replace(tmp, out)
    except (OSError, RuntimeError) as exc:
        ours = [str(tmp)] + [str(temporary_path(c)) for c in companions] + [str(c) for c in companions]
        if isinstance(exc, RuntimeError) and not _raised_by_h5py(exc):
            raise  # a bug, not a write failure
        if getattr(exc, "filename", None) is not None and str(exc.filename) not in ours + [str(out)]:
            raise  # an input file's error, not the output's
        if handle is not None:
            _abandon(handle)
            handle = None
        raise DataError(out, f"cannot be written ({_write_failure(exc, out.parent)}); expected "
                             f"room and write access in {out.parent}") from None
    finally:
        if handle is not None:
            _close_quietly(handle)
        for path in [tmp] + [temporary_path(c) for c in companions]:
            with contextlib.suppress(OSError):
                path.unlink()


def temporary_path(path):
    """The temporary name ``path`` is written under by this process: ``.<name>.tmp-<pid>``."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


#: HDF5 objects of files whose write failed, kept open until the process ends (see _abandon).
_ABANDONED = []


def _abandon(handle):
    """Never close an HDF5 file whose write failed (e.g. the disk filled).

    Closing it, then or when its objects are garbage-collected, makes HDF5 flush the failed
    writes again, and h5py crashes the process (a segfault at exit). Every open object of the
    file gets one more reference, in HDF5 and in Python, so it lives until the process ends;
    the temporary file itself is unlinked by the caller (its space is freed at exit).
    """
    try:
        ids = [handle.id] + list(h5py.h5f.get_obj_ids(handle.id, h5py.h5f.OBJ_ALL))
    except Exception as exc:  # the file is already unusable: keep what we have
        log.debug("listing the objects of %s: %s", handle, exc)
        ids = [handle.id]
    for obj in ids:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
    _ABANDONED.append(ids)


def _raised_by_h5py(exc):
    """True when the innermost frame of ``exc``'s traceback is h5py's (h5py reports some write
    failures as RuntimeError)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and "h5py" in Path(tb.tb_frame.f_code.co_filename).parts


def _write_failure(exc, folder):
    """What went wrong writing into ``folder``, in a few words."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    errno_ = getattr(exc, "errno", None)
    reason = os.strerror(errno_) if errno_ else "the write failed"
    return reason if free is None else f"{reason}; {free} bytes free there"


def _close_quietly(handle):
    try:
        handle.close()
    except Exception as exc:  # the write already failed; that error is the one to report
        log.debug("closing %s after a failed write: %s", handle, exc)


def _remove_stale_temporaries(path):
    """Remove ``.<name>.tmp-<pid>`` files beside ``path`` whose writing process is gone."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                stale.unlink()
                log.info("removed %s, left by a preparation that was stopped", stale)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def integrity_of(handle):
    """sha256 (hex) of every attribute (but :data:`INTEGRITY`) and every dataset's name, shape and
    dtype in an open HDF5 file: what readers rely on besides the data itself."""
    digest = hashlib.sha256()

    def add(name, obj):
        if isinstance(obj, h5py.Dataset):
            digest.update(f"dataset {name} {obj.shape} {obj.dtype.str}\n".encode())
        for key in sorted(obj.attrs):
            if obj.name == "/" and key == INTEGRITY:
                continue
            value = np.asarray(obj.attrs[key])
            if value.dtype == object:
                value = np.asarray([_text(v) for v in value.reshape(-1)], dtype=str)
            digest.update(f"attr {name} {key} {value.dtype.str} {value.shape}\n".encode())
            digest.update(value.tobytes())

    add("/", handle)
    handle.visititems(add)
    return digest.hexdigest()


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
    try:
        found = (_text(f.attrs.get("layout")), _version(f.attrs.get("version")))
    except (OSError, KeyError) as exc:
        f.close()
        raise DataError(path, f"its attributes cannot be read ({exc}); expected the output of "
                              f"{producer}") from None
    if found != (layout, version):
        f.close()
        raise DataError(path, f"has layout {found[0]!r} version {found[1]!r}; expected layout "
                              f"{layout!r} version {version} (re-run {producer})")
    stamped = _text(f.attrs.get(INTEGRITY))
    try:
        actual = integrity_of(f)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        f.close()
        raise DataError(path, f"its attributes cannot be read ({exc}); the file is damaged: "
                              f"re-run {producer}") from None
    if stamped != actual:
        f.close()
        problem = ("has no integrity checksum" if stamped is None else
                   "fails its integrity check (an attribute or a dataset's shape was changed)")
        raise DataError(path, f"{problem}; expected the file as {producer} wrote it (re-run "
                              f"{producer})")
    return f


def _version(value):
    """The ``version`` attribute as an int, or what it is (repr) when it is not one integer."""
    array = np.asarray(value) if value is not None else None
    if array is not None and array.shape == () and array.dtype.kind in "iu":
        return int(array)
    return value if value is None else repr(value)


def _text(value):
    """A str attribute as str (bytes decoded); anything else as its repr (None stays None)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if value is None or isinstance(value, str) else repr(value)
