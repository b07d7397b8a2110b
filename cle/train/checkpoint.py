"""Checkpoints as directories of ``.npz`` and JSON files, written atomically, verified on load.

Layout of one checkpoint directory (``<root>/last`` or ``<root>/best``)::

    params.npz        parameters under their legacy names
    optimizer.npz     optimizer state (lr, moments, counter)
    model_state.npz   the model's numeric shared state (e.g. TBPTT step_count, rnn_tm1)
    trainlog.npz      per-batch outputs and timings
    *.json            RNG states, train log, loop position, config
    manifest.json     sha256 and size of every file, name/shape/dtype of every array

Writing goes to a temporary sibling directory (every file fsynced), which then replaces the
target by rename; the previous checkpoint is kept as ``.<name>.old`` until the new one is in
place, so a process killed at any moment leaves a complete checkpoint behind. Loading checks
the manifest (files present, checksums, array names/shapes/dtypes) and never unpickles.
"""
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from cle.errors import UserError

log = logging.getLogger(__name__)

__all__ = ["CheckpointError", "CheckpointWriteError", "write_checkpoint", "read_checkpoint",
           "resolve_checkpoint", "find_checkpoint", "FORMAT", "MANIFEST"]

#: Format tag written in every manifest; loading refuses anything else.
FORMAT = "cle-checkpoint-1"
MANIFEST = "manifest.json"
#: Reads of a checkpoint that a writer replaces meanwhile, and the pause before the next (times
#: the attempt): a rewrite of ``best`` takes a fraction of a second.
READ_ATTEMPTS, READ_RETRY_S = 5, 0.05


class CheckpointError(UserError):
    """A checkpoint is missing, incomplete, corrupted or does not fit the model."""


class CheckpointWriteError(CheckpointError):
    """A checkpoint could not be written (disk full, no permission...); the previous one is kept."""


def write_checkpoint(directory, arrays, documents):
    """Write a checkpoint atomically to ``directory`` (replacing any previous one).

    Parameters
    ----------
    directory : path
    arrays : dict file stem -> dict name -> ndarray
        Each becomes ``<stem>.npz``.
    documents : dict file stem -> JSON-ready object
        Each becomes ``<stem>.json``.
    """
    target = Path(directory)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _complete_interrupted_swap(target)
        _remove_stale_temporaries(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as err:
        raise CheckpointWriteError(f"{target}: cannot write a checkpoint ({_reason(err)}); "
                                   f"the previous checkpoint, if any, is kept") from None
    try:
        manifest = {"format": FORMAT, "created": time.time(), "files": {}, "arrays": {}}
        for stem, named in arrays.items():
            named = {k: np.asarray(v) for k, v in named.items()}
            for key, value in named.items():
                if value.dtype == object:
                    raise CheckpointError(f"array {stem}/{key} has dtype object; only numeric "
                                          f"arrays can be checkpointed")
            buffer = io.BytesIO()
            np.savez(buffer, **named)
            _write_file(tmp, f"{stem}.npz", buffer.getvalue(), manifest)
            manifest["arrays"][f"{stem}.npz"] = {
                k: {"shape": list(v.shape), "dtype": v.dtype.str} for k, v in named.items()}
        for stem, document in documents.items():
            payload = json.dumps(document, indent=1, allow_nan=True).encode()
            _write_file(tmp, f"{stem}.json", payload, manifest)
        _write_bytes(tmp / MANIFEST, json.dumps(manifest, indent=1).encode())
        _fsync_dir(tmp)
        _swap_in(tmp, target)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        where = getattr(err, "filename", None) or tmp
        raise CheckpointWriteError(f"{where}: cannot write the checkpoint {target} "
                                   f"({_reason(err)}); the previous checkpoint, if any, is "
                                   f"kept") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("checkpoint written to %s", target)
    return target


def _write_file(tmp, name, payload, manifest):
    _write_bytes(tmp / name, payload)
    manifest["files"][name] = {"sha256": hashlib.sha256(payload).hexdigest(),
                               "bytes": len(payload)}


def _write_bytes(path, payload):
    try:
        with open(path, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        if err.filename is None:
            err.filename = str(path)
        raise


def _reason(err):
    """The OS's words for ``err`` (e.g. 'No space left on device'), without the file name."""
    return err.strerror or str(err) or type(err).__name__


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _old_path(target):
    return target.parent / f".{target.name}.old"


def _swap_in(tmp, target):
    """Replace ``target`` by ``tmp``; a complete checkpoint exists at every instant."""
    old = _old_path(target)
    if target.exists():
        if old.exists():
            shutil.rmtree(old)
        os.rename(target, old)
    os.rename(tmp, target)
    _fsync_dir(target.parent)
    if old.exists():
        shutil.rmtree(old)


def _remove_stale_temporaries(target):
    for stale in target.parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _complete_temporaries(target):
    """Temporary siblings of ``target`` that hold a complete, verified checkpoint, newest first.

    A temporary is complete once its manifest is written (the manifest comes last) and every
    file passes the manifest's checks.
    """
    found = []
    for candidate in target.parent.glob(f".{target.name}.tmp-*"):
        try:
            _verified_manifest(candidate)
            found.append((candidate.stat().st_mtime, candidate))
        except (CheckpointError, FileNotFoundError):
            # Incomplete, or renamed into place by its writer since the listing: not a candidate.
            continue
    return [path for _, path in sorted(found, reverse=True)]


def find_checkpoint(target):
    """The complete checkpoint standing for ``target`` (e.g. ``<root>/last``), or None.

    ``target`` itself when it exists; when a writer was killed between its two renames
    (``target`` moved to ``.<name>.old``, the new one still at ``.<name>.tmp-*``), the newer
    complete temporary, else ``.<name>.old``.
    """
    target = Path(target)
    if target.is_dir():
        return target
    newer = _complete_temporaries(target)
    if newer:
        log.warning("using the checkpoint %s (its write stopped before the final rename)", newer[0])
        return newer[0]
    old = _old_path(target)
    if (old / MANIFEST).is_file():
        log.warning("using the previous checkpoint %s (the newer write did not finish)", old)
        return old
    return None


def _complete_interrupted_swap(target):
    """Put back ``target`` from the checkpoint an interrupted write left (see find_checkpoint)."""
    if target.exists():
        return
    found = find_checkpoint(target)
    if found is not None:
        os.rename(found, target)
        log.info("restored %s from %s", target, found.name)


def resolve_checkpoint(path):
    """The checkpoint directory meant by ``path``.

    ``path`` may be a checkpoint directory (it holds ``manifest.json``) or a root holding
    ``last/``. When ``last`` is missing because a writer was killed between its two renames,
    the previous checkpoint ``.last.old`` is used.
    """
    path = Path(path)
    if (path / MANIFEST).exists():
        return path
    for target in (path / "last", path):
        candidate = find_checkpoint(target)
        if candidate is not None and (candidate / MANIFEST).exists():
            return candidate
    raise CheckpointError(f"no checkpoint at {path}: expected {path / MANIFEST} or "
                          f"{path / 'last' / MANIFEST}")


def read_checkpoint(path):
    """Read and verify a checkpoint; returns ``(directory, arrays, documents)``.

    ``arrays`` maps file stem -> dict name -> ndarray; ``documents`` maps stem -> JSON value.
    Raises :class:`CheckpointError` naming the file and the problem when the manifest is not
    of the expected shape, a file is missing or lies outside the checkpoint, its checksum or
    size differs from the manifest, or its arrays differ from the manifest.

    A checkpoint a writer replaces meanwhile (a trainer rewriting ``best``) is read again, up to
    READ_ATTEMPTS times: the result is the old or the new checkpoint, whole, never an error.
    """
    path = Path(path)
    for attempt in range(READ_ATTEMPTS):
        folders_before = _identity(path), _identity(path.parent)
        try:
            directory = resolve_checkpoint(path)
        except CheckpointError:
            # Between a writer's two renames (and its removal of the previous copy) a reader can
            # find the checkpoint under none of its names; the folders changed meanwhile, so look
            # again. Where nobody changed them, the checkpoint is missing: that error goes up.
            if attempt + 1 == READ_ATTEMPTS or (_identity(path), _identity(path.parent)) == folders_before:
                raise
            time.sleep(READ_RETRY_S * (attempt + 1))
            continue
        before = _identity(directory)
        try:
            return _read_verified(directory)
        except CheckpointError:
            # A writer replaced the checkpoint while it was read (the manifest of one, files of
            # the other; or the folder renamed away): read it again, whole. A checkpoint that
            # stays as it was and fails is damaged: that error goes up.
            if attempt + 1 == READ_ATTEMPTS or _identity(directory) == before is not None:
                raise
            log.info("checkpoint %s changed while it was read; reading it again", directory)
            time.sleep(READ_RETRY_S * (attempt + 1))
            if not directory.exists():
                path = _target_of(directory) if path == directory else path


def _identity(directory):
    """(device, inode, change time) of ``directory``, or None when it is gone."""
    try:
        st = os.stat(directory)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


def _target_of(directory):
    """The checkpoint a temporary (``.<name>.tmp-*``) or previous (``.<name>.old``) copy stands for."""
    name = directory.name
    if name.startswith("."):
        name = name[1:].split(".tmp-")[0].removesuffix(".old")
    return directory.parent / name


def _read_verified(directory):
    manifest, payloads = _verified_manifest(directory)
    arrays, documents = {}, {}
    for name, payload in payloads.items():
        stem, suffix = name.rsplit(".", 1)
        if suffix == "npz":
            arrays[stem] = _load_npz(directory, name, payload, manifest["arrays"].get(name, {}))
        else:
            try:
                documents[stem] = json.loads(payload.decode("utf-8"))
            except ValueError as err:  # UnicodeDecodeError is a ValueError
                raise CheckpointError(f"checkpoint {directory}: {name} is not UTF-8 JSON "
                                      f"({err})") from None
    return directory, arrays, documents


#: What a manifest entry of ``files`` holds: key -> type.
_FILE_ENTRY = {"sha256": str, "bytes": int}


def _verified_manifest(directory):
    """The manifest of ``directory`` and the payload of each file it lists, all checked."""
    manifest_path = directory / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint {directory}: {MANIFEST} is unreadable ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {directory}: {MANIFEST} is not a {FORMAT} manifest")
    _check_manifest(directory, manifest)
    payloads = {}
    for name, meta in manifest["files"].items():
        file_path = directory / name
        if not file_path.is_file():
            raise CheckpointError(f"checkpoint {directory}: file {name} is missing")
        try:
            payload = file_path.read_bytes()
        except OSError as err:
            raise CheckpointError(f"checkpoint {directory}: file {name} cannot be read "
                                  f"({err.strerror})") from None
        if len(payload) != meta["bytes"]:
            raise CheckpointError(f"checkpoint {directory}: file {name} has {len(payload)} bytes, "
                                  f"the manifest says {meta['bytes']} (truncated or modified)")
        digest = hashlib.sha256(payload).hexdigest()
        if digest != meta["sha256"]:
            raise CheckpointError(f"checkpoint {directory}: file {name} fails its sha256 check "
                                  f"(expected {meta['sha256'][:16]}..., got {digest[:16]}...): "
                                  f"the file was modified or corrupted")
        payloads[name] = payload
    return manifest, payloads


def _check_manifest(directory, manifest):
    """Raise CheckpointError unless ``files`` and ``arrays`` have the shape the writer gives them.

    Every file name is a plain ``<stem>.npz`` / ``<stem>.json`` inside the checkpoint (no
    folder, no ``..``, no absolute path).
    """
    def bad(what):
        return CheckpointError(f"checkpoint {directory}: {MANIFEST} {what}; expected the "
                               f"manifest written by cle.train.checkpoint ({FORMAT})")

    files, arrays = manifest.get("files"), manifest.get("arrays")
    if not isinstance(files, dict) or not isinstance(arrays, dict):
        raise bad("lacks the 'files' and 'arrays' tables")
    for name, meta in files.items():
        if not _plain_name(name):
            raise bad(f"lists {name!r}, which is not a .npz or .json file inside the checkpoint")
        if not isinstance(meta, dict) or any(
                type(meta.get(key)) is not kind for key, kind in _FILE_ENTRY.items()):
            raise bad(f"entry of {name} is {meta!r}, not {{'sha256': str, 'bytes': int}}")
    for name, entries in arrays.items():
        if name not in files or not name.endswith(".npz") or not isinstance(entries, dict):
            raise bad(f"'arrays' entry {name!r} names no .npz file of 'files'")
        for key, meta in entries.items():
            if not (isinstance(meta, dict) and isinstance(meta.get("dtype"), str)
                    and isinstance(meta.get("shape"), list)
                    and all(type(n) is int and n >= 0 for n in meta["shape"])):
                raise bad(f"array {name}[{key}] is described as {meta!r}, not "
                          f"{{'shape': [int, ...], 'dtype': str}}")


def _plain_name(name):
    if not isinstance(name, str) or name in ("", MANIFEST) or "/" in name or "\\" in name:
        return False
    if name.startswith(".") or "\0" in name:
        return False
    stem, dot, suffix = name.rpartition(".")
    return bool(dot and stem) and suffix in ("npz", "json")


def _load_npz(directory, name, payload, expected):
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            loaded = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as err:
        # e.g. an object array, which would need unpickling, or a damaged zip
        raise CheckpointError(f"checkpoint {directory}: {name} cannot be read without "
                              f"unpickling or is damaged ({err})") from None
    if set(loaded) != set(expected):
        raise CheckpointError(f"checkpoint {directory}: {name} holds {sorted(loaded)}, the "
                              f"manifest lists {sorted(expected)}")
    for key, value in loaded.items():
        meta = expected[key]
        if list(value.shape) != meta["shape"] or value.dtype.str != meta["dtype"]:
            raise CheckpointError(f"checkpoint {directory}: {name}[{key}] is {value.dtype.str} "
                                  f"{list(value.shape)}, the manifest says {meta['dtype']} "
                                  f"{meta['shape']}")
    return loaded
