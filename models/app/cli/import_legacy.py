"""``vrnn-import-legacy``: a model trained by the legacy code, as a run directory of this port."""
import time

import click

from cle.backend import MODES
from nips2015_vrnn.datasets.lookup import CORPORA
from nips2015_vrnn.models.app.cli.common import DEFAULT_MODE_HELP, setup_logging, user_errors, verbose_option

__all__ = ["import_legacy"]


@click.command(help="""Import a model trained by the legacy code (Theano, 2015-2017) as a run directory.

PICKLE is what the legacy Picklize or EarlyStopping extension saved (the whole main loop:
<pkl_name>.pkl, <pkl_name>_best.pkl), of Python 2 or 3, or the same file gzip-compressed. It is
read without Theano and without running anything it names: a pickle that asks to run anything
else than building arrays and containers is refused. The model (family, output, widths, depth,
K, batch_size) is inferred from the parameter shapes; --config (the legacy config.txt, or a JSON
object of its keys) and --set KEY=VALUE give the rest (lr, epoch, monitoring_freq ...) and are
checked against the parameters. --data is the prepared data file (vrnn-prepare) that vrnn-eval,
vrnn-sample and vrnn-train --resume will read; its frames must be x_dim wide.

RUN_DIR gets config.json, checkpoints/last and checkpoints/best (the parameters, the TBPTT state,
the legacy training log) and log.jsonl (the legacy monitoring history, marked imported). The
legacy pickle holds no optimizer state: a resumed training starts Adam afresh and says so.

\b
Example:
  vrnn-import-legacy vrnn_gmm_1_best.pkl --out runs/legacy --data data/blizzard.h5 --config config.txt
  vrnn-eval runs/legacy
  vrnn-train --resume runs/legacy --epochs 5
""")
@click.argument("pickle_path", metavar="PICKLE", type=click.Path(dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Run directory to create.")
@click.option("--data", required=True, type=click.Path(),
              help="Prepared HDF5 file (vrnn-prepare), or a folder holding <corpus>.h5.")
@click.option("--corpus", type=click.Choice(list(CORPORA)), default=None,
              help="Format of --data (default: iamondb for a handwriting model, else blizzard).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="The legacy config.txt ('key value' lines) or a JSON object of the same keys.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override one configuration key (repeatable; legacy key names).")
@click.option("--mode", type=click.Choice(list(MODES)), default=None,
              help=f"PyTensor backend of the run ({DEFAULT_MODE_HELP}).")
@verbose_option
@user_errors
def import_legacy(pickle_path, out, data, corpus, config_file, sets, mode, verbose):
    from nips2015_vrnn.models.app import configure, legacy_import
    from nips2015_vrnn.models.app.progress import CompileProgress
    from nips2015_vrnn.models.compiled import program_backend

    setup_logging(verbose)
    began = time.perf_counter()
    plan = legacy_import.plan_import(pickle_path, corpus=corpus, config_file=config_file,
                                     overrides=configure.parse_overrides(sets))
    loop, config = plan.loop, plan.config
    click.echo(f"read {pickle_path}: {len(loop.params)} parameters ({loop.n_param_values()} values), "
               f"{loop.batch_seen} updates, {loop.epoch_seen} epochs, {loop.n_monitoring_steps()} monitoring steps")
    click.echo(f"model: {config.model_name}, x_dim={config.x_dim} z_dim={config.z_dim} rnn_dim={config.rnn_dim} "
               f"depth={config.depth} k={config.num_k} batch_size={config.batch_size}, {plan.floatX}")
    if plan.ignored:
        click.echo(f"config keys not used: {', '.join(plan.ignored)}")
    backend = program_backend(mode=mode, floatX=plan.floatX).start_process()
    compiling = CompileProgress().start()

    def on_event(kind, **info):
        if kind == "stage":
            compiling.stage(info["name"])

    try:
        result = legacy_import.import_legacy(plan, out, data, backend=backend, on_event=on_event)
    finally:
        compiling.stop()
    run = result["run"]
    if result["state"]:
        click.echo(f"TBPTT state: {', '.join(result['state'])}")
    click.echo(f"wrote {run.path} ({backend.describe()}) in {time.perf_counter() - began:.1f} s; no optimizer "
               "state in the legacy pickle: a resumed training starts Adam afresh")
    click.echo(f"next: vrnn-eval {run.path}   vrnn-sample {run.path}   vrnn-train --resume {run.path} "
               f"--epochs {max(config.epoch, loop.epoch_seen or 0) + 1}")
