"""``vrnn-table``: the evaluations of sweeps as the paper's Table 1 (Markdown, CSV, PNG)."""
import click

from nips2015_vrnn.models.app.cli.common import setup_logging, user_errors, verbose_option
from nips2015_vrnn.models.app.published_music import MUSIC_CORPORA

__all__ = ["table"]


@click.command(help="""Collect the evaluations of sweeps into the paper's Table 1.

One row per model, one column per corpus (one SWEEP_DIR each, made by vrnn-sweep; sweeps of the
same corpus and settings share a column): the lower bound (>=) and importance-sampled
log-likelihood (~=) as mean +- std over seeds, the paper's numbers beside runs of the paper's
preset, and the cells not evaluated yet. Prints the Markdown table and writes table1.md,
table1.csv and table1.png (a bar chart of ours against the paper's; needs matplotlib) to --out.

With a piano-roll sweep (or --pianoroll-corpus) the published log-likelihoods per time step on the
four piano-roll corpora of Boulanger-Lewandowski et al. (2012) follow the table, each with its
source; --pianoroll-corpus names the corpus the piano-roll runs were trained on, and sets their
own per-step numbers beside that corpus's.

\b
Example:
  vrnn-table sweeps/blizzard sweeps/iamondb --out tables/
  vrnn-table sweeps/jsb --pianoroll-corpus jsb
""")
@click.argument("sweep_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(file_okay=False),
              help="Folder of table1.{md,csv,png} (default: the first SWEEP_DIR).")
@click.option("--pianoroll-corpus", type=click.Choice(list(MUSIC_CORPORA)),
              help="The piano-roll corpus of the sweeps' runs: its published numbers beside theirs.")
@verbose_option
@user_errors
def table(sweep_dirs, out, pianoroll_corpus, verbose):
    from nips2015_vrnn.models.app.plotting import PLOT_HINT, have_matplotlib
    from nips2015_vrnn.models.app.table import collect, markdown, write_table

    setup_logging(verbose)
    collected = collect(list(sweep_dirs))
    click.echo(markdown(collected, pianoroll_corpus), nl=False)
    paths = write_table(collected, out or sweep_dirs[0], png=have_matplotlib(), pianoroll_corpus=pianoroll_corpus)
    click.echo("wrote " + ", ".join(str(p) for p in paths))
    if not have_matplotlib():
        click.echo(f"(no bar chart: {PLOT_HINT.replace('PNG pictures', 'the PNG bar chart')})")
