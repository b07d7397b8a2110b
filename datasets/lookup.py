"""Where prepared data is found: the corpus table, prepared files, splits, and the demo cache.

:data:`CORPORA` is the one table of corpus formats a run can train on: name -> the reader class of
the training split and of the other splits, the kind of sequences (what a model config calls
``data``) and the title the paper's tables use. Everything else (command-line choices, run
directories, evaluation titles) derives from it.

Environment: ``VRNN_DEMO_DIR`` moves the demo corpus cache (default
``$XDG_CACHE_HOME/vrnn-pytensor/demo-0``, ``~/.cache`` when XDG_CACHE_HOME is unset).

Example
-------
>>> list(CORPORA)
['blizzard', 'iamondb', 'timit', 'sequences']
>>> CORPORA['iamondb'].data, CORPORA['blizzard'].title
('handwriting', 'Blizzard')
"""
import logging
import os
import shutil
import tempfile
from collections import OrderedDict, namedtuple
from pathlib import Path

import numpy as np

from nips2015_vrnn.datasets.blizzard import Blizzard, Blizzard_tbptt
from nips2015_vrnn.datasets.demo import prepare_demo
from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.iamondb import IAMOnDB
from nips2015_vrnn.datasets.sequences import Sequences
from nips2015_vrnn.datasets.timit import TIMIT, TIMIT_chunks

log = logging.getLogger(__name__)

__all__ = ["CORPORA", "Corpus", "DEMO_CORPORA", "DEMO_SEED", "demo_data_dir", "demo_is_prepared",
           "ensure_demo_data", "find_data_file", "open_split", "normalisation_of", "config_overrides"]

#: A corpus format: reader of the training split, reader of valid/test, sequence kind (a key of
#: :data:`nips2015_vrnn.models.config.DATA_KINDS`), title.
Corpus = namedtuple("Corpus", ["train_reader", "reader", "data", "title"])

#: Corpus formats by name (the name of the prepared file: ``<name>.h5``); the command-line
#: choices of vrnn-train derive from it.
CORPORA = OrderedDict([
    ("blizzard", Corpus(Blizzard_tbptt, Blizzard, "speech", "Blizzard")),
    ("iamondb", Corpus(IAMOnDB, IAMOnDB, "handwriting", "IAM-OnDB")),
    ("timit", Corpus(TIMIT_chunks, TIMIT, "utterances", "TIMIT")),
    ("sequences", Corpus(Sequences, Sequences, "sequences", "Sequences")),
])
#: The halves of the demo corpus and the corpus format each is prepared in.
DEMO_CORPORA = OrderedDict([("speech", "blizzard"), ("handwriting", "iamondb")])
#: Seed of the demo corpus (the corpus is deterministic given it).
DEMO_SEED = 0
DEMO_DIR_ENV = "VRNN_DEMO_DIR"


def _check_corpus(corpus):
    if corpus not in CORPORA:
        raise DataError(corpus, f"unknown corpus; expected one of {', '.join(CORPORA)}")
    return CORPORA[corpus]


def demo_data_dir():
    """Where the demo corpus is cached: ``$VRNN_DEMO_DIR``, else ``$XDG_CACHE_HOME`` (or
    ``~/.cache``) ``/vrnn-pytensor/demo-<seed>``."""
    if os.environ.get(DEMO_DIR_ENV):
        return Path(os.environ[DEMO_DIR_ENV])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "vrnn-pytensor" / f"demo-{DEMO_SEED}"


def demo_is_prepared(directory=None):
    """True when the demo corpus cache (default :func:`demo_data_dir`) holds both prepared files."""
    return _demo_complete(Path(directory) if directory is not None else demo_data_dir())


def _demo_complete(directory):
    """True when both prepared demo files are there and pass their layout and integrity checks
    (a cache written by an older version is prepared again)."""
    for corpus in DEMO_CORPORA.values():
        path = directory / f"{corpus}.h5"
        if not path.is_file():
            return False
        try:
            open_split(corpus, path, "train", "float64").close()
        except DataError as exc:
            log.warning("the demo cache is prepared again: %s", exc)
            return False
    return True


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
    _check_corpus(corpus)
    path = Path(data)
    if path.is_dir():
        path = path / f"{corpus}.h5"
    if not path.is_file():
        raise DataError(path, f"no such file; expected the prepared {corpus} HDF5 file (make it "
                              f"with vrnn-prepare {corpus} SRC OUT)")
    return path.resolve()


def open_split(corpus, path, split, dtype):
    """The reader of one split of a prepared file (the training reader for 'train')."""
    entry = _check_corpus(corpus)
    cls = entry.train_reader if split == "train" else entry.reader
    return cls(name=split, path=path, dtype=dtype)


def normalisation_of(corpus, path):
    """The training statistics stored in the prepared file: {'X_mean': ..., 'X_std': ...} (lists)."""
    with open_split(corpus, path, "train", "float64") as data:
        return {"X_mean": np.asarray(data.X_mean).tolist(), "X_std": np.asarray(data.X_std).tolist()}


def config_overrides(corpus, path):
    """Model settings the prepared file fixes (e.g. ``{'x_dim': D}`` for a user's sequences), or {}."""
    reader = _check_corpus(corpus).reader
    hook = getattr(reader, "config_overrides", None)
    return hook(path) if hook is not None else {}
