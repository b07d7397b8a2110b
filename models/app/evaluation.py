"""Evaluation of a trained run as in the paper's Table 1: the average per-sequence variational
lower bound ("≥") and importance-sampled log-likelihood ("≈") over a split.

Units: nats per sequence (speech: one 0.5 s row of 40 normalised frames; handwriting: one line;
TIMIT: one whole utterance of normalised 200-sample frames; a user's data: one sequence),
as :meth:`SequenceModel.lower_bound` and :meth:`SequenceModel.importance_sampled_loglik` return
them. For the RNN family both numbers are the exact log-likelihood.

Example
-------
>>> paper_row('blizzard/vrnn_gmm')
{'bound': 9107, 'estimate': 9392}
>>> format_table_row('VRNN-GMM', 'Blizzard', 9000.0, 9300.0, paper_row('blizzard/vrnn_gmm'))
'Blizzard  VRNN-GMM      >= 9000.0  ~= 9300.0   (paper: >= 9107  ~= 9392)'
"""
import json
import logging
import os
import time

import numpy as np

from cle.errors import UserError
from nips2015_vrnn.datasets.lookup import CORPORA
from nips2015_vrnn.models.app import outputs
from nips2015_vrnn.models.app.host_batches import pad_time, static_steps
from nips2015_vrnn.models.app.rundir import RunError
from nips2015_vrnn.models.bounds import RESAMPLING

log = logging.getLogger(__name__)

__all__ = ["PAPER_TABLE1", "BOUND_KEYS", "paper_row", "format_table_row", "format_per_step", "evaluate_run",
           "CORPUS_TITLES", "corpus_title", "save_result", "check_particles"]

#: Chung et al. (2015), Table 1: average log-likelihood per test sequence. VRNN rows give the
#: lower bound ("≥") and the importance-sampled estimate with 40 samples ("≈"); RNN rows give the
#: exact log-likelihood (stored as both).
PAPER_TABLE1 = {
    "blizzard/rnn_gauss": {"bound": 3539, "estimate": 3539},
    "blizzard/rnn_gmm": {"bound": 7413, "estimate": 7413},
    "blizzard/vrnn_i_gauss": {"bound": 8933, "estimate": 9188},
    "blizzard/vrnn_gauss": {"bound": 9223, "estimate": 9516},
    "blizzard/vrnn_gmm": {"bound": 9107, "estimate": 9392},
    "iamondb/rnn_gauss": {"bound": 1016, "estimate": 1016},
    "iamondb/rnn_gmm": {"bound": 1358, "estimate": 1358},
    "iamondb/vrnn_i_gauss": {"bound": 1332, "estimate": 1353},
    "iamondb/vrnn_gauss": {"bound": 1337, "estimate": 1354},
    "iamondb/vrnn_gmm": {"bound": 1384, "estimate": 1384},
    # TIMIT (nats per test utterance): the bounds as quoted in issue 12 from the paper's Table 1.
    # The importance-sampled values could not be checked against a copy of the paper in this
    # port (None: shown as "n/a"); fill them in from Table 1 of arXiv:1506.02216.
    "timit/rnn_gauss": {"bound": -1900, "estimate": -1900},
    "timit/rnn_gmm": {"bound": 26643, "estimate": 26643},
    "timit/vrnn_i_gauss": {"bound": 28340, "estimate": None},
    "timit/vrnn_gauss": {"bound": 28805, "estimate": None},
    "timit/vrnn_gmm": {"bound": 28982, "estimate": None},
}
#: The bounds of an evaluation, each a key of its result: the ELBO (the paper's "≥"), the
#: importance-weighted estimate (IWAE, the paper's "≈") and FIVO's particle-filter estimate.
BOUND_KEYS = ("elbo", "iwae", "fivo")
#: Corpus name -> title in the table (from the corpus table).
CORPUS_TITLES = {name: corpus.title for name, corpus in CORPORA.items()}


def corpus_title(run):
    """The title of the run's data in a table row: the corpus's (:data:`CORPUS_TITLES`), or
    ``Demo <kind>`` for a run on the demo corpus (``demo`` in config.json)."""
    if run.record.get("demo"):
        return f"Demo {CORPORA[run.corpus].data}"
    return CORPUS_TITLES[run.corpus]


def paper_row(preset):
    """The paper's Table 1 numbers for ``preset`` (e.g. 'blizzard/vrnn_gmm'), or None."""
    return PAPER_TABLE1.get(preset) if preset else None


def format_per_step(result):
    """The per-time-step numbers of an evaluation ``result`` in one line (FIVO's where it has one).

    >>> format_per_step({"lower_bound_per_step": -0.51234, "loglik_is_per_step": -0.5, "n_steps": 960})
    'per time step: >= -0.5123  ~= -0.5000 nats (960 steps)'
    >>> format_per_step({"lower_bound_per_step": -0.5, "loglik_is_per_step": -0.4, "fivo_per_step": -0.3,
    ...                  "n_steps": 9})
    'per time step: >= -0.5000  ~= -0.4000  fivo -0.3000 nats (9 steps)'
    """
    fivo = f"  fivo {result['fivo_per_step']:.4f}" if "fivo_per_step" in result else ""
    return (f"per time step: >= {result['lower_bound_per_step']:.4f}  ~= {result['loglik_is_per_step']:.4f}"
            f"{fivo} nats ({result['n_steps']} steps)")


def format_table_row(model_name, corpus_title, bound, estimate, paper=None):
    """One Table-1 style line: the run's ">=" bound and "~=" estimate, and the paper's beside them."""
    line = f"{corpus_title:<9} {model_name:<13} >= {bound:.1f}  ~= {estimate:.1f}"
    if paper:
        estimate = "n/a" if paper["estimate"] is None else paper["estimate"]
        line += f"   (paper: >= {paper['bound']}  ~= {estimate})"
    return line


def _chunks(data, size, limit):
    """(start, end) ranges of at most ``size`` sequences covering the first ``limit`` of ``data``."""
    n = data.num_examples() if limit is None else min(limit, data.num_examples())
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def evaluate_run(run, model, split="test", n_samples=40, seed=0, limit=None, progress=None,
                 checkpoint=None, particles=None, resample="ess"):
    """Lower bound, importance-sampled (IWAE) and, when asked, FIVO log-likelihood of every sequence
    of ``split``.

    Parameters
    ----------
    run : nips2015_vrnn.models.app.rundir.RunDir
    model : the trained model
    split : {'valid', 'test'}
    n_samples : int >= 1
        Importance samples per sequence (40 in the paper), and the particles of FIVO.
    seed : int
    limit : int or None
        Evaluate only the first ``limit`` sequences.
    progress : callable or None
        ``progress(done, total)`` after each chunk of sequences.
    checkpoint : str or None
        Recorded in the result.
    particles : int >= 1 or None
        FIVO's particles K; None (default): no FIVO estimate (its particle graph is neither
        compiled nor run, so an evaluation costs what the ELBO and IWAE cost).
    resample : {'ess', 'always', 'never'}
        When FIVO resamples its particles: effective sample size below K/2, every frame, or never
        (the IWAE bound of K particles, through the particle graph).

    Returns
    -------
    dict: ``split``, ``model``, ``preset``, ``checkpoint``, ``n_sequences``, ``n_samples``,
    ``lower_bound`` and ``loglik_is`` (means over sequences), their standard errors
    ``lower_bound_sem`` / ``loglik_is_sem``, ``n_steps`` (the unmasked time steps of the
    sequences), ``lower_bound_per_step`` and ``loglik_is_per_step`` (sums over the sequences
    divided by ``n_steps``: nats per time step), ``paper`` (Table 1 numbers or None), ``seconds``,
    ``backend`` (mode, floatX and matmul_precision of the computation),
    ``per_sequence`` (``lower_bound``, ``loglik_is`` and ``steps`` of each sequence, in split order).
    Every bound under its own name too (:data:`BOUND_KEYS`): ``elbo`` (the lower bound), ``iwae``
    (the importance-sampled estimate, K = ``n_samples``) and, with ``particles``, ``fivo`` (the
    particle filter's), each with ``_sem`` and ``_per_step`` and in ``per_sequence``; ``particles``
    and ``resample`` record FIVO's settings (both None without FIVO).
    """
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be 'train', 'valid' or 'test'; got {split!r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1; got {n_samples}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1; got {limit}")
    if particles is not None:
        check_particles(particles, resample)
    began = time.perf_counter()
    bounds, estimates, fivos, steps = [], [], [], []
    with run.open_split(split) as data:
        chunks = _chunks(data, model.config.m_batch_size, limit)
        total = chunks[-1][1]
        # Static shapes (JAX): every masked chunk padded to the split's longest line, one compile.
        n_steps = static_steps(data) if model.backend.static_shapes else None
        for start, end in chunks:
            batch = data.slices(start, end)
            mask = batch[1] if len(batch) > 1 else None
            steps.append(np.full(end - start, batch[0].shape[0]) if mask is None else mask.sum(axis=0))
            if mask is not None and n_steps is not None:
                batch[0], mask = pad_time(batch[0], mask, n_steps)
            bounds.append(model.lower_bound(batch[0], mask, seed=seed + start))
            estimates.append(model.importance_sampled_loglik(batch[0], mask, n_samples=n_samples,
                                                             seed=seed + start))
            if particles is not None:
                fivos.append(model.fivo_loglik(batch[0], mask, n_particles=particles, seed=seed + start,
                                               resample=resample))
            if progress:
                progress(end, total)
    bounds, estimates = np.concatenate(bounds), np.concatenate(estimates)
    steps = np.concatenate(steps).astype(np.int64)

    def sem(values):
        return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0

    preset = run.record.get("preset")
    updates = outputs.checkpoint_updates(run, checkpoint) if checkpoint else None
    result = {
        "split": split, "model": model.config.model_name, "corpus": run.corpus, "preset": preset,
        "checkpoint": checkpoint, "checkpoint_updates": updates, "demo": bool(run.record.get("demo")),
        "corpus_title": corpus_title(run), "n_sequences": int(len(bounds)), "n_samples": int(n_samples),
        "limit": limit, "seed": int(seed), "lower_bound": float(bounds.mean()), "lower_bound_sem": sem(bounds),
        "loglik_is": float(estimates.mean()), "loglik_is_sem": sem(estimates),
        "n_steps": int(steps.sum()), "lower_bound_per_step": float(bounds.sum() / steps.sum()),
        "loglik_is_per_step": float(estimates.sum() / steps.sum()),
        "paper": paper_row(preset), "seconds": time.perf_counter() - began,
        "backend": model.backend.spec(),
        "per_sequence": {"lower_bound": bounds.tolist(), "loglik_is": estimates.tolist(),
                         "steps": steps.tolist()},
    }
    result["particles"] = None if particles is None else int(particles)
    result["resample"] = None if particles is None else resample
    values_of = [bounds, estimates] + ([np.concatenate(fivos)] if particles is not None else [])
    for key, values in zip(BOUND_KEYS, values_of):
        result[key], result[f"{key}_sem"] = float(values.mean()), sem(values)
        result[f"{key}_per_step"] = float(values.sum() / steps.sum())
        result["per_sequence"][key] = values.tolist()
    log.info("%s on %s (%d sequences): lower bound %.2f, IS log-likelihood %.2f%s", result["model"],
             split, result["n_sequences"], result["lower_bound"], result["loglik_is"],
             f", FIVO {result['fivo']:.2f}" if "fivo" in result else "")
    return result


def check_particles(particles, resample):
    """Refuse FIVO settings the particle filter cannot run: ``particles`` an int K >= 1, ``resample``
    one of :data:`~nips2015_vrnn.models.bounds.RESAMPLING` (raises ValueError naming the value)."""
    if isinstance(particles, bool) or not isinstance(particles, (int, np.integer)) or particles < 1:
        raise ValueError(f"particles must be an integer >= 1; got {particles!r}")
    if resample not in RESAMPLING:
        raise ValueError(f"resample must be one of {', '.join(RESAMPLING)}; got {resample!r}")


def fivo_settings(particles, resample, samples, option_prefix="--"):
    """The FIVO settings a command was given, completed and checked: ``(K, scheme)``, K defaulting
    to ``samples`` and the scheme to 'ess' when only one is given; ``(None, None)`` when neither
    (FIVO not asked for). A bad value is a UserError naming the option (``option_prefix`` + name)."""
    if particles is None and resample is None:
        return None, None
    particles = samples if particles is None else particles
    resample = resample or "ess"
    try:
        check_particles(particles, resample)
    except ValueError as err:
        raise UserError(f"{option_prefix}{err}") from None
    return particles, resample


def save_result(run, result):
    """Write ``result`` to ``RUN_DIR/eval_<split>_<checkpoint>[_fivo<K>-<resample>].json``
    (:func:`~nips2015_vrnn.models.app.outputs.eval_name`, through a temporary file); returns the path."""
    path = outputs.eval_path(run, result["split"], result["checkpoint"] or "params", result.get("particles"),
                             result.get("resample"))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(result, indent=1) + "\n")
        os.replace(tmp, path)  # replaces a symbolic link at ``path``, never writes through it
    except OSError as err:
        raise RunError(f"{path}: cannot write the evaluation ({err.strerror or err}); expected a "
                       "run directory with space this user can write") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path
