"""``vrnn-train``: train a model of the paper on a prepared corpus (or the demo), or resume a run."""
import contextlib
import sys
import time

import click

from cle import backend
from nips2015_vrnn.datasets.lookup import CORPORA, DEMO_CORPORA
from nips2015_vrnn.models.app.cli.common import (
    DEFAULT_MODE_HELP,
    EXIT_INTERRUPTED,
    setup_logging,
    sigterm_as_interrupt,
    user_errors,
    verbose_option,
)
from nips2015_vrnn.models.presets import MODELS
from nips2015_vrnn.models.sequence_model import COST_CHANNELS

__all__ = ["train"]

#: Channels echoed at each monitoring step during training (vrnn-monitor shows them all).
ECHOED = COST_CHANNELS + tuple(f"valid_{name}" for name in COST_CHANNELS)
#: config.json fields not worth echoing at the start of a run.
_QUIET_FIELDS = ("data_path", "save_path", "pkl_name", "trial", "debug")


def _echo_config(run, backend):
    config = run.config
    click.echo(f"run directory: {run.path}")
    click.echo(f"model: {config.model_name} ({run.record.get('preset') or 'custom configuration'}), "
               f"data: {run.data_path}")
    click.echo(f"backend: {backend.describe()}")
    items = [f"{k}={v}" for k, v in config.as_dict().items() if k not in _QUIET_FIELDS]
    line = " "
    for item in items:
        if len(line) + len(item) > 96:
            click.echo(line)
            line = " "
        line += " " + item
    click.echo(line)


def _after_failure(run, resume, err):
    """Say what is left of ``run`` after ``err``, before the error itself is reported."""
    from nips2015_vrnn.models.app import rundir
    from nips2015_vrnn.models.app.runlock import RunLockedError

    if isinstance(err, RunLockedError):
        return  # the run belongs to another trainer: leave it alone
    if not resume and rundir.discard_run(run):
        click.echo(f"the run failed before its first checkpoint; {run.path} was removed, so the "
                   "same command can be given again", err=True)
        return
    from nips2015_vrnn.models.app.outputs import checkpoint_updates

    last = run.checkpoint_root / "last"
    if last.is_dir():  # say what is on disk, not what should be: a save may have failed
        updates = checkpoint_updates(run, "last")
        held = f"the state after update {updates}" if updates is not None else "a checkpoint"
        click.echo(f"{last} holds {held}; after fixing the cause, resume with: "
                   f"vrnn-train --resume {run.path}", err=True)


def format_record(record):

    """One monitoring step as text: the update, the cost channels and the time since the last step."""
    parts = [f"{k} {record[k]:.5g}" for k in ECHOED if isinstance(record.get(k), (int, float))]
    if record.get("elapsed_s"):
        parts.append(f"({record['elapsed_s']:.1f} s)")
    return f"[update {record.get('batch_seen')}, epoch {record.get('epoch_seen')}] " + "  ".join(parts)


def _echo_kl(run):
    """The run's last KL term per frame (train and valid), the latent's use, when it has one."""
    from nips2015_vrnn.models.app import runlog

    if run.config.family != "vrnn" or not run.log_path.is_file():  # an RNN has no latent
        return
    kl = runlog.last_kl_terms(runlog.read_log(run.log_path), run.config.cost_norm)
    if kl is not None:
        click.echo(runlog.format_kl(kl))


def format_epoch(summary):
    """What an epoch covers, in one line (``summary`` as ``trainer.epoch_summary`` gives it)."""
    unit, seen, total = summary["unit"], summary["examples"], summary["total"]
    line = f"an epoch: {seen} of {total} training {unit} in {summary['batches']} batches"
    if not summary.get("shapes"):
        line += f" of {summary['batch_size']}"
    if seen < total:
        return line + (f" (legacy order: the last {total - seen} {unit}, which do not fill a batch, "
                       "are never seen)")
    line += ", shuffled each epoch" if summary["shuffled"] else ", in order"
    if summary.get("shapes"):
        lengths = ", ".join(f"{steps}x{width}" for steps, width in summary["shapes"])
        line += (f"; padded to {len(summary['shapes'])} lengths (steps x sequences: {lengths}), "
                 f"{summary['real_fraction']:.0%} of the computed frames real")
    return line


def _train_events(compiling, progress, signals=None, session=None):
    """The trainer's events shown to the user: compile stages, then monitoring records; each
    event is a safe point where a swallowed SIGTERM is raised again (``signals``). A resume's
    update count goes into ``session['resumed_at']`` (the final line counts this command's own)."""
    def on_event(kind, **info):
        if signals is not None and kind in ("stage", "compiled", "resumed"):
            signals.check()
        if kind == "stage":
            compiling.stage(info["name"])
        elif kind == "compiled":
            compiling.stop()
            if info.get("loaded"):
                click.echo(f"loaded the training and monitoring functions from the compiled-function "
                           f"cache in {info['seconds']:.1f} s")
            else:
                click.echo(f"compiled the training and monitoring functions in {info['seconds']:.1f} s")
        elif kind == "epoch":
            click.echo(format_epoch(info))
        elif kind == "warning":
            progress.clear()
            click.echo(info["text"], err=True)
        elif kind == "resumed":
            click.echo(f"resumed at update {info['batch_seen']}")
            if session is not None:
                session["resumed_at"] = info["batch_seen"]
        elif kind == "monitor":
            progress.clear()
            click.echo(format_record(info["record"]))
    return on_event


@click.command(help="""Train a model of the paper, or resume a run.

CORPUS is blizzard, iamondb, timit, sequences (a user's own sequences, from vrnn-prepare
sequences; x_dim is taken from the file; --model vrnn-bernoulli / rnn-bernoulli for {0, 1}
data) (give the prepared file or folder with --data) or demo (the demo
corpus that ships as code: it is generated and cached on first use; --corpus handwriting picks
its handwriting half). Defaults are the paper's settings for the corpus and model (the demo's are
a small VRNN-GMM that trains in minutes on 2 cores). A legacy config.txt (--config) and --set
KEY=VALUE (legacy key names: x_dim, z_dim, rnn_dim, k, batch_size, m_batch_size, lr,
reset_freq, monitoring_freq, q_z_dim, p_z_dim, p_x_dim, x2s_dim, z2s_dim, epoch, ...) override
them, in that order. Ctrl-C saves a checkpoint; resume with --resume RUN_DIR, which also extends
a finished run past its limits with --max-updates N or --epochs N.

\b
Examples:
  vrnn-train demo --out runs/demo
  vrnn-train blizzard --data data/ --out runs/blz --model vrnn-gauss --set rnn_dim=2000
  vrnn-train iamondb --data data/iamondb.h5 --out runs/iam --config config.txt --max-updates 1000
  vrnn-train sequences --data data/mine.h5 --out runs/mine --model vrnn-bernoulli
  vrnn-train --resume runs/blz --max-updates 20000
  vrnn-train --resume runs/demo --epochs 4
  vrnn-train --resume runs/blz --max-updates 40000 --mode jax   (switch backend: checkpoints are
                                                                  backend-neutral)
""")
@click.argument("corpus", required=False, type=click.Choice(list(CORPORA) + ["demo"]))
@click.option("--out", "out", type=click.Path(file_okay=False), help="Run directory to create.")
@click.option("--resume", "resume", type=click.Path(file_okay=False),
              help="Continue the run in this directory from checkpoints/last.")
@click.option("--data", type=click.Path(), help="Prepared HDF5 file, or a folder holding <corpus>.h5.")
@click.option("--corpus", "demo_corpus", type=click.Choice(list(DEMO_CORPORA)), default=None,
              help="Half of the demo corpus (demo only; default speech).")
@click.option("--model", type=click.Choice(list(MODELS)),
              help="Model (default vrnn-gmm; vrnn-bernoulli on pianoroll and on binary sequences, "
                   "vrnn-categorical on text).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Legacy config.txt ('key value' lines).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override one configuration key (repeatable). With --resume: only keys that "
                   "change neither the model nor the optimizer (monitoring_freq, m_batch_size, "
                   "force_saving_freq, patience).")
@click.option("--max-updates", type=click.IntRange(min=1),
              help="Stop after this many updates in total (with --resume: a new limit). Without "
                   "--epochs (or an epoch key), the preset's epoch count does not cap it.")
@click.option("--epochs", type=click.IntRange(min=1),
              help="Number of epochs (the legacy 'epoch' key; with --resume: a new limit).")
@click.option("--seed", type=click.IntRange(min=0), help="Seed of initialisation and noise.")
@click.option("--mode", type=click.Choice(list(backend.MODES)), default=None,
              help=f"PyTensor backend ({DEFAULT_MODE_HELP}). With "
                   "--resume: continue the run in this backend (recorded in its config.json).")
@click.option("--float64", "float64", is_flag=True, help="Train in float64 (default float32).")
@click.option("--matmul-precision", type=click.Choice(list(backend.MATMUL_PRECISIONS)), default=None,
              help="Precision of float32 matrix products: highest (default: full float32), tf32 or "
                   "bfloat16 (JAX mode on a GPU: tensor cores, faster, fewer mantissa bits). "
                   "Recorded in config.json.")
@click.option("--log-to", "log_to", type=click.Choice(["tensorboard", "mlflow"]), multiple=True,
              help="Also log to an experiment tracker (repeatable): tensorboard (RUN_DIR/tensorboard; "
                   "needs the tensorboard extra, tensorboardX) or mlflow ($MLFLOW_TRACKING_URI, else "
                   "sqlite:///RUN_DIR/mlflow.db; needs the mlflow extra). Every monitored channel and "
                   "each update's cost.")
@verbose_option
@user_errors
def train(**options):
    with contextlib.ExitStack() as held:  # the run's lock, once taken, is held to the end
        return _train(held, **options)


def _train(held, corpus, out, resume, data, demo_corpus, model, config_file, sets, max_updates, epochs,
          seed, mode, float64, matmul_precision, verbose, log_to=()):
    from cle.train import TrainingInterrupted
    from nips2015_vrnn.datasets import lookup
    from nips2015_vrnn.models.app import configure, rundir, trainer
    from nips2015_vrnn.models.app.progress import CompileProgress, TrainProgress

    setup_logging(verbose)
    if resume:
        if corpus or out or data or model or config_file or seed is not None or float64:
            raise click.UsageError("--resume RUN_DIR takes only --max-updates, --epochs, --mode, "
                                   "--matmul-precision and --set of a monitoring key (the run's "
                                   "config.json fixes everything else)")
        from nips2015_vrnn.models.app.resume import plan_resume, trim_log
        from nips2015_vrnn.models.app.runlock import run_lock
        held.enter_context(run_lock(rundir.RunDir(resume).path))  # before the log or config changes
        changed = rundir.RunDir(resume).data_changed()
        if changed:
            click.echo(changed, err=True)
        run, limits = plan_resume(rundir.RunDir(resume), max_updates=max_updates, epochs=epochs,
                                  overrides=configure.parse_overrides(sets))
        max_updates = limits.max_updates
        if trim_log(run):
            click.echo("dropped the log's monitoring rows written after checkpoints/last "
                       "(the resumed run redoes them)")
        click.echo(f"resuming to {limits.describe()}")
        if mode and mode != run.mode:
            click.echo(f"switching the run's backend from {run.mode} to {mode}")
            run.record_mode(mode)
        if matmul_precision and matmul_precision != run.matmul_precision:
            click.echo(f"switching the run's matmul precision from {run.matmul_precision} to "
                       f"{matmul_precision}")
            run.record_matmul_precision(matmul_precision)
    else:
        if corpus is None:
            raise click.UsageError(f"give CORPUS ({', '.join(list(CORPORA) + ['demo'])}) or --resume RUN_DIR")
        if out is None:
            raise click.UsageError("give --out RUN_DIR: the run directory to create")
        overrides = configure.parse_overrides(sets)
        if epochs is not None:
            overrides["epoch"] = epochs
        if seed is not None:
            overrides["seed"] = seed
        demo = corpus == "demo"
        if demo_corpus is not None and not demo:
            raise click.UsageError(f"--corpus picks a half of the demo corpus; {corpus} data is "
                                   f"one kind already (drop --corpus {demo_corpus})")
        fmt = DEMO_CORPORA[demo_corpus or "speech"] if demo else corpus
        if data is None:
            if not demo:
                raise click.UsageError(f"give --data: the file or folder written by "
                                       f"vrnn-prepare {corpus}")
            if not lookup.demo_is_prepared():
                click.echo(f"preparing the demo corpus in {lookup.demo_data_dir()} (first use only) ...")
            data = lookup.ensure_demo_data()
            click.echo(f"demo corpus: {data}")
        data_file = lookup.find_data_file(fmt, data)
        overrides = {**lookup.config_overrides(fmt, data_file), **overrides}
        if model is None and not demo:
            model = lookup.default_model(fmt, data_file)
            if model is not None:
                click.echo(f"model: {model} (the data are binary; --model picks another)")
        config = configure.resolve_config(fmt, model=model, config_file=config_file, overrides=overrides,
                                          demo=demo, max_updates=max_updates)
        run = rundir.create_run(out, fmt, config, data, floatX="float64" if float64 else "float32",
                                mode=mode or backend.program_default_mode(), demo=demo,
                                max_updates=max_updates,
                                matmul_precision=matmul_precision or backend.DEFAULT_MATMUL_PRECISION,
                                hold=held)  # the new run's lock, held from its config.json on
    program_backend = run.backend().start_process()
    _echo_config(run, program_backend)
    click.echo("compiling (the first compile of a graph takes a while; later runs use the cache) ...")
    began = time.perf_counter()
    compiling = CompileProgress().start()
    progress = TrainProgress(run.config.monitoring_freq)
    session = {"resumed_at": 0}
    try:
        with sigterm_as_interrupt() as signals:
            from nips2015_vrnn.models.app.experiment_log import open_loggers
            training = trainer.train_run(run, program_backend, max_updates=max_updates,
                                         resume=bool(resume),
                                         on_event=_train_events(compiling, progress, signals, session),
                                         progress=progress, loggers=open_loggers(run.path, log_to))
    except TrainingInterrupted as stop:
        click.echo(f"\ninterrupted by {stop.signal_name} after {stop.batch_seen} updates; "
                   f"checkpoint saved to {stop.checkpoint}")
        click.echo(f"resume with: vrnn-train --resume {run.path}")
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        if not resume and rundir.discard_run(run):
            click.echo("\ninterrupted before the first checkpoint; nothing was saved")
        else:
            click.echo(f"\ninterrupted; resume with: vrnn-train --resume {run.path}")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as err:
        _after_failure(run, resume, err)
        raise
    finally:
        compiling.stop()
        progress.close()
    trainlog = training.trainlog
    ours = trainlog.batch_seen - session["resumed_at"]      # this command's updates, timed below
    resumed = f" ({ours} by this command)" if session["resumed_at"] else ""
    click.echo(f"done: {trainlog.batch_seen} updates{resumed}, {trainlog.epoch_seen} epochs in "
               f"{time.perf_counter() - began:.1f} s ({sum(trainlog.times[len(trainlog.times) - ours:]):.1f} s "
               f"in updates)")
    click.echo(f"checkpoints: {run.checkpoint_root}/{{best,last}}, log: {run.log_path}")
    click.echo(f"next: vrnn-sample {run.path}   vrnn-eval {run.path}   vrnn-monitor {run.path}")
    click.echo(f"stopped: {training.end_reason}")
    _echo_kl(run)
