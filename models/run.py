"""Run directories: resolve a configuration, create a run, train or resume it, reload its model.

Data flows one way: configuration -> dataset -> model -> :class:`cle.train.Training` -> run
directory. Layout of a run directory::

    config.json            everything needed to rebuild the model and its data (see RunDir)
    log.jsonl              one JSON object per event; the monitoring steps have event "monitor"
    checkpoints/last/      params.npz (legacy names) + optimizer, TBPTT state, RNGs, loop position
    checkpoints/best/      the same, at the best valid_nll_upper_bound seen
    samples/               written by sampling (WAV / PNG / SVG)
    eval_<split>.json      written by evaluation

The training follows the legacy scripts: GradientClipping(batch_size, check_nan) -> Adam(lr) ->
WeightNorm, Monitoring of the validation split every ``monitoring_freq`` updates, EarlyStopping on
``valid_nll_upper_bound`` (the ``best`` checkpoint), EpochCount(``epoch``), and a ``last``
checkpoint every ``force_saving_freq`` updates, at the end and on SIGINT / SIGTERM.

Example
-------
>>> cfg = resolve_config('blizzard', model='rnn-gauss', overrides={'rnn_dim': 8})
>>> cfg.model_name, cfg.rnn_dim
('RNN-Gauss', 8)
>>> parse_overrides(['rnn_dim=16', 'k=2'])
{'rnn_dim': 16, 'num_k': 2}
"""
import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from cle import backend
from cle.data import Iterator
from cle.train import Training
from cle.train.checkpoint import CheckpointError, read_checkpoint
from cle.train.ext import (Checkpoint, EarlyStopping, EpochCount, Extension, GradientClipping,
                           Monitoring, WeightNorm)
from cle.train.opt import Adam
from cle.train.training import LOG_FILE as TRAINING_LOG_FILE
from nips2015_vrnn.datasets.blizzard import Blizzard, Blizzard_tbptt
from nips2015_vrnn.datasets.demo import prepare_demo
from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.iamondb import IAMOnDB
from nips2015_vrnn.models import build_model
from nips2015_vrnn.models.config import ModelConfig, field_names, load_config_txt, parse_config_lines
from nips2015_vrnn.models.presets import get_preset

log = logging.getLogger(__name__)

__all__ = ["CORPORA", "DEMO_CORPORA", "MODEL_NAMES", "RunDir", "RunError", "resolve_config",
           "parse_overrides", "model_preset_name", "demo_data_dir", "demo_is_prepared", "ensure_demo_data",
           "find_data_file", "open_split", "create_run", "discard_run", "train_run", "load_model",
           "read_log", "monitor_records", "TRAIN_EVENTS"]

#: Format tag of config.json; loading refuses anything else.
RUN_FORMAT = "vrnn-run-1"
CONFIG_FILE = "config.json"
#: The run's JSON-lines log, written by :class:`cle.train.Training` into its ``run_dir``.
LOG_FILE = TRAINING_LOG_FILE
CHECKPOINTS = ("best", "last")
#: Corpus formats a run can train on, and the name the demo corpus gives each of them.
CORPORA = ("blizzard", "iamondb")
DEMO_CORPORA = {"speech": "blizzard", "handwriting": "iamondb"}
#: The paper's model names (command-line spelling) -> (family, output model kind, prior).
MODEL_NAMES = OrderedDict([
    ("vrnn-gmm", ("vrnn", "gmm", "learned")),
    ("vrnn-gauss", ("vrnn", "gauss", "learned")),
    ("vrnn-i-gauss", ("vrnn", "gauss", "standard")),
    ("rnn-gmm", ("rnn", "gmm", "learned")),
    ("rnn-gauss", ("rnn", "gauss", "learned")),
])
#: Handwriting uses the bivariate version of each output model.
_HANDWRITING_OUTPUT = {"gauss": "bigauss", "gmm": "bigmm"}
#: Legacy gradient clipping: the global gradient norm is clipped to this value.
CLIP_NORM = 5
#: Channel whose lowest value selects the ``best`` checkpoint (the legacy EarlyStopping channel).
BEST_CHANNEL = "valid_nll_upper_bound"
#: Training outputs, as named in the log.
TRAIN_OUTPUTS = ("nll_upper_bound", "recon_term", "kl_term")
#: Events of the JSON-lines log that mark the course of a run (besides "monitor").
TRAIN_EVENTS = ("start", "resume", "checkpoint", "interrupted", "end")
#: Seed of the demo corpus (the corpus is deterministic given it).
DEMO_SEED = 0


class RunError(ValueError):
    """A run directory is missing, incomplete, or not what the command expects."""


# ---------------------------------------------------------------------- configuration
def model_preset_name(corpus, model):
    """The preset of ``model`` (command-line name, e.g. 'vrnn-gmm') on ``corpus``: 'blizzard/vrnn_gmm'."""
    if corpus not in CORPORA:
        raise ValueError(f"corpus must be one of {', '.join(CORPORA)}; got {corpus!r}")
    if model not in MODEL_NAMES:
        raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)}; got {model!r}")
    return f"{corpus}/{model.replace('-', '_')}"


def parse_overrides(pairs):
    """``['KEY=VALUE', ...]`` -> dict of typed :class:`ModelConfig` overrides (legacy key names).

    Raises
    ------
    ValueError
        For an item without '=', an unknown key, or a value of the wrong type (one line).
    """
    lines = []
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r}")
        lines.append(f"{key.strip()} {value.strip()}")
    try:
        return parse_config_lines(lines, source="--set")
    except ValueError as err:
        # parse_config_lines lists every known key; keep the message to one readable line.
        first = str(err).split("; expected one of")[0]
        raise ValueError(f"{first}; known keys: {', '.join(field_names())}") from None


def _with_model(config, model):
    family, output, prior = MODEL_NAMES[model]
    if config.data == "handwriting":
        output = _HANDWRITING_OUTPUT[output]
    return config.replace(family=family, output=output, prior=prior)


def resolve_config(corpus, model=None, config_file=None, overrides=None, demo=False):
    """The :class:`ModelConfig` of a new run: a preset, then ``config_file``, then ``overrides``.

    Parameters
    ----------
    corpus : {'blizzard', 'iamondb'}
        The data format.
    model : str or None
        One of :data:`MODEL_NAMES`; None is VRNN-GMM (the paper's best speech model).
    config_file : path or None
        A legacy ``config.txt`` (``key value`` lines) applied over the preset.
    overrides : dict or None
        Typed overrides (see :func:`parse_overrides`), applied last.
    demo : bool
        Start from the small demo preset of ``corpus`` (``<corpus>/demo``) instead of the paper's.
    """
    if demo:
        config = get_preset(f"{corpus}/demo")
        if model is not None:
            config = _with_model(config, model)
    else:
        config = get_preset(model_preset_name(corpus, model or "vrnn-gmm"))
    if config_file is not None:
        if not Path(config_file).is_file():
            raise DataError(config_file, "no such file; expected a legacy config.txt of "
                                         "'key value' lines")
        config = load_config_txt(config_file, config)
    if overrides:
        config = config.replace(**overrides)
    return config


def paper_preset_of(corpus, config):
    """The paper preset whose model (every field but training bookkeeping) equals ``config``, or None."""
    bookkeeping = {"epoch", "monitoring_freq", "force_saving_freq", "seed", "data_path", "save_path",
                   "trial", "pkl_name", "channel_name", "debug", "sample_output", "m_batch_size"}
    mine = {k: v for k, v in config.as_dict().items() if k not in bookkeeping}
    for model in MODEL_NAMES:
        name = model_preset_name(corpus, model)
        preset = {k: v for k, v in get_preset(name).as_dict().items() if k not in bookkeeping}
        if preset == mine:
            return name
    return None


# ---------------------------------------------------------------------- data
def demo_data_dir():
    """Where the demo corpus is cached: ``$VRNN_DEMO_DIR``, else ``$XDG_CACHE_HOME`` (or
    ``~/.cache``) ``/vrnn-pytensor/demo-<seed>``."""
    if os.environ.get("VRNN_DEMO_DIR"):
        return Path(os.environ["VRNN_DEMO_DIR"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "vrnn-pytensor" / f"demo-{DEMO_SEED}"


def demo_is_prepared(directory=None):
    """True when the demo corpus cache (default :func:`demo_data_dir`) holds both prepared files."""
    return _demo_complete(Path(directory) if directory is not None else demo_data_dir())


def _demo_complete(directory):
    return all((directory / f"{corpus}.h5").is_file() for corpus in CORPORA)


def ensure_demo_data(directory=None):
    """The folder of the prepared demo corpus (``blizzard.h5``, ``iamondb.h5``), made if missing.

    The corpus is generated into a temporary sibling folder and renamed into place, so two
    processes preparing it at once both end with a complete corpus. Deterministic (seed 0).
    """
    directory = Path(directory) if directory is not None else demo_data_dir()
    if _demo_complete(directory):
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        prepare_demo(tmp, seed=DEMO_SEED)
        if not _demo_complete(directory):
            if directory.exists():
                shutil.rmtree(directory)
            os.rename(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("demo corpus prepared in %s", directory)
    return directory


def find_data_file(corpus, data):
    """The prepared HDF5 file of ``corpus`` given ``data``: the file itself or a folder holding
    ``<corpus>.h5`` (as ``vrnn-prepare`` and the demo write it)."""
    path = Path(data)
    if path.is_dir():
        path = path / f"{corpus}.h5"
    if not path.is_file():
        raise DataError(path, f"no such file; expected the prepared {corpus} HDF5 file (make it "
                              f"with vrnn-prepare {corpus} SRC OUT)")
    return path.resolve()


def open_split(corpus, path, split, dtype):
    """The dataset object of one split: Blizzard_tbptt (train) / Blizzard, or IAMOnDB."""
    if corpus == "blizzard":
        cls = Blizzard_tbptt if split == "train" else Blizzard
        return cls(name=split, path=path, dtype=dtype)
    return IAMOnDB(name=split, path=path, dtype=dtype)


def normalisation_of(corpus, path):
    """The training statistics stored in the prepared file: {'X_mean': ..., 'X_std': ...} (lists)."""
    with open_split(corpus, path, "train", "float64") as data:
        return {"X_mean": np.asarray(data.X_mean).tolist(), "X_std": np.asarray(data.X_std).tolist()}


# ---------------------------------------------------------------------- run directory
class RunDir:
    """A run directory and its ``config.json``.

    ``config.json`` holds: ``format``, ``corpus`` ('blizzard' / 'iamondb'), ``demo``, ``preset``
    (the paper preset the model equals, or None), ``model`` (every :class:`ModelConfig` field),
    ``data_path`` (the prepared HDF5 file), ``normalisation`` (X_mean, X_std of the training data),
    ``floatX``, ``mode`` (compile mode), ``max_updates``, ``created``.
    """

    def __init__(self, path):
        self.path = Path(path)
        config_path = self.path / CONFIG_FILE
        if not config_path.is_file():
            raise RunError(f"{self.path}: no {CONFIG_FILE}; expected a run directory made by vrnn-train")
        try:
            self.record = json.loads(config_path.read_text())
        except ValueError as err:
            raise RunError(f"{config_path}: not valid JSON ({err})") from None
        if self.record.get("format") != RUN_FORMAT:
            raise RunError(f"{config_path}: format {self.record.get('format')!r}; expected {RUN_FORMAT!r}")
        try:
            self.config = ModelConfig(**self.record["model"])
        except (TypeError, ValueError) as err:
            raise RunError(f"{config_path}: the model configuration does not load ({err})") from None

    corpus = property(lambda self: self.record["corpus"])
    data_path = property(lambda self: Path(self.record["data_path"]))
    floatX = property(lambda self: self.record["floatX"])
    mode = property(lambda self: self.record["mode"])
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
        """``checkpoints/<which>`` ('best' or 'last'); CheckpointError when it does not exist."""
        if which not in CHECKPOINTS:
            raise ValueError(f"checkpoint must be one of {', '.join(CHECKPOINTS)}; got {which!r}")
        path = self.checkpoint_root / which
        if not path.is_dir():
            raise CheckpointError(f"{path}: no {which} checkpoint in this run yet (train it first)")
        return path

    def open_split(self, split):
        """The dataset of ``split`` in the run's precision."""
        return open_split(self.corpus, self.data_path, split, self.floatX)

    def build_model(self):
        """The model of ``config.json`` (initial parameters), in the run's precision and mode."""
        backend.set_mode(self.mode)
        with backend.precision(self.floatX):
            return build_model(self.config)


def create_run(path, corpus, config, data_path, floatX="float32", mode="c", demo=False,
               max_updates=None):
    """Make the run directory ``path`` and write its ``config.json``; returns the :class:`RunDir`.

    Raises
    ------
    RunError
        When ``path`` already holds a run (resume it, or choose another folder).
    """
    path = Path(path)
    if (path / CONFIG_FILE).exists():
        raise RunError(f"{path} already holds a run; resume it with vrnn-train --resume {path}, "
                       "or choose another --out")
    data_path = find_data_file(corpus, data_path)
    record = {
        "format": RUN_FORMAT,
        "corpus": corpus,
        "demo": bool(demo),
        "preset": paper_preset_of(corpus, config),
        "model": config.as_dict(),
        "data_path": str(data_path),
        "normalisation": normalisation_of(corpus, data_path),
        "floatX": floatX,
        "mode": mode,
        "max_updates": max_updates,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / f".{CONFIG_FILE}.tmp"
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path / CONFIG_FILE)
    return RunDir(path)


def discard_run(run):
    """Remove what :func:`create_run` wrote (config.json, the log) when no checkpoint exists yet.

    For a run that failed or was stopped before its first checkpoint, so the same command can
    be given again. Returns True when the run was discarded.
    """
    if run.checkpoint_root.exists():
        return False
    for name in (CONFIG_FILE, LOG_FILE):
        (run.path / name).unlink(missing_ok=True)
    try:
        run.path.rmdir()
    except OSError:
        pass  # the folder holds other files: keep it
    return True


# ---------------------------------------------------------------------- training
class MonitorEcho(Extension):
    """Calls ``callback(record)`` once per new monitoring record (put it after Monitoring)."""

    name = "ext_monitor"

    def __init__(self, callback):
        self.callback = callback
        self._seen = None

    def exec(self, mainloop):
        records = mainloop.trainlog.monitor
        if records and records[-1]["batch_seen"] != self._seen:
            self._seen = records[-1]["batch_seen"]
            self.callback(dict(records[-1]))

    def state_dict(self):
        return {"seen": self._seen}

    def load_state_dict(self, state):
        self._seen = state.get("seen")


class _Channel:
    """A name standing for one output of a compiled monitor function (what Monitoring reads)."""

    def __init__(self, name):
        self.name = name


def _named_outputs(graph):
    return [out.copy(name=name) for name, out in graph.outputs.items() if name in TRAIN_OUTPUTS]


def build_training(run, model, on_event=None, progress=None):
    """The :class:`cle.train.Training` of ``run`` for ``model`` (compiles the graphs).

    ``on_event(kind, **info)`` is called with kind 'compiled' (``seconds``) and 'monitor'
    (``record``).
    """
    config = model.config
    notify = on_event or (lambda kind, **info: None)
    train_data = run.open_split("train")
    valid_data = run.open_split("valid")
    train_iter = Iterator(train_data, batch_size=config.batch_size)
    valid_iter = Iterator(valid_data, batch_size=config.m_batch_size)
    if run.corpus == "blizzard" and config.reset_freq > 0 and config.batch_size != train_data.batch_size:
        log.warning("batch_size %d differs from the %d streams of %s: the carried LSTM state will "
                    "join unrelated audio", config.batch_size, train_data.batch_size, run.data_path)
    began = time.perf_counter()
    with backend.precision(run.floatX):
        graph = model.training_graph()
        outputs = _named_outputs(graph)
        monitor_fn = model.monitor_fn()
        channels = [_Channel(name) for name in monitor_fn.output_names]
        extensions = [
            GradientClipping(scaler=CLIP_NORM, batch_size=config.batch_size, check_nan=1),
            EpochCount(config.epoch),
            Monitoring(freq=config.monitoring_freq, ddout=channels, data=[valid_iter],
                       monitor_fn=monitor_fn),
            EarlyStopping(BEST_CHANNEL),
            MonitorEcho(lambda record: notify("monitor", record=record)),
            Checkpoint(path=run.checkpoint_root, freq=config.force_saving_freq),
            WeightNorm(),
        ]
        training = Training(config.model_name, train_iter, model.as_cle_model(), Adam(lr=config.lr),
                            outputs[0], outputs, extension=extensions, run_dir=run.path,
                            config=run.record, progress=progress)
    notify("compiled", seconds=time.perf_counter() - began)
    return training


def train_run(run, max_updates=None, resume=False, on_event=None, progress=None):
    """Train (or, with ``resume``, continue) the run; returns the :class:`Training` at the end.

    ``max_updates`` counts all updates of the run (resumed ones included). SIGINT / SIGTERM
    save ``checkpoints/last`` and raise :class:`cle.train.TrainingInterrupted`.
    """
    if max_updates is not None and max_updates < 1:
        raise ValueError(f"max_updates must be >= 1; got {max_updates}")
    if resume:
        read_checkpoint(run.checkpoint_dir("last"))  # fail before compiling on a bad checkpoint
    model = run.build_model()
    with _mode_errors(run.mode):
        training = build_training(run, model, on_event=on_event, progress=progress)
    if resume:
        training.load_checkpoint(run.checkpoint_dir("last"))
        done = training.trainlog.batch_seen
        if max_updates is not None and max_updates <= done:
            raise RunError(f"{run.path} already has {done} updates; give --max-updates above {done}")
        if on_event:
            on_event("resumed", batch_seen=training.trainlog.batch_seen)
    with backend.precision(run.floatX), _mode_errors(run.mode):
        training.run(max_updates=max_updates)
    return training


@contextlib.contextmanager
def _mode_errors(mode):
    """With a compile mode other than 'c', report its failures as one RunError line.

    JAX needs static input shapes and fails on the first call of a graph with dynamic ones;
    Numba lacks some ops. With the default C backend errors pass unchanged.
    """
    try:
        yield
    except (NotImplementedError, TypeError, ImportError) as err:
        if mode == "c":
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise RunError(f"compile mode {mode!r} cannot run this model ({type(err).__name__}: "
                       f"{first}); use --mode c") from None


# ---------------------------------------------------------------------- trained models
def load_model(run, checkpoint="best"):
    """The run's model with the parameters of ``checkpoints/<checkpoint>`` (verified on read).

    Raises
    ------
    CheckpointError
        Missing, corrupted or incompatible checkpoint (names, shapes or dtypes differ).
    """
    directory, arrays, _ = read_checkpoint(run.checkpoint_dir(checkpoint))
    if "params" not in arrays:
        raise CheckpointError(f"checkpoint {directory}: params.npz is missing")
    model = run.build_model()
    try:
        model.set_param_values(arrays["params"])
    except ValueError as err:
        raise CheckpointError(f"checkpoint {directory} does not fit the model of "
                              f"{run.path / CONFIG_FILE}: {str(err).splitlines()[-1].strip()}") from None
    return model


# ---------------------------------------------------------------------- the log
def read_log(path):
    """The JSON objects of a JSON-lines log, in order (a partly written last line is skipped)."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                log.debug("skipping an incomplete log line in %s", path)
    return records


def monitor_records(records):
    """The monitoring records of a log (event 'monitor'), without the event bookkeeping keys."""
    out = []
    for record in records:
        if record.get("event", "monitor") == "monitor":
            out.append({k: v for k, v in record.items() if k not in ("event", "time")})
    return out
