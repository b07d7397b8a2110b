"""A sweep directory: the grid of (model, seed) cells of one corpus, and the state of each cell.

Layout::

    sweep.json             the grid and the settings every cell shares (see SweepSpec)
    status.json            the outcome of each cell's last attempt (written by the sweep driver)
    logs/<cell>.<step>.log stdout and stderr of each command a cell ran (step: train, eval)
    <cell>/                one ordinary run directory per cell (see app.rundir), e.g.
                           ``vrnn-gmm-seed1/``, with ``eval_<split>.json`` once evaluated

A cell is in one of :data:`CELL_STATES`, read from its files alone (so any process may ask):
``done`` (its evaluation file exists), ``interrupted`` (a ``checkpoints/last`` but no
evaluation: resumed by the next run of the sweep), ``failed`` (the last attempt failed before
its first checkpoint; ``status.json`` holds its error) or ``missing`` (nothing yet).

Example
-------
>>> spec = SweepSpec(corpus='blizzard', demo=True, data='/data', models=('rnn-gauss',), seeds=(1, 2))
>>> [cell_name(model, seed) for model, seed in spec.cells()]
['rnn-gauss-seed1', 'rnn-gauss-seed2']
"""
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cle.errors import UserError
from nips2015_vrnn.datasets.lookup import CORPORA
from nips2015_vrnn.models.app.rundir import CONFIG_FILE
from nips2015_vrnn.models.presets import MODELS

__all__ = ["SweepSpec", "SweepError", "CELL_STATES", "SWEEP_FILE", "STATUS_FILE", "LOGS",
           "cell_name", "create_sweep", "load_sweep", "cell_state", "eval_result", "other_evaluations",
           "protocol_differences", "PROTOCOL", "read_status", "sweep_eval_name",
           "write_json"]

#: Format tag of sweep.json; loading refuses anything else.
SWEEP_FORMAT = "vrnn-sweep-1"
SWEEP_FILE = "sweep.json"
STATUS_FILE = "status.json"
LOGS = "logs"
#: The states of a cell, from finished to not started.
CELL_STATES = ("done", "interrupted", "failed", "missing")


class SweepError(UserError):
    """A sweep directory is missing, damaged, or holds a different sweep."""


@dataclass(frozen=True)
class SweepSpec:
    """The grid of a sweep and what its cells share.

    Parameters
    ----------
    corpus : str
        A corpus format of :data:`~nips2015_vrnn.datasets.lookup.CORPORA` ('blizzard', 'iamondb').
    demo : bool
        The cells start from the corpus's demo preset (``vrnn-train demo``) instead of the paper's.
    data : str
        The prepared HDF5 file (or folder holding ``<corpus>.h5``).
    models : tuple of str
        Command-line model names of :data:`~nips2015_vrnn.models.presets.MODELS`.
    seeds : tuple of int
        One cell per model and seed (the ``seed`` configuration key).
    sets : tuple of str
        ``KEY=VALUE`` overrides given to every cell's ``vrnn-train --set``.
    max_updates : int or None
        ``vrnn-train --max-updates`` of every cell (None: until the epochs are done).
    float64, mode :
        ``vrnn-train --float64`` / ``--mode`` (None: the default).
    split, samples, limit, checkpoint, eval_seed :
        ``vrnn-eval``'s protocol: split, importance samples (40 in the paper), first ``limit``
        sequences only (None: all), checkpoint, seed of the sampling noise.
    eval_particles, eval_resample :
        ``vrnn-eval --particles / --resample``: FIVO's particles K and resampling criterion (None,
        None: no FIVO estimate).
    """

    corpus: str
    demo: bool
    data: str
    models: tuple
    seeds: tuple
    sets: tuple = ()
    max_updates: int = None
    float64: bool = False
    mode: str = None
    split: str = "test"
    samples: int = 40
    limit: int = None
    checkpoint: str = "best"
    eval_seed: int = 0
    eval_particles: int = None
    eval_resample: str = None
    format: str = field(default=SWEEP_FORMAT)

    def __post_init__(self):
        if self.corpus not in CORPORA:
            raise SweepError(f"corpus must be one of {', '.join(CORPORA)}; got {self.corpus!r}")
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models:
            raise SweepError(f"models must be among {', '.join(MODELS)}; got {', '.join(self.models) or 'none'}")
        if not self.seeds or any(not isinstance(s, int) or s < 0 for s in self.seeds):
            raise SweepError(f"seeds must be integers >= 0; got {list(self.seeds)}")
        for name in ("models", "seeds", "sets"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def cells(self):
        """The (model, seed) pairs, models in :data:`MODELS` order, then seeds as given."""
        return [(model, seed) for model in MODELS if model in self.models for seed in self.seeds]

    def settings(self):
        """Everything but the grid (models, seeds): two sweeps with equal settings may share a
        folder or a table column."""
        return {k: v for k, v in asdict(self).items() if k not in ("models", "seeds")}


def cell_name(model, seed):
    """The folder of a cell: ``<model>-seed<seed>``."""
    return f"{model}-seed{seed}"


def write_json(path, record):
    """Write ``record`` as JSON to ``path`` through a temporary name and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path, what):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as err:
        raise SweepError(f"{path}: not valid JSON ({err}); expected {what}") from None


def load_sweep(path):
    """The :class:`SweepSpec` of the sweep directory ``path``.

    Raises
    ------
    SweepError
        No sweep.json, not JSON, another format, or fields that do not load.
    """
    path = Path(path)
    file = path / SWEEP_FILE
    if not file.is_file():
        raise SweepError(f"{path}: no {SWEEP_FILE}; expected a sweep directory made by vrnn-sweep")
    record = _read_json(file, "the sweep's grid")
    if not isinstance(record, dict) or record.get("format") != SWEEP_FORMAT:
        found = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise SweepError(f"{file}: format {found!r}; expected {SWEEP_FORMAT!r}")
    try:
        return SweepSpec(**record)
    except TypeError as err:
        raise SweepError(f"{file}: the sweep does not load ({err})") from None


def create_sweep(path, spec):
    """Write ``spec`` to ``path/sweep.json``, or extend the sweep already there.

    A sweep directory may be run again with more models or seeds (the grid grows to the union);
    everything else (:meth:`SweepSpec.settings`) must be as before. Returns the spec in force.

    Raises
    ------
    SweepError
        When ``path`` holds a sweep with other settings (naming the first that differs).
    """
    path = Path(path)
    if (path / SWEEP_FILE).exists():
        old = load_sweep(path)
        for key, value in spec.settings().items():
            if old.settings()[key] != value:
                raise SweepError(f"{path} holds a sweep with {key}={old.settings()[key]!r}, not "
                                 f"{value!r}; run it with the same settings or choose another --out")
        spec = SweepSpec(**{**asdict(old), "models": tuple(dict.fromkeys(old.models + spec.models)),
                            "seeds": tuple(dict.fromkeys(old.seeds + spec.seeds))})
    path.mkdir(parents=True, exist_ok=True)
    (path / LOGS).mkdir(exist_ok=True)
    write_json(path / SWEEP_FILE, asdict(spec))
    return spec


def read_status(path):
    """``status.json`` of the sweep directory ``path``: cell name -> its last outcome ({} if none)."""
    file = Path(path) / STATUS_FILE
    return _read_json(file, "the cells' outcomes") if file.is_file() else {}


#: What an evaluation records of its protocol: result key -> the :class:`SweepSpec` field (FIVO's
#: resampling criterion is in the evaluation's file name: :func:`sweep_eval_name`).
PROTOCOL = {"checkpoint": "checkpoint", "n_samples": "samples", "seed": "eval_seed", "limit": "limit",
            "particles": "eval_particles"}


def protocol_differences(result, spec):
    """The protocol fields ``result`` records with another value than the sweep ``spec``'s, as
    ``'n_samples 1 (the sweep: 40)'`` strings; [] when it is the sweep's evaluation (a field the
    result does not record is taken as the sweep's: files of earlier versions lack ``limit``)."""
    return [f"{key} {result[key]} (the sweep: {getattr(spec, field)})" for key, field in PROTOCOL.items()
            if key in result and result[key] != getattr(spec, field)]


def sweep_eval_name(split, spec):
    """The file name of the evaluation ``spec``'s protocol writes (``vrnn-eval``'s name for its
    checkpoint and FIVO settings: :func:`~nips2015_vrnn.models.app.outputs.eval_name`)."""
    from nips2015_vrnn.models.app.outputs import eval_name

    return eval_name(split, spec.checkpoint, spec.eval_particles, spec.eval_resample)


def _eval_files(run_path, split):
    run_path = Path(run_path)
    files = [run_path / f"eval_{split}.json"]
    files += sorted(run_path.glob(f"eval_{split}_*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    return [file for file in files if file.is_file()]


def eval_result(run_path, split, spec=None):
    """The evaluation of ``split`` saved in the run directory ``run_path``, or None.

    With the sweep's ``spec``: the evaluation the sweep made, by its protocol (``eval_<split>.json``
    or the file :func:`sweep_eval_name` names, recording the sweep's checkpoint, importance samples,
    seed, limit and FIVO particles: :func:`protocol_differences`); any other evaluation of the run is not it (see
    :func:`other_evaluations`). Without: ``eval_<split>.json`` or, failing that, the newest
    ``eval_<split>_*.json``. The one place that knows these names.
    """
    for file in _eval_files(run_path, split):
        if spec is not None and file.name not in (f"eval_{split}.json", sweep_eval_name(split, spec)):
            continue
        result = _read_json(file, "an evaluation written by vrnn-eval")
        if spec is None or not protocol_differences(result, spec):
            return result
    return None


def other_evaluations(run_path, split, spec):
    """The evaluations of ``split`` in ``run_path`` other than the sweep's (:func:`eval_result`):
    (file name, result, its :func:`protocol_differences`) each, newest first."""
    found = []
    for file in _eval_files(run_path, split):
        result = _read_json(file, "an evaluation written by vrnn-eval")
        differences = protocol_differences(result, spec)
        if file.name not in (f"eval_{split}.json", sweep_eval_name(split, spec)) and not differences:
            differences = [f"file {file.name}"]
        if differences:
            found.append((file.name, result, differences))
    return found


def cell_state(sweep_path, spec, model, seed):
    """The state of one cell (one of :data:`CELL_STATES`), from its files."""
    run_path = Path(sweep_path) / cell_name(model, seed)
    if eval_result(run_path, spec.split, spec) is not None:
        return "done"
    if (run_path / "checkpoints" / "last").is_dir():
        return "interrupted"
    status = read_status(sweep_path).get(cell_name(model, seed), {})
    if status.get("state") == "failed" or (run_path / CONFIG_FILE).exists():
        return "failed"
    return "missing"
