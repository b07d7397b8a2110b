"""The evaluations of one or more sweeps, collected into the layout of the paper's Table 1.

One row per model (in :data:`~nips2015_vrnn.models.presets.MODELS` order), one column per corpus;
each cell is the lower bound ("≥"), the importance-sampled log-likelihood ("≈") and FIVO's estimate as mean ± std
over the seeds evaluated, with the paper's numbers beside it when every evaluated run of the cell
is the paper's preset. Cells with seeds not evaluated say which (and their state); written as
Markdown (:func:`markdown`), CSV (:func:`write_csv`) and a PNG bar chart (:func:`bar_chart`).

Example
-------
>>> format_stat([9000.0, 9010.0])
'9005.0 ± 7.1'
>>> format_stat([9000.0])
'9000.0'
"""
import csv
import io
import os
from collections import OrderedDict, namedtuple
from pathlib import Path

import numpy as np

from cle.errors import UserError
from nips2015_vrnn.models.app.evaluation import CORPUS_TITLES, paper_row
from nips2015_vrnn.models.app.published_music import MUSIC_CORPORA, PUBLISHED_MUSIC, SOURCES
from nips2015_vrnn.models.app.sweepdir import (
    SweepError,
    cell_name,
    cell_state,
    eval_result,
    load_sweep,
    other_evaluations,
    read_status,
)
from nips2015_vrnn.models.presets import MODELS, get_preset, preset_name

__all__ = ["Cell", "Table", "collect", "format_stat", "markdown", "write_csv", "bar_chart", "CSV_FIELDS",
           "MODEL_TITLES", "write_table", "published_music_lines"]

#: Command-line model name -> the name the paper's table gives it ('vrnn-gmm' -> 'VRNN-GMM').
MODEL_TITLES = OrderedDict((model, get_preset(preset_name("text" if output == "categorical" else "sequences", model))
                            .model_name) for model, (_, output, _) in MODELS.items())
#: Columns of the CSV file, one row per (corpus, model).
CSV_FIELDS = ("corpus", "model", "seeds_evaluated", "seeds", "bound_mean", "bound_std", "is_mean", "is_std",
              "paper_bound", "paper_is", "preset", "unfinished", "bound_per_step_mean", "is_per_step_mean",
              "fivo_mean", "fivo_std", "fivo_per_step_mean")

#: One table cell: the evaluations of its seeds and the state of those not evaluated.
Cell = namedtuple("Cell", ["column", "model", "seeds", "bounds", "estimates", "paper", "presets", "unfinished",
                           "others", "per_step", "fivos"], defaults=((), (), ()))
Cell.__doc__ = """One (corpus column, model) cell.

``seeds``: every seed of the grid; ``bounds`` / ``estimates``: the evaluated seeds' lower bounds and
IS log-likelihoods (nats per sequence); ``paper``: the paper's numbers when every evaluated run is
the paper's preset, else None; ``presets``: the evaluated runs' presets; ``unfinished``: seed ->
state (interrupted / failed / missing) of the seeds not evaluated; ``others``: one line per other
evaluation of its runs (another checkpoint, sample count, seed or limit than the sweep's
protocol), listed beside the table, never averaged into it; ``per_step``: the evaluated seeds'
(lower bound, IS log-likelihood) in nats per time step, where their evaluation gives them; ``fivos``:
the evaluated seeds' (FIVO estimate per sequence, per time step), where their evaluation has one."""


class Table:
    """Cells keyed by (column title, model), with the columns and models in table order."""

    def __init__(self, columns, models, cells):
        self.columns, self.models, self.cells = list(columns), list(models), dict(cells)
        #: column title -> its [(sweep path, SweepSpec)] (when made by :func:`collect`)
        self.columns_sweeps = dict(columns) if isinstance(columns, dict) else {}

    def cell(self, column, model):
        """The :class:`Cell` at (``column``, ``model``), or None when no sweep has it."""
        return self.cells.get((column, model))


def _column_title(spec):
    return CORPUS_TITLES[spec.corpus] + (" (demo)" if spec.demo else "")


def collect(sweep_dirs):
    """The :class:`Table` of the sweep directories ``sweep_dirs``.

    Sweeps of the same corpus share a column when their settings agree (seeds split over
    several sweeps); otherwise they cannot be averaged and this raises :class:`SweepError`.
    """
    if not sweep_dirs:
        raise SweepError("give at least one sweep directory")
    by_column = OrderedDict()
    for path in OrderedDict.fromkeys(Path(p).resolve() for p in sweep_dirs):
        spec = load_sweep(path)
        title = _column_title(spec)
        if title in by_column and by_column[title][0][1].settings() != spec.settings():
            first = by_column[title][0][0]
            raise SweepError(f"{first} and {path} are sweeps of {title} with different settings; "
                             "give one of them (a table column averages runs of one configuration)")
        by_column.setdefault(title, []).append((Path(path), spec))
    cells = {}
    for title, sweeps in by_column.items():
        for model in MODELS:
            seeds, bounds, estimates, presets, unfinished, others, per_step = [], [], [], [], {}, [], []
            fivos = []
            for path, spec in sweeps:
                if model not in spec.models:
                    continue
                status = read_status(path)
                for seed in spec.seeds:
                    seeds.append(seed)
                    found = eval_result(path / cell_name(model, seed), spec.split, spec)
                    for name, result, differences in other_evaluations(path / cell_name(model, seed),
                                                                       spec.split, spec):
                        others.append(f"seed {seed}, {name}: ≥ {_number(result.get('lower_bound'))}, "
                                      f"≈ {_number(result.get('loglik_is'))} ({', '.join(differences)})")
                    if found is None:
                        state = cell_state(path, spec, model, seed)
                        error = status.get(cell_name(model, seed), {}).get("error")
                        unfinished[seed] = state + (f": {error}" if error and state == "failed" else "")
                        continue
                    bounds.append(float(found["lower_bound"]))
                    estimates.append(float(found["loglik_is"]))
                    if "lower_bound_per_step" in found and "loglik_is_per_step" in found:
                        per_step.append((float(found["lower_bound_per_step"]), float(found["loglik_is_per_step"])))
                    presets.append(found.get("preset"))
                    if "fivo" in found:
                        fivos.append((float(found["fivo"]), float(found.get("fivo_per_step", "nan"))))
            if not seeds:
                continue
            paper_preset = None if sweeps[0][1].demo else preset_name(sweeps[0][1].corpus, model)
            paper = paper_row(paper_preset) if presets and all(p == paper_preset for p in presets) else None
            cells[(title, model)] = Cell(title, model, seeds, bounds, estimates, paper, presets, unfinished,
                                         tuple(others), tuple(per_step), tuple(fivos))
    models = [model for model in MODELS if any(key[1] == model for key in cells)]
    return Table(by_column, models, cells)


def _number(value):
    try:
        return f"{float(value):.1f}"
    except (TypeError, ValueError):
        return "?"


def _protocol(spec):
    """The evaluation protocol of a sweep, in words."""
    fivo = f"FIVO {spec.eval_particles} particles ({spec.eval_resample}), " if spec.eval_particles else ""
    return (f"checkpoint {spec.checkpoint}, {spec.samples} importance samples, {fivo}seed {spec.eval_seed}, "
            f"{'all' if spec.limit is None else f'the first {spec.limit}'} {spec.split} sequences")


def _stats(values):
    """(mean, std over seeds with ddof=1; 0 for one value) or (None, None)."""
    if not values:
        return None, None
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def format_stat(values):
    """Mean ± std (sample std over seeds) with one decimal; the value alone for one seed."""
    mean, std = _stats(values)
    if mean is None:
        return "—"
    return f"{mean:.1f} ± {std:.1f}" if len(values) > 1 else f"{mean:.1f}"


def _cell_text(cell):
    if cell is None:
        return "not in the sweep"
    if not cell.bounds:
        return "missing"
    text = f"≥ {format_stat(cell.bounds)}, ≈ {format_stat(cell.estimates)}"
    if cell.fivos:
        text += f", FIVO {format_stat([f for f, _ in cell.fivos])}"
    if len(cell.seeds) > 1 or cell.unfinished:
        text += f" ({len(cell.bounds)}/{len(cell.seeds)} seeds)"
    if cell.per_step:
        bound, estimate = np.mean(cell.per_step, axis=0)
        text += f"; per step ≥ {bound:.4f}, ≈ {estimate:.4f}"
        if cell.fivos:
            text += f", FIVO {np.mean([f for _, f in cell.fivos]):.4f}"
    return text


def _paper_text(cell):
    if cell is None or cell.paper is None:
        return "—"
    return f"≥ {cell.paper['bound']}, ≈ {cell.paper['estimate']}"


def _pianoroll_columns(table):
    """The titles of the table's columns of piano-roll sweeps."""
    return [column for column, sweeps in table.columns_sweeps.items()
            if sweeps and sweeps[0][1].corpus == "pianoroll"]


def published_music_lines(table, corpus=None):
    """The published per-time-step numbers of the piano-roll corpora
    (:data:`~nips2015_vrnn.models.app.published_music.PUBLISHED_MUSIC`) as Markdown list lines,
    each with its source: those of ``corpus`` (a key of ``MUSIC_CORPORA``: the corpus the table's
    piano-roll runs were trained on) beside those runs' own per-step numbers, or without ``corpus``
    every corpus's, when the table has a piano-roll column; [] otherwise."""
    columns = _pianoroll_columns(table)
    if corpus is None and not columns:
        return []
    if corpus is None:
        lines = ["Published log-likelihoods per time step on the piano-roll corpora (nats, their test "
                 "splits); give --pianoroll-corpus to set this table's piano-roll runs beside one of them:"]
        for model in OrderedDict.fromkeys(row.model for row in PUBLISHED_MUSIC):
            rows = [row for row in PUBLISHED_MUSIC if row.model == model]
            values = ", ".join(f"{MUSIC_CORPORA[row.corpus]} {row.loglik:.2f}" for row in rows)
            lines.append(f"- {model}: {values} ({'; '.join(OrderedDict.fromkeys(SOURCES[r.source] for r in rows))})")
        return lines
    lines = [f"Published log-likelihoods per time step on {MUSIC_CORPORA[corpus]} (nats, its test split), "
             "beside this table's piano-roll runs:"]
    lines += [f"- {row.model}: {row.loglik:.2f} ({SOURCES[row.source]})"
              for row in PUBLISHED_MUSIC if row.corpus == corpus]
    for column in columns:
        for model in table.models:
            cell = table.cell(column, model)
            if cell is None or not cell.per_step:
                continue
            bound, estimate = np.mean(cell.per_step, axis=0)
            fivo = f", FIVO {np.mean([f for _, f in cell.fivos]):.4f}" if cell.fivos else ""
            lines.append(f"- ours, {MODEL_TITLES[model]} ({column}): ≥ {bound:.4f}, ≈ {estimate:.4f}{fivo}")
    return lines


def markdown(table, pianoroll_corpus=None):
    """Table 1 as Markdown: per corpus a column of ours and one of the paper's, then the notes
    (and the published piano-roll numbers: :func:`published_music_lines`)."""
    header = ["Model"]
    for column in table.columns:
        header += [column, f"{column}: paper"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for model in table.models:
        row = [MODEL_TITLES[model]]
        for column in table.columns:
            cell = table.cell(column, model)
            row += [_cell_text(cell), _paper_text(cell)]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Average log-likelihood per test sequence (nats): ≥ the variational lower bound, "
                  "≈ importance sampled (IWAE), FIVO the particle filter's estimate (same particles, where "
                  "evaluated); mean ± std over seeds (per step: the sums over the sequences "
                  "divided by their time steps, mean over seeds). The paper's numbers stand beside runs "
                  "of the paper's preset only."]
    notes = [f"- {column} {MODEL_TITLES[model]}, seed {seed}: {state}"
             for (column, model), cell in table.cells.items() for seed, state in cell.unfinished.items()]
    if notes:
        lines += ["", "Not evaluated (run the sweep again to resume):", *notes]
    lines += ["", "Each cell is the evaluation its sweep made: " + "; ".join(
        f"{column}: {_protocol(sweeps[0][1])}" for column, sweeps in table.columns_sweeps.items()) + "."]
    others = [f"- {column} {MODEL_TITLES[model]}, {line}"
              for (column, model), cell in table.cells.items() for line in cell.others]
    if others:
        lines += ["", "Other evaluations of these runs (not in the table):", *others]
    music = published_music_lines(table, pianoroll_corpus)
    if music:
        lines += ["", *music]
    return "\n".join(lines) + "\n"


def csv_rows(table):
    """One dict per (corpus, model) cell with the fields of :data:`CSV_FIELDS`."""
    rows = []
    for column in table.columns:
        for model in table.models:
            cell = table.cell(column, model)
            if cell is None:
                continue
            (bound, bound_std), (estimate, estimate_std) = _stats(cell.bounds), _stats(cell.estimates)
            rows.append({
                "corpus": column, "model": MODEL_TITLES[model], "seeds_evaluated": len(cell.bounds),
                "seeds": len(cell.seeds), "bound_mean": bound, "bound_std": bound_std, "is_mean": estimate,
                "is_std": estimate_std, "paper_bound": cell.paper["bound"] if cell.paper else None,
                "paper_is": cell.paper["estimate"] if cell.paper else None,
                "preset": ";".join(sorted({p or "custom" for p in cell.presets})),
                "unfinished": "; ".join(f"seed {s}: {state}" for s, state in cell.unfinished.items()),
                "bound_per_step_mean": _stats([b for b, _ in cell.per_step])[0],
                "is_per_step_mean": _stats([e for _, e in cell.per_step])[0],
                "fivo_mean": _stats([f for f, _ in cell.fivos])[0], "fivo_std": _stats([f for f, _ in cell.fivos])[1],
                "fivo_per_step_mean": _stats([f for _, f in cell.fivos])[0],
            })
    return rows


def write_csv(table, path):
    """Write the table as CSV (one row per cell, :data:`CSV_FIELDS`) to ``path``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(table):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    _write_text(path, buffer.getvalue())


def bar_chart(table, path):
    """A PNG bar chart per corpus: our ≥ and ≈ (error bars: std over seeds) against the paper's."""
    from nips2015_vrnn.models.app.plotting import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, len(table.columns), figsize=(5.5 * len(table.columns), 4), squeeze=False)
    bars = (("ours ≥", "bounds", None), ("ours ≈", "estimates", None), ("paper ≥", None, "bound"),
            ("paper ≈", None, "estimate"))
    width = 0.8 / len(bars)
    x = np.arange(len(table.models))
    for ax, column in zip(axes[0], table.columns):
        for i, (label, ours, paper) in enumerate(bars):
            heights, errors = [], []
            for model in table.models:
                cell = table.cell(column, model)
                if ours:
                    mean, std = _stats(getattr(cell, ours)) if cell else (None, None)
                else:
                    mean, std = (cell.paper[paper], 0.0) if cell and cell.paper else (None, None)
                heights.append(np.nan if mean is None else mean)
                errors.append(0.0 if std is None else std)
            ax.bar(x + (i - (len(bars) - 1) / 2) * width, heights, width, yerr=errors, label=label,
                   hatch="//" if paper else None, alpha=0.9)
        ax.set_xticks(x, [MODEL_TITLES[m] for m in table.models], rotation=20)
        ax.set_title(column)
        ax.set_ylabel("log-likelihood per sequence (nats)")
        ax.legend(fontsize="small")
    fig.tight_layout()
    tmp = Path(path).with_name(f".{Path(path).name}.tmp-{os.getpid()}.png")
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)  # a full disk leaves no temporary


def _write_text(path, text):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk leaves no temporary


def write_table(table, out_dir, name="table1", png=True, pianoroll_corpus=None):
    """Write ``<name>.md`` (:func:`markdown` with ``pianoroll_corpus``), ``<name>.csv`` and (with
    ``png``) ``<name>.png`` into ``out_dir``; returns the paths written."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"{out_dir}: cannot make the output folder ({err.strerror})") from None
    paths = [out_dir / f"{name}.md", out_dir / f"{name}.csv"]
    _write_text(paths[0], markdown(table, pianoroll_corpus))
    write_csv(table, paths[1])
    if png:
        paths.append(out_dir / f"{name}.png")
        bar_chart(table, paths[2])
    return paths
