"""The command line: ``vrnn-prepare``, ``vrnn-train``, ``vrnn-sample``, ``vrnn-eval``, ``vrnn-monitor``.

This module only parses arguments, prints through click and calls library functions
(:mod:`~nips2015_vrnn.models.run`, :mod:`~nips2015_vrnn.models.sampling_io`,
:mod:`~nips2015_vrnn.models.evaluation`, :mod:`~nips2015_vrnn.models.learning_curve`,
:mod:`nips2015_vrnn.datasets`). A user error (missing file, bad key, bad data, a checkpoint
that does not fit) is printed as one line ``Error: ...`` with exit status 1, never a traceback.
"""
import functools
import logging
import sys
import time
import warnings
from pathlib import Path

import click

from cle.train.checkpoint import CheckpointError
from nips2015_vrnn.datasets.errors import DataError

log = logging.getLogger(__name__)

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: Seconds between two reads of the log by ``vrnn-monitor --follow``.
FOLLOW_POLL_S = 1.0
#: Errors that are the user's (bad input), printed as one line.
USER_ERRORS = (DataError, CheckpointError, ValueError, OSError)


def _user_errors(func):
    """Turn the user errors of a command into a one-line message and exit status 1."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except USER_ERRORS as err:
            message = str(err).strip().splitlines()
            text = message[0] if message else type(err).__name__
            if len(message) > 1:
                text += " " + " ".join(line.strip() for line in message[1:])
            raise click.ClickException(text) from None
    return wrapper


def _setup_logging(verbose):
    """Library logging to stderr: warnings, or everything at INFO with ``--verbose``."""
    # PyTensor warns on every compile that it found no BLAS to link; it then uses numpy's
    # (the same notice comes as a warning and as a log record).
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    if not verbose:
        logging.getLogger("pytensor.tensor.blas").setLevel(logging.ERROR)


_verbose_option = click.option("-v", "--verbose", is_flag=True, help="Log library messages (INFO).")


def _progress_bar(label, total):
    """A click progress bar (a no-op display when stdout is not a terminal)."""
    return click.progressbar(length=total, label=label, file=sys.stderr)


# ====================================================================== vrnn-prepare
@click.group(help="""Prepare a corpus for training (HDF5 files read by vrnn-train --data).

\b
Examples:
  vrnn-prepare blizzard ~/blizzard2013/wavs data/
  vrnn-prepare iamondb ~/iamondb data/
  vrnn-prepare demo data/demo
""")
def prepare():
    pass


def _print_prepared(info):
    for key, value in info.items():
        if key != "skipped":
            click.echo(f"  {key}: {value:.6g}" if isinstance(value, float) else f"  {key}: {value}")
    if info.get("skipped"):
        click.echo(f"  skipped: {len(info['skipped'])} files (first: {info['skipped'][0]})")


def _out_file(out, corpus):
    """OUT as given when it names a .h5 file, else OUT/<corpus>.h5 (a folder)."""
    out = Path(out)
    if out.suffix in (".h5", ".hdf5"):
        out.parent.mkdir(parents=True, exist_ok=True)
        return out
    out.mkdir(parents=True, exist_ok=True)
    return out / f"{corpus}.h5"


@prepare.command("blizzard", help="""Cut a folder of speech audio into the Blizzard TBPTT layout.

SRC is searched recursively for WAV files (any rate / width / channels; resampled to 16 kHz).
OUT is the HDF5 file to write, or a folder (then OUT/blizzard.h5). The batch size fixes the
number of parallel streams: train with the same --set batch_size.

\b
Example:
  vrnn-prepare blizzard ~/blizzard2013/wavs data/ --seq-len 8000 --batch-size 128
""")
@click.argument("src", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path())
@click.option("--seq-len", default=8000, show_default=True, help="Samples per row (0.5 s).")
@click.option("--batch-size", default=128, show_default=True, help="Parallel streams B.")
@click.option("--valid-frac", default=0.05, show_default=True, help="Fraction kept for validation.")
@click.option("--test-frac", default=0.05, show_default=True, help="Fraction kept for test.")
@click.option("--allow-pickle", is_flag=True,
              help="Also read the legacy data_*.npy files (pickled lists of int16 waveforms): "
                   "loading them can run code, so only for files you trust.")
@_verbose_option
@_user_errors
def prepare_blizzard_command(src, out, seq_len, batch_size, valid_frac, test_frac, allow_pickle,
                             verbose):
    from nips2015_vrnn.datasets.blizzard import prepare_blizzard

    _setup_logging(verbose)
    out_file = _out_file(out, "blizzard")
    with _progress_bar("preparing", 1) as bar:
        def progress(done, total):
            bar.length = total
            bar.update(done - bar.pos)
        info = prepare_blizzard(src, out_file, seq_len=seq_len, batch_size=batch_size,
                                allow_pickle=allow_pickle,
                                valid_frac=valid_frac, test_frac=test_frac, progress=progress)
    click.echo(f"wrote {out_file}")
    _print_prepared(info)


@prepare.command("iamondb", help="""Parse the IAM-OnDB corpus (lineStrokes/, ascii/, split files).

OUT is the HDF5 cache to write, or a folder (then OUT/iamondb.h5).

\b
Example:
  vrnn-prepare iamondb ~/iamondb data/
""")
@click.argument("src", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path())
@_verbose_option
@_user_errors
def prepare_iamondb_command(src, out, verbose):
    from nips2015_vrnn.datasets.iamondb import prepare_iamondb

    _setup_logging(verbose)
    out_file = _out_file(out, "iamondb")
    with _progress_bar("parsing forms", 1) as bar:
        def progress(done, total):
            bar.length = total
            bar.update(done - bar.pos)
        info = prepare_iamondb(src, out_file, progress=progress)
    click.echo(f"wrote {out_file}")
    _print_prepared(info)


@prepare.command("demo", help="""Generate the demo corpus (speech + handwriting, deterministic,
offline, a few seconds) and prepare it: OUT/blizzard.h5 and OUT/iamondb.h5.

\b
Example:
  vrnn-prepare demo data/demo && vrnn-train demo --data data/demo --out runs/demo
""")
@click.argument("out", type=click.Path(file_okay=False))
@_verbose_option
@_user_errors
def prepare_demo_command(out, verbose):
    from nips2015_vrnn.datasets.demo import prepare_demo

    _setup_logging(verbose)
    paths = prepare_demo(out)
    for key, value in paths.items():
        click.echo(f"  {key}: {value}")


# ====================================================================== vrnn-train
_CORPUS_CHOICES = ["blizzard", "iamondb", "demo"]


def _echo_config(run):
    config = run.config
    click.echo(f"run directory: {run.path}")
    click.echo(f"model: {config.model_name} ({run.record.get('preset') or 'custom configuration'}), "
               f"data: {run.data_path}, {run.floatX}, mode {run.mode}")
    items = [f"{k}={v}" for k, v in config.as_dict().items()
             if k not in ("data_path", "save_path", "pkl_name", "trial", "debug")]
    line = " "
    for item in items:
        if len(line) + len(item) > 96:
            click.echo(line)
            line = " "
        line += " " + item
    click.echo(line)


#: Channels echoed at each monitoring step during training (vrnn-monitor shows them all).
_ECHOED = ("nll_upper_bound", "recon_term", "kl_term", "valid_nll_upper_bound", "valid_recon_term",
           "valid_kl_term")


def _format_record(record):
    """One monitoring step as text: the update, the cost channels and the time since the last step."""
    parts = [f"{k} {record[k]:.5g}" for k in _ECHOED if isinstance(record.get(k), (int, float))]
    if record.get("elapsed_s"):
        parts.append(f"({record['elapsed_s']:.1f} s)")
    return f"[update {record.get('batch_seen')}, epoch {record.get('epoch_seen')}] " + "  ".join(parts)


def _train_events(kind, **info):
    if kind == "compiled":
        click.echo(f"compiled the training and monitoring functions in {info['seconds']:.1f} s")
    elif kind == "resumed":
        click.echo(f"resumed at update {info['batch_seen']}")
    elif kind == "monitor":
        click.echo(_format_record(info["record"]))


@click.command(help="""Train a model of the paper, or resume a run.

CORPUS is blizzard, iamondb (give the prepared file or folder with --data) or demo (the demo
corpus that ships as code: it is generated and cached on first use; --corpus handwriting picks
its handwriting half). Defaults are the paper's settings for the corpus and model (the demo's are
a small VRNN-GMM that trains in minutes on 2 cores). A legacy config.txt (--config) and --set
KEY=VALUE (legacy key names: x_dim, z_dim, rnn_dim, k, batch_size, m_batch_size, lr,
reset_freq, monitoring_freq, q_z_dim, p_z_dim, p_x_dim, x2s_dim, z2s_dim, epoch, ...) override
them, in that order. Ctrl-C saves a checkpoint; resume with --resume RUN_DIR.

\b
Examples:
  vrnn-train demo --out runs/demo
  vrnn-train blizzard --data data/ --out runs/blz --model vrnn-gauss --set rnn_dim=2000
  vrnn-train iamondb --data data/iamondb.h5 --out runs/iam --config config.txt --max-updates 1000
  vrnn-train --resume runs/blz --max-updates 20000
""")
@click.argument("corpus", required=False, type=click.Choice(_CORPUS_CHOICES))
@click.option("--out", "out", type=click.Path(file_okay=False), help="Run directory to create.")
@click.option("--resume", "resume", type=click.Path(file_okay=False),
              help="Continue the run in this directory from checkpoints/last.")
@click.option("--data", type=click.Path(), help="Prepared HDF5 file, or a folder holding <corpus>.h5.")
@click.option("--corpus", "demo_corpus", type=click.Choice(["speech", "handwriting"]), default="speech",
              show_default=True, help="Half of the demo corpus (demo only).")
@click.option("--model", type=click.Choice(["vrnn-gmm", "vrnn-gauss", "vrnn-i-gauss", "rnn-gmm",
                                            "rnn-gauss"]),
              help="Model of the paper (default vrnn-gmm).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Legacy config.txt ('key value' lines).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override one configuration key (repeatable).")
@click.option("--max-updates", type=int, help="Stop after this many updates in total.")
@click.option("--epochs", type=int, help="Number of epochs (the legacy 'epoch' key).")
@click.option("--seed", type=int, help="Seed of initialisation and noise.")
@click.option("--mode", type=click.Choice(["c", "jax", "numba"]), default="c", show_default=True,
              help="PyTensor backend.")
@click.option("--float64", "float64", is_flag=True, help="Train in float64 (default float32).")
@_verbose_option
@_user_errors
def train(corpus, out, resume, data, demo_corpus, model, config_file, sets, max_updates, epochs,
          seed, mode, float64, verbose):
    from nips2015_vrnn.models import run as runs
    from cle.train import TrainingInterrupted

    _setup_logging(verbose)
    if resume:
        if corpus or out or data or model or config_file or sets or epochs or seed is not None \
                or float64:
            raise click.UsageError("--resume RUN_DIR takes only --max-updates (the run's "
                                   "config.json fixes everything else)")
        run = runs.RunDir(resume)
    else:
        if corpus is None:
            raise click.UsageError("give CORPUS (blizzard, iamondb or demo) or --resume RUN_DIR")
        if out is None:
            raise click.UsageError("give --out RUN_DIR: the run directory to create")
        overrides = runs.parse_overrides(sets)
        if epochs is not None:
            overrides["epoch"] = epochs
        if seed is not None:
            overrides["seed"] = seed
        demo = corpus == "demo"
        fmt = runs.DEMO_CORPORA[demo_corpus] if demo else corpus
        if data is None:
            if not demo:
                raise click.UsageError(f"give --data: the file or folder written by "
                                       f"vrnn-prepare {corpus}")
            if not runs.demo_is_prepared():
                click.echo(f"preparing the demo corpus in {runs.demo_data_dir()} (first use only) ...")
            data = runs.ensure_demo_data()
            click.echo(f"demo corpus: {data}")
        config = runs.resolve_config(fmt, model=model, config_file=config_file, overrides=overrides,
                                     demo=demo)
        run = runs.create_run(out, fmt, config, data, floatX="float64" if float64 else "float32",
                              mode=mode, demo=demo, max_updates=max_updates)
    _echo_config(run)
    click.echo("compiling (the first compile of a graph takes a while; later runs use the cache) ...")
    began = time.perf_counter()
    try:
        training = runs.train_run(run, max_updates=max_updates, resume=bool(resume),
                                  on_event=_train_events)
    except TrainingInterrupted as stop:
        click.echo(f"\ninterrupted by {stop.signal_name} after {stop.batch_seen} updates; "
                   f"checkpoint saved to {stop.checkpoint}")
        click.echo(f"resume with: vrnn-train --resume {run.path}")
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        if not resume and runs.discard_run(run):
            click.echo("\ninterrupted before the first checkpoint; nothing was saved")
        else:
            click.echo(f"\ninterrupted; resume with: vrnn-train --resume {run.path}")
        sys.exit(EXIT_INTERRUPTED)
    except USER_ERRORS:
        if not resume:
            runs.discard_run(run)
        raise
    trainlog = training.trainlog
    click.echo(f"done: {trainlog.batch_seen} updates, {trainlog.epoch_seen} epochs in "
               f"{time.perf_counter() - began:.1f} s ({sum(trainlog.times):.1f} s in updates)")
    click.echo(f"checkpoints: {run.checkpoint_root}/{{best,last}}, log: {run.log_path}")
    click.echo(f"next: vrnn-sample {run.path}   vrnn-eval {run.path}   vrnn-monitor {run.path}")


# ====================================================================== vrnn-sample
@click.command(help="""Generate sequences from a trained run into RUN_DIR/samples/.

Speech: 16 kHz WAV files (de-normalised) and a PNG of each waveform. Handwriting: an SVG and a
PNG of each sample's pen strokes (pen-up moves not drawn). PNGs need matplotlib
(pip install .[plot]).

\b
Example:
  vrnn-sample runs/demo --n 4 --seed 1
""")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--n", "n", default=10, show_default=True, help="Number of sequences.")
@click.option("--steps", type=int, help="Frames per sequence (speech: 40 = 0.5 s; handwriting: 300).")
@click.option("--seed", default=0, show_default=True, help="Seed of the generation noise.")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True)
@_verbose_option
@_user_errors
def sample(run_dir, n, steps, seed, checkpoint, verbose):
    from nips2015_vrnn.models import run as runs
    from nips2015_vrnn.models.sampling_io import PLOT_HINT, sample_run

    _setup_logging(verbose)
    run = runs.RunDir(run_dir)
    model = runs.load_model(run, checkpoint)
    click.echo(f"{model.config.model_name} from checkpoints/{checkpoint}: generating {n} sequences "
               f"(compiling the generator ...)")
    with _progress_bar("writing", n) as bar:
        result = sample_run(run, model, n=n, steps=steps, seed=seed,
                            progress=lambda done, total: bar.update(1))
    kinds = sorted({f.suffix for f in result["files"]})
    click.echo(f"wrote {len(result['files'])} files ({', '.join(kinds)}) to {result['out_dir']}")
    if not result["png"]:
        click.echo(PLOT_HINT)


# ====================================================================== vrnn-eval
@click.command(help="""Evaluate a trained run as in the paper's Table 1.

Prints the average per-sequence lower bound (">=") and importance-sampled log-likelihood ("~=")
over the split, beside the paper's numbers when the model is a paper preset, and saves them to
RUN_DIR/eval_<split>.json.

\b
Example:
  vrnn-eval runs/demo --split test --samples 40
""")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--split", type=click.Choice(["valid", "test"]), default="test", show_default=True)
@click.option("--samples", default=40, show_default=True, help="Importance samples per sequence.")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--limit", type=int, help="Evaluate only the first N sequences of the split.")
@click.option("--seed", default=0, show_default=True, help="Seed of the sampling noise.")
@_verbose_option
@_user_errors
def evaluate(run_dir, split, samples, checkpoint, limit, seed, verbose):
    from nips2015_vrnn.models import run as runs
    from nips2015_vrnn.models.evaluation import (CORPUS_TITLES, evaluate_run, format_table_row,
                                                 save_result)

    _setup_logging(verbose)
    run = runs.RunDir(run_dir)
    model = runs.load_model(run, checkpoint)
    click.echo(f"{model.config.model_name} from checkpoints/{checkpoint} on the {split} split, "
               f"{samples} importance samples (compiling ...)")
    with _progress_bar("sequences", 1) as bar:
        def progress(done, total):
            bar.length = total
            bar.update(done - bar.pos)
        result = evaluate_run(run, model, split=split, n_samples=samples, seed=seed, limit=limit,
                              progress=progress, checkpoint=checkpoint)
    path = save_result(run, result)
    click.echo(f"average log-likelihood per sequence (nats) over {result['n_sequences']} "
               f"{split} sequences:")
    click.echo(format_table_row(result["model"], CORPUS_TITLES[run.corpus], result["lower_bound"],
                                result["loglik_is"], result["paper"]))
    if result["paper"] is None:
        click.echo("(not a paper preset: no Table 1 number to compare with)")
    click.echo(f"saved {path}")


# ====================================================================== vrnn-monitor
@click.command(help="""Show the monitoring channels of a run over the updates.

Prints a table of the channels at each monitoring step; --plot draws the learning curve;
--follow keeps printing new steps until the training ends (or Ctrl-C).

\b
Examples:
  vrnn-monitor runs/demo
  vrnn-monitor runs/demo --channels valid_nll_upper_bound --channels valid_kl_term --plot curve.png
  vrnn-monitor runs/demo --follow
""")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--follow", is_flag=True, help="Keep printing new monitoring steps until training ends.")
@click.option("--plot", "plot", type=click.Path(dir_okay=False), help="Write a learning-curve picture.")
@click.option("--channels", "channels", multiple=True,
              help="Channel to show (repeatable, or comma-separated); default: the cost channels.")
@click.option("--list", "list_channels", is_flag=True, help="List the channels in the log and exit.")
@_user_errors
def monitor(run_dir, follow, plot, channels, list_channels):
    from nips2015_vrnn.models import run as runs
    from nips2015_vrnn.models import learning_curve as curve

    run_path = Path(run_dir)
    log_path = runs.RunDir(run_path).log_path
    if not log_path.exists():
        raise click.ClickException(f"{log_path}: no log yet (has the training started?)")
    records = runs.read_log(log_path)
    steps = runs.monitor_records(records)
    wanted = [c.strip() for item in channels for c in item.split(",") if c.strip()]
    if list_channels:
        click.echo("\n".join(curve.available_channels(steps)))
        return
    if not steps and not follow:
        raise click.ClickException(f"{log_path}: no monitoring step logged yet")
    shown = curve.select_channels(steps, wanted) if steps else wanted
    for line in curve.table_lines(steps, shown):
        click.echo(line)
    if plot:
        if not _matplotlib_available():
            raise click.ClickException("--plot needs matplotlib: pip install .[plot]")
        curve.plot_curves(steps, shown, plot, title=str(run_path))
        click.echo(f"wrote {plot}")
    if follow:
        _follow(log_path, len(records), shown, runs, curve, header=not steps)


def _matplotlib_available():
    from nips2015_vrnn.models.sampling_io import have_matplotlib
    return have_matplotlib()


def _finished(records, runs):
    """True when the last course event of the log says the training has stopped."""
    course = [r["event"] for r in records if r.get("event") in runs.TRAIN_EVENTS
              and r["event"] != "checkpoint"]
    return bool(course) and course[-1] in ("end", "interrupted")


def _follow(log_path, seen, shown, runs, curve, header):
    """Print the monitoring steps appended to the log until the training ends (or Ctrl-C)."""
    try:
        while True:
            records = runs.read_log(log_path)
            steps = runs.monitor_records(records[seen:])
            seen = len(records)
            if steps:
                if not shown:
                    shown[:] = curve.select_channels(steps)
                for line in curve.table_lines(steps, shown, header=header):
                    click.echo(line)
                header = False
            if _finished(records, runs):
                click.echo("training ended")
                return
            time.sleep(FOLLOW_POLL_S)
    except KeyboardInterrupt:
        return


def main():
    """Dispatch ``python -m nips2015_vrnn.models.cli <command> ...``."""
    commands = {"prepare": prepare, "train": train, "sample": sample, "eval": evaluate,
                "monitor": monitor}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        click.echo(f"usage: python -m nips2015_vrnn.models.cli {{{','.join(commands)}}} ...")
        sys.exit(2)
    name = sys.argv.pop(1)
    commands[name](prog_name=f"vrnn-{name}")


if __name__ == "__main__":
    main()
