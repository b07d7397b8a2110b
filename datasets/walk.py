"""The files of a corpus folder, symbolic links to folders followed and said.

``Path.rglob`` (before Python 3.13) does not descend into a symbolic link to a folder, so a corpus
whose sub-folders are links (a common way to gather data from several disks) was prepared from
part of its files without a word. :func:`corpus_files` follows a link to a folder outside the
corpus, each such folder once; a link into the corpus itself (its files are read there: a loop, or
the same audio twice) or to a folder read already is skipped, as is a broken link to a file. One
warning line names the links followed, one those skipped.

Example
-------
>>> import tempfile
>>> root, elsewhere = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
>>> _ = (elsewhere / 'a.npy').write_bytes(b'')
>>> (root / 'disk2').symlink_to(elsewhere)
>>> (root / 'loop').symlink_to(root)
>>> [p.relative_to(root).as_posix() for p in corpus_files(root, ('.npy',))]
['disk2/a.npy']
"""
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["corpus_files"]

#: Links named in a warning line; the rest are counted.
NAMED_LINKS = 5


def corpus_files(root, suffixes=None, name_filter=None):
    """Sorted regular files under the folder ``root`` whose suffix (lower case) is one of
    ``suffixes`` and whose name passes ``name_filter`` (either None: any), symbolic links to
    folders followed (see the module doc).

    A link to a folder outside ``root`` is followed once (a second link to it, or into it, is
    skipped); a link into ``root`` is skipped (its files are read under their real names).
    """
    root = Path(root)
    inside = os.path.realpath(root)
    seen = set()
    followed, skipped, found = [], [], []
    for here, folders, files in os.walk(root, followlinks=True):
        keep = []
        for name in sorted(folders):
            path = Path(here) / name
            if not path.is_symlink():
                keep.append(name)
                continue
            target = os.path.realpath(path)
            if target == inside or target.startswith(inside + os.sep):
                skipped.append(f"{path} -> {target} (inside the corpus: read there)")
            elif any(target == p or p.startswith(target + os.sep) or target.startswith(p + os.sep) for p in seen):
                skipped.append(f"{path} -> {target} (read already)")
            else:
                seen.add(target)
                followed.append(f"{path} -> {target}")
                keep.append(name)
        folders[:] = keep
        for name in files:
            path = Path(here) / name
            if name_filter is not None and not name_filter(name):
                continue
            if suffixes is not None and path.suffix.lower() not in suffixes:
                continue
            if path.is_file():
                found.append(path)
            elif path.is_symlink():
                skipped.append(f"{path} (a broken symbolic link)")
    if followed:
        log.warning("%s: followed %d symbolic link(s) to folders: %s", root, len(followed), _listed(followed))
    if skipped:
        log.warning("%s: skipped %d symbolic link(s): %s", root, len(skipped), _listed(skipped))
    return sorted(found)


def _listed(items):
    shown = "; ".join(items[:NAMED_LINKS])
    return shown + (f"; and {len(items) - NAMED_LINKS} more" if len(items) > NAMED_LINKS else "")
