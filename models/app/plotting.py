"""matplotlib, the optional extra ``plot``: whether it is installed, and its pyplot without a display.

Every PNG picture the application draws (samples, sample statistics, learning curves, the results
table's bar chart) gets matplotlib's pyplot from :func:`pyplot`, on the ``Agg`` backend, which
draws to files and needs no display. Without matplotlib the commands write their other files and
tell the user :data:`PLOT_HINT`.

Example
-------
>>> isinstance(have_matplotlib(), bool)
True
"""
__all__ = ["PLOT_HINT", "have_matplotlib", "pyplot"]

#: What to tell a user who wants PNG pictures without matplotlib.
PLOT_HINT = "PNG pictures need matplotlib: pip install .[plot]"


def have_matplotlib():
    """True when matplotlib can be imported (PNG pictures are possible)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def pyplot():
    """``matplotlib.pyplot`` on the file-only ``Agg`` backend (raises ImportError without matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
