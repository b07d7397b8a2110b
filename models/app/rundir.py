"""Run directories: create one, read its ``config.json``, rebuild its model, load a checkpoint.

Layout of a run directory::

    config.json            everything needed to rebuild the model and its data (see RunDir)
    log.jsonl              one JSON object per event (see app.runlog)
    checkpoints/last/      params.npz (legacy names) + optimizer, TBPTT state, RNGs, loop position
    checkpoints/best/      the same, at the best valid_nll_upper_bound seen
    samples/<checkpoint>-seed<seed>/   written by sampling (WAV / PNG / SVG, statistics)
    eval_<split>_<checkpoint>.json     written by evaluation
"""
import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np

from cle.backend import DEFAULT_MATMUL_PRECISION, MATMUL_PRECISIONS, Backend, check_mode
from cle.errors import UserError
from cle.train.checkpoint import CheckpointError, find_checkpoint, read_checkpoint
from nips2015_vrnn.datasets.lookup import CORPORA, find_data_file, normalisation_of, open_split
from nips2015_vrnn.models import build_model
from nips2015_vrnn.models.app.capacity import check_fits_memory
from nips2015_vrnn.models.app.configure import paper_preset_of
from nips2015_vrnn.models.app.runlog import LOG_FILE
from nips2015_vrnn.models.compiled import program_backend
from nips2015_vrnn.models.config import ConfigError, ModelConfig

log = logging.getLogger(__name__)

__all__ = ["RunDir", "RunError", "create_run", "discard_run", "load_model", "check_frame_width", "check_output_kind",
           "data_fingerprint",
           "CHECKPOINTS", "CONFIG_FILE", "LOCK_FILE"]

#: Format tag of config.json; loading refuses anything else.
RUN_FORMAT = "vrnn-run-1"
CONFIG_FILE = "config.json"
CHECKPOINTS = ("best", "last")
#: The lock file a trainer holds in its run directory (see :mod:`~nips2015_vrnn.models.app.runlock`).
LOCK_FILE = ".lock"
#: config.json fields every command reads, and the check each value must pass.
_RECORD_FIELDS = {
    "corpus": ("one of " + ", ".join(CORPORA), lambda v: v in CORPORA),
    "data_path": ("a path (str)", lambda v: isinstance(v, str) and v != ""),
    "normalisation": ("{'X_mean': numbers, 'X_std': numbers}",
                      lambda v: isinstance(v, dict) and _numeric(v.get("X_mean"))
                      and _numeric(v.get("X_std"))),
    "floatX": ("'float32' or 'float64'", lambda v: v in ("float32", "float64")),
    "mode": ("a compile mode name (str)", lambda v: isinstance(v, str)),
}


def _numeric(value):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return array.size > 0 and bool(np.all(np.isfinite(array)))


class RunError(UserError):
    """A run directory is missing, incomplete, or not what the command expects."""


class RunDir:
    """A run directory and its ``config.json``.

    ``config.json`` holds: ``format``, ``corpus`` ('blizzard' / 'iamondb'), ``demo``, ``preset``
    (the paper preset the model equals, or None), ``model`` (every :class:`ModelConfig` field),
    ``data_path`` (the prepared HDF5 file), ``normalisation`` (X_mean, X_std of the training data),
    ``data_file`` (the data file's SHA-256, size and modification time: :meth:`data_changed`),
    ``floatX``, ``mode`` (compile mode), ``matmul_precision`` (of float32 products; 'highest'
    when absent), ``max_updates``, ``created``. :meth:`backend` makes the program's
    :class:`cle.backend.Backend` from it.
    """

    def __init__(self, path):
        self.path = Path(path)
        config_path = self.path / CONFIG_FILE
        if not config_path.is_file():
            raise RunError(f"{self.path}: no {CONFIG_FILE}; expected a run directory made by vrnn-train")
        try:
            self.record = json.loads(config_path.read_bytes().decode("utf-8"))
        except ValueError as err:  # UnicodeDecodeError is a ValueError
            raise RunError(f"{config_path}: not valid UTF-8 JSON ({err})") from None
        if not isinstance(self.record, dict) or self.record.get("format") != RUN_FORMAT:
            found = self.record.get("format") if isinstance(self.record, dict) else type(self.record).__name__
            raise RunError(f"{config_path}: format {found!r}; expected {RUN_FORMAT!r}")
        try:
            self.config = ModelConfig(**self.record["model"])
        except (KeyError, TypeError, ValueError) as err:
            raise RunError(f"{config_path}: the model configuration does not load ({err})") from None
        for key, (expected, valid) in _RECORD_FIELDS.items():
            if key not in self.record:
                raise RunError(f"{config_path}: no {key!r}; expected {expected} (as vrnn-train "
                               "writes it)")
            if not valid(self.record[key]):
                raise RunError(f"{config_path}: {key} is {self.record[key]!r}; expected {expected}")
        if self.matmul_precision not in MATMUL_PRECISIONS:
            raise RunError(f"{config_path}: matmul_precision is {self.matmul_precision!r}; expected "
                           f"one of {', '.join(MATMUL_PRECISIONS)}")

    corpus = property(lambda self: self.record["corpus"])
    data_path = property(lambda self: Path(self.record["data_path"]))
    floatX = property(lambda self: self.record["floatX"])
    mode = property(lambda self: self.record["mode"])
    matmul_precision = property(lambda self: self.record.get("matmul_precision", DEFAULT_MATMUL_PRECISION))
    checkpoint_root = property(lambda self: self.path / "checkpoints")
    samples_dir = property(lambda self: self.path / "samples")

    @property
    def normalisation(self):
        """(X_mean, X_std) as float64 arrays (scalars for speech, (3,) for handwriting)."""
        norm = self.record["normalisation"]
        return np.asarray(norm["X_mean"], dtype=np.float64), np.asarray(norm["X_std"], dtype=np.float64)

    @property
    def log_path(self):
        """The JSON-lines log, ``log.jsonl``."""
        return self.path / LOG_FILE

    def checkpoint_dir(self, which):
        """``checkpoints/<which>`` ('best' or 'last'); CheckpointError when it does not exist.

        When a writer was killed between the two renames of a checkpoint write, the complete
        checkpoint it left (``.<which>.tmp-*``, else ``.<which>.old``) is returned instead.
        """
        if which not in CHECKPOINTS:
            raise RunError(f"checkpoint must be one of {', '.join(CHECKPOINTS)}; got {which!r}")
        path = self.checkpoint_root / which
        found = find_checkpoint(path)
        if found is None:
            from nips2015_vrnn.models.app.runlock import lock_holder
            trainer = lock_holder(self.path)
            if trainer is not None:
                raise CheckpointError(f"{path}: no {which} checkpoint in this run yet; it is being "
                                      f"trained (pid {trainer}): wait for its first checkpoint")
            raise CheckpointError(f"{path}: no {which} checkpoint in this run yet (train it first; "
                                  f"a run stopped before its first checkpoint holds nothing to "
                                  f"resume: give the same vrnn-train command again, which "
                                  f"replaces it)")
        return found

    def data_changed(self):
        """A warning line when the data file is not the one the run was made with (its SHA-256
        differs from ``config.json``'s ``data_file``), else None. The file is hashed only when its
        size or modification time differ from the record; runs made before the record: None."""
        recorded = self.record.get("data_file")
        if not isinstance(recorded, dict) or not isinstance(recorded.get("sha256"), str):
            return None
        try:
            now = data_fingerprint(self.data_path, recorded)
        except OSError:
            return None  # a missing file is reported by whatever opens it
        if now["sha256"] == recorded["sha256"]:
            return None
        return (f"Warning: {self.data_path} changed since the run was made (SHA-256 "
                f"{now['sha256'][:12]}..., {CONFIG_FILE} records {recorded['sha256'][:12]}...): the "
                f"results are of other data than the run was trained on")

    def open_split(self, split):
        """The dataset of ``split`` in the run's precision."""
        return open_split(self.corpus, self.data_path, split, self.floatX)

    def record_mode(self, mode):
        """Record compile mode ``mode`` in ``config.json`` (checkpoints are backend-neutral, so a
        run may continue, sample and evaluate in another backend)."""
        record = dict(self.record, mode=check_mode(mode))
        _write_record(self.path, record)
        self.record = record

    def record_matmul_precision(self, matmul_precision):
        """Record ``matmul_precision`` (of :data:`cle.backend.MATMUL_PRECISIONS`) in ``config.json``."""
        Backend(mode=self.mode, floatX=self.floatX, matmul_precision=matmul_precision)  # checked
        record = dict(self.record, matmul_precision=matmul_precision)
        _write_record(self.path, record)
        self.record = record

    def backend(self, mode=None):
        """The :class:`cle.backend.Backend` of a program working on this run: the run's mode
        (or ``mode``), precision and matrix-product precision, with the persistent store."""
        return program_backend(mode=mode or self.mode, floatX=self.floatX,
                               matmul_precision=self.matmul_precision)

    def build_model(self, backend=None):
        """The model of ``config.json`` (initial parameters), compiled by ``backend`` (default
        :meth:`backend`) in the run's precision."""
        backend = backend or self.backend()
        return build_model(self.config, backend=backend.replace(floatX=self.floatX))


def create_run(path, corpus, config, data_path, floatX="float32", mode="c", demo=False,
               max_updates=None, matmul_precision=DEFAULT_MATMUL_PRECISION, hold=None):
    """Make the run directory ``path`` and write its ``config.json`` under the run's lock;
    returns the :class:`RunDir`. ``hold`` (a ``contextlib.ExitStack``) keeps the lock held until
    it closes (the command that trains the new run: nobody else takes it in between).

    A run in ``path`` without a ``last`` checkpoint whose lock nobody holds (its maker was killed
    outright) is replaced, with one warning line.

    Raises
    ------
    RunError
        When ``path`` already holds a run (resume it, or choose another folder).
    RunLockedError
        When another process holds the run's lock (it is making or training that run).
    """
    path = Path(path)
    if (path / CONFIG_FILE).exists() and find_checkpoint(path / "checkpoints" / "last") is not None:
        raise RunError(f"{path} already holds a run; resume it with vrnn-train --resume {path}, "
                       "or choose another --out")
    data_path = find_data_file(corpus, data_path)
    check_fits_memory(config, floatX)
    check_frame_width(config, corpus, data_path)
    check_output_kind(config, corpus, data_path)
    Backend(mode=mode, floatX=floatX, matmul_precision=matmul_precision)  # checked before writing
    record = {
        "format": RUN_FORMAT,
        "corpus": corpus,
        "demo": bool(demo),
        "preset": paper_preset_of(corpus, config),
        "model": config.as_dict(),
        "data_path": str(data_path),
        "normalisation": normalisation_of(corpus, data_path),
        "data_file": data_fingerprint(data_path) if Path(data_path).is_file() else None,
        "floatX": floatX,
        "mode": check_mode(mode),
        "matmul_precision": matmul_precision,
        "max_updates": max_updates,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    path.mkdir(parents=True, exist_ok=True)
    from nips2015_vrnn.models.app.runlock import run_lock

    with contextlib.ExitStack() as locked:
        locked.enter_context(run_lock(path))  # two commands making one run: the second refuses
        if (path / CONFIG_FILE).exists() and not _discard_unfinished(path):
            raise RunError(f"{path} already holds a run; resume it with vrnn-train --resume {path}, "
                           "or choose another --out")
        _write_record(path, record)
        if hold is not None:
            hold.enter_context(locked.pop_all())
    return RunDir(path)


def _discard_unfinished(path):
    """With the run's lock held: remove the run in ``path`` when it has no ``last`` checkpoint
    (its maker, which would hold the lock, was killed outright: out of memory, SIGKILL), so the
    same command can be given again; True when removed (one warning line), False when ``path``
    holds a run with a checkpoint or a config.json that does not read (nothing removed). The lock
    file stays."""
    if find_checkpoint(path / "checkpoints" / "last") is not None:
        return False
    try:
        RunDir(path)
    except (RunError, OSError):
        return False
    shutil.rmtree(path / "checkpoints", ignore_errors=True)
    for name in (CONFIG_FILE, LOG_FILE):
        (path / name).unlink(missing_ok=True)
    log.warning("%s held a run that stopped before its first checkpoint (its process was killed); "
                "it was replaced", path)
    return True


#: Bytes read at a time when hashing a data file.
_HASH_BLOCK = 1 << 20


def data_fingerprint(path, known=None):
    """``{'sha256', 'bytes', 'mtime_ns'}`` of the file ``path``; ``known`` (an earlier fingerprint)
    is returned as it is when the size and modification time still match (no hashing)."""
    st = os.stat(path)
    if known and known.get("bytes") == st.st_size and known.get("mtime_ns") == st.st_mtime_ns:
        return known
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_HASH_BLOCK), b""):
            digest.update(block)
    return {"sha256": digest.hexdigest(), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_record(path, record):
    """Write ``config.json`` in ``path`` (a temporary file renamed over it)."""
    tmp = path / f".{CONFIG_FILE}.tmp"
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path / CONFIG_FILE)


def check_frame_width(config, corpus, data_path, data=None):
    """ConfigError unless ``config.x_dim`` equals the frame width of the prepared ``data_path``.

    ``data`` is an open reader of that file (opened here when None).
    """
    if data is None:
        with open_split(corpus, data_path, "train", "float64") as opened:
            return check_frame_width(config, corpus, data_path, opened)
    width = data.frame_width
    if config.x_dim != width:
        raise ConfigError(f"{data_path}: frames of this {corpus} file are {width} values wide, "
                          f"the model has x_dim={config.x_dim}; expected x_dim={width}")
    return width


def check_output_kind(config, corpus, data_path):
    """ConfigError unless the data of ``data_path`` are what ``config.output`` models: a
    Bernoulli output needs frames in {0, 1} as the model sees them (binary, not normalised)."""
    if config.output != "bernoulli":
        return
    with open_split(corpus, data_path, "train", "float64") as data:
        binary = bool(getattr(data, "binary", False))
        x_mean, x_std = (np.asarray(getattr(data, name, value), dtype=np.float64)
                         for name, value in (("X_mean", 0.0), ("X_std", 1.0)))
    if not binary or np.any(x_mean != 0) or np.any(x_std != 1):
        what = "real values" if not binary else "binary values normalised to other numbers"
        raise ConfigError(f"{data_path}: holds {what}; the {config.model_name} model needs frames "
                          f"in {{0, 1}} (prepare 0/1 data with vrnn-prepare sequences --normalise "
                          f"auto, or choose a model with a gauss or gmm output)")


def discard_run(run):
    """Remove a run that has no ``last`` checkpoint yet: what :func:`create_run` wrote (config.json,
    the log, the lock file) and any ``best`` checkpoint of its initial parameters.

    For a run that failed or was stopped before its first ``last`` checkpoint, so the same command
    can be given again. Returns True when the run was discarded.
    """
    if find_checkpoint(run.checkpoint_root / "last") is not None:
        return False
    shutil.rmtree(run.checkpoint_root, ignore_errors=True)
    for name in (CONFIG_FILE, LOG_FILE, LOCK_FILE):
        (run.path / name).unlink(missing_ok=True)
    try:
        run.path.rmdir()
    except OSError:
        pass  # the folder holds other files: keep it
    return True


def load_model(run, checkpoint="best", backend=None):
    """The run's model with the parameters of ``checkpoints/<checkpoint>`` (verified on read).

    Raises
    ------
    CheckpointError
        Missing, corrupted or incompatible checkpoint (names, shapes or dtypes differ).
    """
    directory, arrays, _ = read_checkpoint(run.checkpoint_dir(checkpoint))
    if "params" not in arrays:
        raise CheckpointError(f"checkpoint {directory}: params.npz is missing")
    model = run.build_model(backend)
    try:
        model.set_param_values(arrays["params"])
    except ValueError as err:
        raise CheckpointError(f"checkpoint {directory} does not fit the model of "
                              f"{run.path / CONFIG_FILE}: {str(err).splitlines()[-1].strip()}") from None
    return model
