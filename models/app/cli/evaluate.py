"""``vrnn-eval``: a trained run evaluated as in the paper's Table 1."""
import json

import click

from cle.errors import UserError
from nips2015_vrnn.models.app.cli.common import (
    compiled_line,
    interruptible,
    mode_option,
    progress_bar,
    setup_logging,
    user_errors,
    verbose_option,
)
from nips2015_vrnn.models.app.rundir import CHECKPOINTS

__all__ = ["evaluate"]


@click.command(help="""Evaluate a trained run as in the paper's Table 1.

Prints the average per-sequence lower bound (">=") and importance-sampled log-likelihood ("~=")
over the split, beside the paper's numbers when the model is a paper preset, and saves them to
RUN_DIR/eval_<split>_<checkpoint>.json (an existing file is replaced only with --force).

With --particles K (or --resample) it also runs FIVO's particle filter (Maddison et al. 2017):
K particles from the encoder, resampled when their effective sample size falls below K/2 (ess),
at every frame (always) or never (the IWAE bound of K particles). Its estimate is printed and
saved beside the others, in RUN_DIR/eval_<split>_<checkpoint>_fivo<K>-<resample>.json, so
evaluations with other settings never replace each other. Without them no particle graph is
compiled.

\b
Example:
  vrnn-eval runs/demo --split test --samples 40
  vrnn-eval runs/demo --particles 16 --resample always
""")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--split", type=click.Choice(["valid", "test"]), default="test", show_default=True)
@click.option("--samples", default=40, show_default=True, type=click.IntRange(min=1),
              help="Importance samples per sequence.")
@click.option("--checkpoint", type=click.Choice(CHECKPOINTS), default="best", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate only the first N sequences of the split.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Seed of the sampling noise.")
@click.option("--particles", type=int, metavar="K",
              help="Also the FIVO estimate with K >= 1 particles (default with --resample: --samples).")
@click.option("--resample", metavar="SCHEME",
              help="When FIVO resamples: ess (effective sample size below K/2; the default with "
                   "--particles), always, or never.")
@click.option("--force", is_flag=True, help="Replace an earlier evaluation of this split and checkpoint.")
@mode_option
@verbose_option
@user_errors
def evaluate(run_dir, split, samples, checkpoint, limit, seed, particles, resample, force, mode, verbose):
    from nips2015_vrnn.models.app import outputs
    from nips2015_vrnn.models.app.evaluation import (
        corpus_title,
        evaluate_run,
        fivo_settings,
        format_per_step,
        format_table_row,
        save_result,
    )
    from nips2015_vrnn.models.app.progress import CompileProgress
    from nips2015_vrnn.models.app.rundir import RunDir, check_frame_width, load_model

    setup_logging(verbose)
    particles, resample = fivo_settings(particles, resample, samples)  # checked before the run is read
    run = RunDir(run_dir)
    changed = run.data_changed()
    if changed:
        click.echo(changed, err=True)
    check_frame_width(run.config, run.corpus, run.data_path)  # a file swapped for another width
    path = outputs.eval_path(run, split, checkpoint, particles, resample)
    # a second evaluation of this split and checkpoint refuses; SIGTERM / Ctrl-C: exit 130, no file
    with outputs.output_lock(path), interruptible(f"nothing was written to {path}") as signals:
        if not force:
            outputs.claim(path)
        backend = run.backend(mode).start_process()
        model = load_model(run, checkpoint, backend)
        warning = outputs.untrained_warning(run, checkpoint)
        if warning:
            click.echo(warning, err=True)
        fivo = f"; FIVO: {particles} particles, resampling {resample}" if particles else ""
        click.echo(f"{model.config.model_name} from checkpoints/{checkpoint} on the {split} split, "
                   f"{samples} importance samples{fivo}")
        click.echo(f"backend: {backend.describe()}")
        if backend.static_shapes:
            # One function per static shape (lower bound, importance sampling), compiled at first use.
            click.echo("the per-sequence functions compile at their first batch (static shapes)")
        else:
            with CompileProgress() as compiling:
                compiling.stage("the per-sequence function")
                sequence_fn = model.sequence_fn()
            click.echo(compiled_line("the per-sequence function", sequence_fn, compiling.seconds))
        signals.check()  # a SIGTERM swallowed while compiling
        with progress_bar("sequences") as progress:
            result = evaluate_run(run, model, split=split, n_samples=samples, seed=seed, limit=limit,
                                  progress=progress, checkpoint=checkpoint, particles=particles,
                                  resample=resample or "ess")
        click.echo(f"average log-likelihood per sequence (nats) over {result['n_sequences']} "
                   f"{split} sequences:")
        click.echo(format_table_row(result["model"], corpus_title(run), result["lower_bound"],
                                    result["loglik_is"], result["paper"]))
        click.echo(format_per_step(result))
        if run.config.data == "text":
            from nips2015_vrnn.models.app.characters import bits_per_character, format_bits

            result.update(bits_per_character(result))
            click.echo(format_bits(result, run.config.x_dim))
        if result["paper"] is None:
            click.echo("(not a paper preset: no Table 1 number to compare with)")
        try:
            path = save_result(run, result)
        except UserError:
            # Nothing computed is lost: the whole evaluation goes to the output before the error.
            click.echo("the evaluation, not saved:\n" + json.dumps(result, indent=1))
            raise
    click.echo(f"saved {path} (with the value of each sequence under 'per_sequence')")
