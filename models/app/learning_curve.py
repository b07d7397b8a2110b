"""The monitoring channels of a run as a text table and as a learning-curve picture.

Reads the monitoring records of the run's JSON-lines log (see
:func:`nips2015_vrnn.models.run.monitor_records`): one record per monitoring step with
``batch_seen``, ``epoch_seen`` and every channel (``nll_upper_bound``, ``valid_nll_upper_bound``, ...).

Example
-------
>>> records = [{'batch_seen': 0, 'valid_nll_upper_bound': 5.0},
...            {'batch_seen': 10, 'nll_upper_bound': 4.0, 'valid_nll_upper_bound': 3.25}]
>>> print('\\n'.join(table_lines(records, ['valid_nll_upper_bound'])))
update  valid_nll_upper_bound
     0                      5
    10                   3.25
"""
import logging
import os
from pathlib import Path

from cle.errors import UserError

log = logging.getLogger(__name__)

__all__ = ["ChannelError", "DEFAULT_CHANNELS", "select_channels", "table_lines", "plot_curves"]

class ChannelError(UserError):
    """A channel asked for is not in the run's log."""


#: Channels shown when none are asked for (those present in the log).
DEFAULT_CHANNELS = ("nll_upper_bound", "valid_nll_upper_bound", "valid_recon_term", "valid_kl_term")


def available_channels(records):
    """Every numeric channel of ``records`` (besides the update / epoch counters), in first-seen order."""
    seen = []
    for record in records:
        for key, value in record.items():
            if key not in ("batch_seen", "epoch_seen") and key not in seen \
                    and isinstance(value, (int, float)) and not isinstance(value, bool):
                seen.append(key)
    return seen


def select_channels(records, wanted=None):
    """The channels to show: ``wanted`` (each must exist) or the defaults present in the log.

    Raises
    ------
    ChannelError
        For a wanted channel that is not in the log (listing those that are).
    """
    present = available_channels(records)
    if wanted:
        missing = [c for c in wanted if c not in present]
        if missing:
            raise ChannelError(f"no channel {', '.join(missing)} in the log; channels are: "
                             f"{', '.join(present) or '(none yet)'}")
        return list(wanted)
    return [c for c in DEFAULT_CHANNELS if c in present] or present[:4]


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def table_lines(records, channels, header=True):
    """Right-aligned text rows: ``update`` then each channel (``-`` where a record lacks it)."""
    columns = ["update"] + list(channels)
    widths = [max(len(c), 6) for c in columns]
    lines = []
    if header:
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                               enumerate(zip(columns, widths))).rstrip())
    for record in records:
        cells = [str(record.get("batch_seen", "?"))] + [_cell(record.get(c)) for c in channels]
        lines.append("  ".join(cell.rjust(w) for cell, w in zip(cells, widths)))
    return lines


def plot_curves(records, channels, path, title=None):
    """Draw each channel against the update number into the picture ``path`` (needs matplotlib)."""
    from nips2015_vrnn.models.app.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    formats = fig.canvas.get_supported_filetypes()
    if Path(path).suffix.lower().lstrip(".") not in formats:
        plt.close(fig)
        raise UserError(f"{path}: --plot writes a picture; expected a name ending in one of "
                        f"{', '.join('.' + f for f in sorted(formats))}")
    for channel in channels:
        points = [(r["batch_seen"], r[channel]) for r in records
                  if isinstance(r.get(channel), (int, float)) and "batch_seen" in r]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", markersize=3, label=channel)
    ax.set_xlabel("update")
    ax.set_ylabel("value")
    if title:
        ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix}")  # the suffix picks the format
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    except OSError as err:
        raise UserError(f"{err.filename or path}: cannot write the plot ({err.strerror or err}); "
                        "expected a folder with space this user can write") from None
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
