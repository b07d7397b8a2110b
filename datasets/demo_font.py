"""A small single-line vector font and a handwriting renderer for the demo corpus.

Glyph coordinates: baseline y = 0, x-height y = 1, ascender y = 2, descender y = -1; each
glyph is a width and a list of strokes, each stroke a polyline (curves are drawn as arcs
sampled every few degrees). Letters: a-z, A E H I L M N T V W, and ``. , '`` and space.

:func:`render_line` turns a text into pen strokes as a writer would draw them: each stroke
resampled at an even pen speed, the writer's slant (shear), size, letter spacing and a
wavy baseline applied, and Gaussian jitter on every point; a cursive writer joins a letter to the
previous one in the same word, so strokes range from a dot to a whole word as in IAM-OnDB.
"""
import numpy as np

#: Degrees between two sampled points of an arc.
_ARC_STEP_DEG = 15.0


def _arc(cx, cy, rx, ry, start_deg, end_deg):
    """Points of an elliptic arc from start_deg to end_deg (counter-clockwise when end > start)."""
    n = max(2, int(abs(end_deg - start_deg) / _ARC_STEP_DEG) + 1)
    a = np.radians(np.linspace(start_deg, end_deg, n))
    return [(cx + rx * np.cos(t), cy + ry * np.sin(t)) for t in a]


_BOWL = _arc(0.4, 0.5, 0.4, 0.5, 60, 360 + 60)          # an 'o' starting top-right
_OPEN_BOWL = _arc(0.4, 0.5, 0.4, 0.5, 45, 315)          # a 'c'
_ARCH = _arc(0.35, 0.65, 0.35, 0.35, 180, 0)             # the top of 'n' (left to right)
_HOOK_DOWN = _arc(0.35, -0.6, 0.35, 0.4, 0, -160)        # descender hook of g, j, y

#: Glyph -> (width, strokes). Strokes are lists of (x, y).
GLYPHS = {
    " ": (0.6, []),
    "a": (0.9, [_OPEN_BOWL, [(0.8, 1.0), (0.8, 0.0)]]),
    "b": (0.9, [[(0.0, 2.0), (0.0, 0.0)], _arc(0.4, 0.5, 0.4, 0.5, 180, -180)]),
    "c": (0.85, [_OPEN_BOWL]),
    "d": (0.9, [_OPEN_BOWL, [(0.8, 2.0), (0.8, 0.0)]]),
    "e": (0.85, [[(0.0, 0.5), (0.8, 0.5)] + _arc(0.4, 0.5, 0.4, 0.5, 0, 315)]),
    "f": (0.6, [_arc(0.45, 1.6, 0.25, 0.4, 30, 180) + [(0.2, 0.0)], [(0.0, 1.0), (0.5, 1.0)]]),
    "g": (0.9, [_OPEN_BOWL, [(0.8, 1.0), (0.7, -0.6)] + _HOOK_DOWN]),
    "h": (0.8, [[(0.0, 2.0), (0.0, 0.0)], [(0.0, 0.65)] + _ARCH + [(0.7, 0.0)]]),
    "i": (0.3, [[(0.1, 1.0), (0.1, 0.0)], [(0.1, 1.45), (0.12, 1.5)]]),
    "j": (0.5, [[(0.35, 1.0), (0.35, -0.6)] + _arc(0.0, -0.6, 0.35, 0.4, 0, -160),
                [(0.35, 1.45), (0.37, 1.5)]]),
    "k": (0.75, [[(0.0, 2.0), (0.0, 0.0)], [(0.65, 1.0), (0.0, 0.4), (0.7, 0.0)]]),
    "l": (0.3, [[(0.1, 2.0), (0.1, 0.0)]]),
    "m": (1.3, [[(0.0, 1.0), (0.0, 0.0)], [(0.0, 0.7)] + _arc(0.3, 0.7, 0.3, 0.3, 180, 0)
                + [(0.6, 0.0)], [(0.6, 0.7)] + _arc(0.9, 0.7, 0.3, 0.3, 180, 0) + [(1.2, 0.0)]]),
    "n": (0.8, [[(0.0, 1.0), (0.0, 0.0)], [(0.0, 0.65)] + _ARCH + [(0.7, 0.0)]]),
    "o": (0.9, [_BOWL]),
    "p": (0.9, [[(0.0, 1.0), (0.0, -1.0)], _arc(0.4, 0.5, 0.4, 0.5, 180, -180)]),
    "q": (0.9, [_OPEN_BOWL, [(0.8, 1.0), (0.8, -1.0), (1.0, -0.8)]]),
    "r": (0.6, [[(0.0, 1.0), (0.0, 0.0)], [(0.0, 0.6)] + _arc(0.35, 0.6, 0.35, 0.4, 180, 45)]),
    "s": (0.75, [_arc(0.35, 0.75, 0.3, 0.25, 20, 270) + _arc(0.35, 0.25, 0.3, 0.25, 90, -160)]),
    "t": (0.6, [[(0.25, 1.7), (0.25, 0.15)] + _arc(0.45, 0.15, 0.2, 0.15, 180, 300),
                [(0.0, 1.0), (0.55, 1.0)]]),
    "u": (0.8, [[(0.0, 1.0), (0.0, 0.35)] + _arc(0.35, 0.35, 0.35, 0.35, 180, 360)
                + [(0.7, 1.0)], [(0.7, 1.0), (0.7, 0.0)]]),
    "v": (0.8, [[(0.0, 1.0), (0.4, 0.0), (0.8, 1.0)]]),
    "w": (1.2, [[(0.0, 1.0), (0.3, 0.0), (0.6, 0.8), (0.9, 0.0), (1.2, 1.0)]]),
    "x": (0.8, [[(0.0, 1.0), (0.8, 0.0)], [(0.8, 1.0), (0.0, 0.0)]]),
    "y": (0.8, [[(0.0, 1.0), (0.4, 0.1)], [(0.8, 1.0), (0.35, -0.6)] + _HOOK_DOWN[2:]]),
    "z": (0.8, [[(0.0, 1.0), (0.8, 1.0), (0.0, 0.0), (0.8, 0.0)]]),
    "A": (1.2, [[(0.0, 0.0), (0.6, 2.0), (1.2, 0.0)], [(0.3, 0.8), (0.9, 0.8)]]),
    "E": (0.9, [[(0.9, 2.0), (0.0, 2.0), (0.0, 0.0), (0.9, 0.0)], [(0.0, 1.0), (0.7, 1.0)]]),
    "H": (1.0, [[(0.0, 2.0), (0.0, 0.0)], [(1.0, 2.0), (1.0, 0.0)], [(0.0, 1.0), (1.0, 1.0)]]),
    "I": (0.4, [[(0.2, 2.0), (0.2, 0.0)]]),
    "L": (0.8, [[(0.0, 2.0), (0.0, 0.0), (0.8, 0.0)]]),
    "M": (1.4, [[(0.0, 0.0), (0.1, 2.0), (0.7, 0.6), (1.3, 2.0), (1.4, 0.0)]]),
    "N": (1.1, [[(0.0, 0.0), (0.0, 2.0), (1.1, 0.0), (1.1, 2.0)]]),
    "T": (1.0, [[(0.0, 2.0), (1.0, 2.0)], [(0.5, 2.0), (0.5, 0.0)]]),
    "V": (1.1, [[(0.0, 2.0), (0.55, 0.0), (1.1, 2.0)]]),
    "W": (1.6, [[(0.0, 2.0), (0.4, 0.0), (0.8, 1.6), (1.2, 0.0), (1.6, 2.0)]]),
    ".": (0.3, [[(0.1, 0.0), (0.13, 0.04)]]),
    ",": (0.3, [[(0.15, 0.1), (0.05, -0.3)]]),
    "'": (0.3, [[(0.15, 2.0), (0.1, 1.5)]]),
}

#: Gap between letters, in x-height units, before the writer's own spacing factor.
LETTER_GAP = 0.25
#: Pen travel between two sampled points, in x-height units (IAM-OnDB: a few per letter part).
POINT_SPACING = 0.18


def _resample(stroke, spacing):
    """A polyline resampled at even arc length ``spacing`` (end points kept): (k, 2)."""
    pts = np.asarray(stroke, dtype=np.float64)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(np.ceil(dist[-1] / spacing)) + 1)
    at = np.linspace(0.0, dist[-1], n)
    return np.column_stack([np.interp(at, dist, pts[:, 0]), np.interp(at, dist, pts[:, 1])])


def render_line(text, writer, rng):
    """Pen strokes of ``text`` written by ``writer``, in font units (y up), at the origin.

    Parameters
    ----------
    text : str
        Characters outside :data:`GLYPHS` are drawn as their lower-case form, else skipped.
    writer : dict
        ``slant`` (shear, x += slant * y), ``size`` (scale), ``spacing`` (letter-gap
        factor), ``jitter`` (std of point noise, font units), ``wave`` (baseline amplitude),
        optionally ``joining``: the probability that a letter's first stroke continues the
        previous letter's last stroke within a word (cursive writing; default 0).
    rng : numpy.random.Generator

    Returns
    -------
    list of (k, 2) float64 arrays, one per stroke, in writing order.
    """
    strokes, x0 = [], 0.0
    phase = rng.uniform(0, 2 * np.pi)
    joined = False  # may the next letter's first stroke continue the current stroke
    for char in text:
        width, glyph = GLYPHS.get(char, GLYPHS.get(char.lower(), (0.0, [])))
        for i, stroke in enumerate(glyph):
            spacing = POINT_SPACING * rng.uniform(0.8, 1.25)
            pts = _resample(stroke, spacing)
            pts[:, 0] += x0
            pts[:, 1] += writer["wave"] * np.sin(pts[:, 0] / 3.0 + phase)
            pts[:, 0] += writer["slant"] * pts[:, 1]
            pts += rng.normal(0.0, writer["jitter"], size=pts.shape)
            if i == 0 and joined and rng.random() < writer.get("joining", 0.0):
                link = _resample([strokes[-1][-1], pts[0]], spacing)[1:-1]
                strokes[-1] = np.concatenate([strokes[-1], link, pts])
            else:
                strokes.append(pts)
        joined = bool(glyph) and char.isalpha()
        x0 += width + LETTER_GAP * writer["spacing"]
    return [s * writer["size"] for s in strokes]
