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
from pathlib import Path

import numpy as np

from cle.errors import UserError

log = logging.getLogger(__name__)

__all__ = ["CheckpointError", "write_checkpoint", "read_checkpoint", "resolve_checkpoint",
           "FORMAT", "MANIFEST"]

#: Format tag written in every manifest; loading refuses anything else.
FORMAT = "cle-checkpoint-1"
MANIFEST = "manifest.json"


class CheckpointError(UserError):
    """A checkpoint is missing, incomplete, corrupted or does not fit the model."""


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
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
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
    with open(path, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())


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


def resolve_checkpoint(path):
    """The checkpoint directory meant by ``path``.

    ``path`` may be a checkpoint directory (it holds ``manifest.json``) or a root holding
    ``last/``. When ``last`` is missing because a writer was killed between its two renames,
    the previous checkpoint ``.last.old`` is used.
    """
    path = Path(path)
    if (path / MANIFEST).exists():
        return path
    for candidate in (path / "last", _old_path(path / "last"), _old_path(path)):
        if (candidate / MANIFEST).exists():
            if candidate.name.endswith(".old"):
                log.warning("using the previous checkpoint %s (the newer write did not finish)",
                            candidate)
            return candidate
    raise CheckpointError(f"no checkpoint at {path}: expected {path / MANIFEST} or "
                          f"{path / 'last' / MANIFEST}")


def read_checkpoint(path):
    """Read and verify a checkpoint; returns ``(directory, arrays, documents)``.

    ``arrays`` maps file stem -> dict name -> ndarray; ``documents`` maps stem -> JSON value.
    Raises :class:`CheckpointError` naming the file and the problem when a file is missing,
    its checksum or size differs from the manifest, or its arrays differ from the manifest.
    """
    directory = resolve_checkpoint(path)
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint {directory}: {MANIFEST} is unreadable ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {directory}: {MANIFEST} is not a {FORMAT} manifest")
    arrays, documents = {}, {}
    for name, meta in manifest["files"].items():
        file_path = directory / name
        if not file_path.exists():
            raise CheckpointError(f"checkpoint {directory}: file {name} is missing")
        payload = file_path.read_bytes()
        if len(payload) != meta["bytes"]:
            raise CheckpointError(f"checkpoint {directory}: file {name} has {len(payload)} bytes, "
                                  f"the manifest says {meta['bytes']} (truncated or modified)")
        digest = hashlib.sha256(payload).hexdigest()
        if digest != meta["sha256"]:
            raise CheckpointError(f"checkpoint {directory}: file {name} fails its sha256 check "
                                  f"(expected {meta['sha256'][:16]}..., got {digest[:16]}...): "
                                  f"the file was modified or corrupted")
        stem, suffix = name.rsplit(".", 1)
        if suffix == "npz":
            arrays[stem] = _load_npz(directory, name, payload, manifest["arrays"].get(name, {}))
        else:
            documents[stem] = json.loads(payload)
    return directory, arrays, documents


def _load_npz(directory, name, payload, expected):
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            loaded = {key: npz[key] for key in npz.files}
    except ValueError as err:   # e.g. an object array, which would need unpickling
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
