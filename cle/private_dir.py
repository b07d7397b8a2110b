"""Private cache folders: made 0700 whatever the umask, and checked before anything in them is
trusted (the rule OpenSSH applies to ``~/.ssh``).

A cache of compiled code (:mod:`cle.function_store`'s pickles, XLA's programs) is code: loading
an entry runs whatever whoever wrote it put there. Such a folder is trusted only when nobody but
its user could have written into it:

- the folder and every folder inside it down to the file: a real directory (:func:`os.lstat`, no
  symbolic link), owned by the user, not writable by group or others (a sticky 1777 folder lets
  anyone add entries: refused too);
- the folders above it, up to ``/``: owned by the user or root, and writable by group or others
  only when sticky (as ``/tmp``: nobody else can rename the user's folder away there);
- each file: a regular file (opened without following a symbolic link), owned by the user, not
  writable by group or others.

A folder that fails is never repaired (entries may already have been planted): the caller
refuses it in one line and compiles afresh. :func:`private_folder` makes missing folders 0700,
and :func:`write_private` writes a file 0600, whatever the umask.

Example
-------
>>> import tempfile, os
>>> root = private_folder(Path(tempfile.mkdtemp()) / 'store' / 'xla')
>>> oct(root.stat().st_mode & 0o777), unsafe_folder(root) is None
('0o700', True)
>>> os.chmod(root, 0o777)
>>> unsafe_folder(root)  # doctest: +ELLIPSIS
'.../store/xla is writable by group or others (mode 0777; expected 0700)'
"""
import errno
import os
import stat
from pathlib import Path

__all__ = ["FOLDER_MODE", "FILE_MODE", "private_folder", "unsafe_folder", "unsafe_tree",
           "open_private", "write_private", "UnsafeFileError"]

#: Mode of the folders a cache makes (the user only).
FOLDER_MODE = 0o700
#: Mode of the files a cache writes (the user only).
FILE_MODE = 0o600
#: Bits that let group or others write.
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


class UnsafeFileError(OSError):
    """A cache file another user could have written (the message says which and why)."""


def _mode(st):
    return f"mode {stat.S_IMODE(st.st_mode):04o}"


def _private_reason(path, st, kind="folder"):
    """Why the lstat ``st`` of ``path`` is not the user's private ``kind``, or None."""
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link (expected a real {kind})"
    if kind == "folder" and not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a folder"
    if kind == "file" and not stat.S_ISREG(st.st_mode):
        return f"{path} is not a regular file"
    if st.st_uid != os.geteuid():
        return f"{path} is owned by uid {st.st_uid}, not by this user (uid {os.geteuid()})"
    if st.st_mode & _OTHERS_WRITE:
        expected = FOLDER_MODE if kind == "folder" else FILE_MODE
        return f"{path} is writable by group or others ({_mode(st)}; expected {expected:04o})"
    return None


def _ancestor_reason(path):
    """Why the folders above ``path`` (resolved) would let another user replace it, or None."""
    chain = [Path(os.path.realpath(path.parent))]
    chain += list(chain[0].parents)
    for folder in chain:
        try:
            st = os.lstat(folder)
        except OSError as err:
            return f"{folder} cannot be checked ({err.strerror})"
        if st.st_uid not in (0, os.geteuid()):
            return f"{folder} (above {path}) is owned by uid {st.st_uid}, not by this user or root"
        if st.st_mode & _OTHERS_WRITE and not st.st_mode & stat.S_ISVTX:
            return f"{folder} (above {path}) is writable by group or others without the sticky bit ({_mode(st)})"
    return None


def unsafe_folder(folder, root=None):
    """Why ``folder`` is not private (a string naming the folder and the problem), or None.

    ``root`` (default ``folder``) is the top of the cache: ``folder`` and each folder between it
    and ``root`` must be the user's private folder, the folders above ``root`` may not let another
    user replace it (see the module doc). A missing folder is reported too.
    """
    folder = Path(folder)
    root = folder if root is None else Path(root)
    chain = [folder] + [p for p in folder.parents if root in p.parents or p == root]
    for path in chain:
        try:
            st = os.lstat(path)
        except OSError as err:
            return f"{path} cannot be checked ({err.strerror})"
        reason = _private_reason(path, st)
        if reason:
            return reason
    return _ancestor_reason(root)


def unsafe_tree(root, repair_files=False):
    """Why the folder ``root`` or anything under it is not private, or None: every folder and
    file under it checked with :func:`os.lstat` (no symbolic links).

    ``repair_files``: a regular file owned by the user but writable by group or others is made
    0600 instead of refused (for a cache whose writer follows the umask, as XLA's does: inside a
    private folder nobody else could have reached it).
    """
    reason = unsafe_folder(root)
    if reason:
        return reason
    for here, folders, files in os.walk(root):
        for name in folders + files:
            path = Path(here) / name
            try:
                st = os.lstat(path)
            except OSError:
                continue  # removed meanwhile
            kind = "folder" if name in folders and stat.S_ISDIR(st.st_mode) else "file"
            reason = _private_reason(path, st, kind)
            if reason and repair_files and kind == "file" and stat.S_ISREG(st.st_mode) \
                    and st.st_uid == os.geteuid():
                os.chmod(path, stat.S_IMODE(st.st_mode) & ~_OTHERS_WRITE)
                reason = None
            if reason:
                return reason
    return None


def private_folder(folder):
    """Make ``folder`` and the missing folders above it with mode 0700 (whatever the umask);
    returns it as a Path. Existing folders are left as they are (see :func:`unsafe_folder`)."""
    folder = Path(folder)
    missing = [folder] + [p for p in folder.parents if not os.path.lexists(p)]
    for path in reversed([p for p in missing if not os.path.lexists(p)]):
        try:
            os.mkdir(path, FOLDER_MODE)
        except FileExistsError:
            continue  # made by another process meanwhile: checked by the caller
        os.chmod(path, FOLDER_MODE)  # the umask may have taken bits away; never adds any
    return folder


def open_private(path):
    """Open ``path`` for reading when it is the user's private regular file (no symbolic link
    followed; checked on the open file, so it cannot be swapped between check and read).

    Raises
    ------
    UnsafeFileError
        When it is not (the message names the file and the problem).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UnsafeFileError(f"{path} is a symbolic link (expected a real file)") from None
        raise
    reason = _private_reason(path, os.fstat(fd), "file")
    if reason:
        os.close(fd)
        raise UnsafeFileError(reason)
    return os.fdopen(fd, "rb")


def write_private(path, data):
    """Write ``data`` (bytes) to ``path`` with mode 0600 (whatever the umask): to a temporary name
    in the same folder, renamed over ``path``; the temporary is removed on any failure."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if os.path.lexists(temporary):
            os.unlink(temporary)  # left by a killed writer of the same pid
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), FILE_MODE)
            out.write(data)
        os.replace(temporary, path)
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)
