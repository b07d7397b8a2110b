"""``vrnn-sweep``: train and evaluate a grid of (model, seed) runs of one corpus, here or on Dask."""
import re
import sys

import click

from cle import backend
from nips2015_vrnn.datasets.lookup import CORPORA, DEMO_CORPORA
from nips2015_vrnn.models.app.cli.common import (
    DEFAULT_MODE_HELP,
    EXIT_INTERRUPTED,
    setup_logging,
    user_errors,
    verbose_option,
)
from nips2015_vrnn.models.presets import MODELS, PAPER_MODELS

__all__ = ["sweep"]


def _names(value, choices, what):
    items = [item.strip() for item in value.split(",") if item.strip()]
    unknown = [item for item in items if item not in choices]
    if unknown or not items:
        raise click.BadParameter(f"{', '.join(unknown) or 'nothing'}: expected {what} among "
                                 f"{', '.join(choices)}, separated by commas")
    return tuple(dict.fromkeys(items))


def _seeds(value):
    try:
        seeds = tuple(dict.fromkeys(int(item) for item in value.split(",") if item.strip()))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected integers separated by commas, e.g. 1,2,3") from None
    if not seeds or min(seeds) < 0:
        raise click.BadParameter(f"{value!r}: expected integers >= 0, e.g. 1,2,3")
    return seeds


#: A Dask scheduler's address: protocol://host:port.
ADDRESS = re.compile(r"^(tcp|tls|ucx|ws|wss)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def _address(ctx, param, value):
    """--address: ``tcp://HOST:PORT`` (or tls, ucx, ws, wss), the port in 1..65535."""
    if value is None:
        return None
    match = ADDRESS.match(value)
    if not match or not 1 <= int(match.group(3)) <= 65535:
        raise click.BadParameter(f"{value!r} is not a scheduler address; expected tcp://HOST:PORT, "
                                 "e.g. tcp://10.0.0.5:8786 (what dask-scheduler prints)")
    return value


def _echo_result(result, done, total):
    steps = ", ".join(result.get("steps") or []) or "nothing done"
    line = f"[{done}/{total}] {result['cell']}: {result['state']} ({steps}"
    if result.get("seconds"):
        line += f", {result['seconds']:.0f} s"
    line += ")"
    if result.get("lower_bound") is not None:
        line += f"  >= {result['lower_bound']:.1f}  ~= {result['loglik_is']:.1f}"
    click.echo(line)
    if result.get("error"):
        click.echo(f"    error: {result['error']}")


@click.command(help="""Train and evaluate every (model, seed) cell of a corpus: Table 1 of the paper.

Each cell is an ordinary run directory SWEEP_DIR/<model>-seed<seed>, trained by vrnn-train and
then evaluated by vrnn-eval (bound and importance sampling, --eval-samples 40 as in the paper;
FIVO too with --eval-particles K),
each command in its own process. SWEEP_DIR/sweep.json describes the grid. Run the same command
again to skip finished cells, resume interrupted ones from their checkpoint and retry failed
ones; more --models or --seeds extend the grid. A failed cell is reported and does not stop the
others (exit status 1 if any failed). vrnn-table SWEEP_DIR collects the table.

Cells run here one after another, or as Dask tasks with --scheduler dask: --workers N starts a
cluster of N processes on this machine, --address joins a running scheduler (a Slurm or PBS
cluster started with dask-jobqueue, say; see the README). Dask is the 'cluster' extra.

\b
Examples:
  vrnn-sweep demo --out sweeps/demo --models vrnn-gmm,rnn-gauss --seeds 1,2 --max-updates 200
  vrnn-sweep iamondb --data data/iamondb.h5 --out sweeps/iamondb --seeds 1,2,3 --scheduler dask --workers 4
  vrnn-sweep blizzard --data data/blizzard.h5 --out sweeps/blizzard --scheduler dask --address tcp://10.0.0.5:8786
""")
@click.argument("corpus", type=click.Choice(list(CORPORA) + ["demo"]))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Sweep directory (made, or continued).")
@click.option("--data", type=click.Path(), help="Prepared HDF5 file, or a folder holding <corpus>.h5.")
@click.option("--corpus", "demo_corpus", type=click.Choice(list(DEMO_CORPORA)), default="speech",
              show_default=True, help="Half of the demo corpus (demo only).")
@click.option("--models", default=",".join(PAPER_MODELS), show_default=True,
              help="Models of the paper, separated by commas.")
@click.option("--seeds", default="1", show_default=True, help="Seeds, separated by commas: one run per model and seed.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override one configuration key of every run (repeatable).")
@click.option("--max-updates", type=click.IntRange(min=1), help="Stop each run after this many updates in total.")
@click.option("--eval-samples", default=40, show_default=True, type=click.IntRange(min=1),
              help="Importance samples per sequence in the evaluation.")
@click.option("--eval-limit", type=click.IntRange(min=1), help="Evaluate only the first N sequences.")
@click.option("--eval-particles", type=int, metavar="K",
              help="Also FIVO's estimate with K >= 1 particles (vrnn-eval --particles; default with "
                   "--eval-resample: --eval-samples).")
@click.option("--eval-resample", metavar="SCHEME",
              help="FIVO's resampling in the evaluation: ess (the default), always or never (vrnn-eval --resample).")
@click.option("--split", type=click.Choice(["valid", "test"]), default="test", show_default=True,
              help="Split evaluated.")
@click.option("--mode", type=click.Choice(list(backend.MODES)), default=None,
              help=f"PyTensor backend of every run ({DEFAULT_MODE_HELP}).")
@click.option("--float64", "float64", is_flag=True, help="Train in float64 (default float32).")
@click.option("--scheduler", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Run the cells here one after another, or as Dask tasks.")
@click.option("--workers", type=click.IntRange(min=1), help="Dask: start a cluster of N worker processes here.")
@click.option("--address", callback=_address, help="Dask: join the scheduler at this address (tcp://HOST:PORT).")
@click.option("--threads", type=click.IntRange(min=1),
              help="Threads per run in every mode: BLAS threads, and CPUs of its own that XLA sizes "
                   "its pool from (default: inherited; cores / workers with --workers).")
@verbose_option
@user_errors
def sweep(corpus, out, data, demo_corpus, models, seeds, sets, max_updates, eval_samples, eval_limit,
          eval_particles, eval_resample, split, mode, float64, scheduler, workers, address, threads, verbose):
    from nips2015_vrnn.datasets import lookup
    from nips2015_vrnn.models.app import configure
    from nips2015_vrnn.models.app.sweep import run_sweep
    from nips2015_vrnn.models.app.sweepdir import SweepSpec

    setup_logging(verbose)
    models, seeds = _names(models, list(MODELS), "models"), _seeds(seeds)
    if scheduler == "local" and (workers or address):
        raise click.UsageError("--workers and --address need --scheduler dask")
    if workers and address:
        raise click.UsageError("give --workers (a cluster here) or --address (a running scheduler), not both")
    configure.parse_overrides(sets)  # a bad --set is an error now, not in every cell
    from nips2015_vrnn.models.app.evaluation import fivo_settings

    eval_particles, eval_resample = fivo_settings(eval_particles, eval_resample, eval_samples,
                                                  "--eval-")  # checked now, not in every cell
    demo = corpus == "demo"
    if data is None:
        if not demo:
            raise click.UsageError(f"give --data: the file or folder written by vrnn-prepare {corpus}")
        if not lookup.demo_is_prepared():
            click.echo(f"preparing the demo corpus in {lookup.demo_data_dir()} (first use only) ...")
        data = lookup.ensure_demo_data()
    fmt = DEMO_CORPORA[demo_corpus] if demo else corpus
    data = str(lookup.find_data_file(fmt, data).resolve())
    spec = SweepSpec(corpus=fmt, demo=demo, data=data, models=models, seeds=seeds, sets=tuple(sets),
                     max_updates=max_updates, float64=float64, mode=mode, split=split, samples=eval_samples,
                     limit=eval_limit, eval_particles=eval_particles, eval_resample=eval_resample)
    click.echo(f"sweep {out}: {len(models)} models x {len(seeds)} seeds of {fmt}"
               f"{' (demo)' if demo else ''}, {scheduler}"
               + (f" ({workers} workers)" if workers else f" ({address})" if address else ""))
    try:
        results = run_sweep(out, spec, engine=scheduler, workers=workers, address=address, threads=threads,
                            on_result=_echo_result)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted; run the same command again to resume the sweep in {out}")
        sys.exit(EXIT_INTERRUPTED)
    states = [result["state"] for result in results]
    summary = ", ".join(f"{states.count(s)} {s}" for s in ("done", "interrupted", "failed", "missing")
                        if states.count(s))
    click.echo(f"{summary}; table: vrnn-table {out}")
    if any(result.get("error") for result in results):
        sys.exit(1)
