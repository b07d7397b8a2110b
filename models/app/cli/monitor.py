"""``vrnn-monitor``: the monitoring channels of a run, as a table, a picture, or followed live."""
import time
from pathlib import Path

import click

from nips2015_vrnn.models.app.cli.common import user_errors

__all__ = ["monitor"]

#: Seconds between two reads of the log by ``vrnn-monitor --follow``.
FOLLOW_POLL_S = 1.0


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
@user_errors
def monitor(run_dir, follow, plot, channels, list_channels):
    from nips2015_vrnn.models.app import learning_curve as curve
    from nips2015_vrnn.models.app import plotting, runlog
    from nips2015_vrnn.models.app.rundir import RunDir

    run_path = Path(run_dir)
    log_path = RunDir(run_path).log_path
    if not log_path.exists():
        raise click.ClickException(f"{log_path}: no log yet (has the training started?)")
    records = runlog.read_log(log_path)
    steps = runlog.monitor_records(records)
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
        if not plotting.have_matplotlib():
            raise click.ClickException("--plot needs matplotlib: pip install .[plot]")
        curve.plot_curves(steps, shown, plot, title=str(run_path))
        click.echo(f"wrote {plot}")
    if follow:
        _follow(log_path, len(records), shown, header=not steps)


def _follow(log_path, seen, shown, header):
    """Print the monitoring steps appended to the log until the training ends (or Ctrl-C)."""
    from nips2015_vrnn.models.app import learning_curve as curve
    from nips2015_vrnn.models.app import runlog

    try:
        while True:
            records = runlog.read_log(log_path)
            steps = runlog.monitor_records(records[seen:])
            seen = len(records)
            if steps:
                if not shown:
                    shown[:] = curve.select_channels(steps)
                for line in curve.table_lines(steps, shown, header=header):
                    click.echo(line)
                header = False
            if runlog.finished(records):
                click.echo("training ended")
                return
            time.sleep(FOLLOW_POLL_S)
    except KeyboardInterrupt:
        return
