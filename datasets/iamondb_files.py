"""Reading the raw IAM-OnDB formats: stroke XML, ``ascii/`` transcriptions and split files.

Corpus layout (``src_dir``)::

    lineStrokes/a01/a01-000/a01-000u-01.xml   StrokeSet > Stroke > Point(x, y, time)
    ascii/a01/a01-000/a01-000u.txt            text; line i after ``CSR:`` is line i of the form
    trainset.txt, testset_v.txt, ...          one form id (e.g. ``a01-000u``) per line

Files are found by name anywhere under ``lineStrokes/`` and ``ascii/``, so the exact depth
does not matter.
"""
import logging
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from nips2015_vrnn.datasets.errors import DataError

log = logging.getLogger(__name__)

#: Split-file names searched for, per split, in ``src_dir`` and its direct sub-folders: the
#: official IAM-OnDB task-1 names (validation ``testset_v``, final test ``testset_f``; the
#: second validation set ``testset_t.txt`` is used only when passed explicitly) and plain names.
SPLIT_FILE_NAMES = {
    "train": ("trainset.txt", "train.txt"),
    "valid": ("testset_v.txt", "valid.txt"),
    "test": ("testset_f.txt", "test.txt"),
}

#: A line's stroke file: ``<form id>-<line number>.xml``.
_LINE_FILE = re.compile(r"^(?P<form>.+)-(?P<line>\d+)$")


def read_points(path):
    """Points of one line, all strokes in order: (n, 3) float64 [x, y, pen].

    y is flipped (y -> -y: the file's y grows downwards); pen is 1 on the last point of
    each stroke, else 0.

    Raises
    ------
    DataError
        Not parseable XML, a non-numeric coordinate, or no Point at all.
    """
    try:
        root = ET.parse(path).getroot()
        strokes = [[(float(p.attrib["x"]), -float(p.attrib["y"])) for p in s.iter("Point")]
                   for s in root.iter("Stroke")]
    except (ET.ParseError, KeyError, ValueError, OSError) as exc:
        raise DataError(path, f"cannot be read ({type(exc).__name__}: {exc}); expected XML "
                              "StrokeSet > Stroke > Point with numeric x and y") from exc
    strokes = [s for s in strokes if s]
    for s in strokes:
        bad = [(x, -y) for x, y in s if not (math.isfinite(x) and math.isfinite(y))]
        if bad:
            raise DataError(path, f"has a Point with x={bad[0][0]!r}, y={bad[0][1]!r}; expected "
                                  "finite numeric coordinates")
    if not strokes:
        raise DataError(path, "has no Point elements; expected StrokeSet > Stroke > "
                              "Point(x, y, time)")
    points = np.concatenate([np.array(s, dtype=np.float64) for s in strokes])
    pen = np.zeros((len(points), 1))
    pen[np.cumsum([len(s) for s in strokes]) - 1] = 1.0
    return np.hstack([points, pen])


def points_to_offsets(points):
    """[x, y, pen] points (n, 3) -> model input [pen, dx, dy] (n - 1, 3).

    Row t is [pen_{t+1}, x_{t+1} - x_t, y_{t+1} - y_t]: the first point is dropped.
    """
    points = np.asarray(points, dtype=np.float64)
    return np.hstack([points[1:, 2:3], np.diff(points[:, :2], axis=0)])


def read_csr_lines(path):
    """The transcription lines after ``CSR:`` in an ``ascii/`` file, blank lines dropped."""
    try:
        text = read_utf8(path, "an IAM-OnDB ascii file")
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc}); expected an IAM-OnDB ascii file") from exc
    if "CSR:" not in text:
        raise DataError(path, "has no 'CSR:' section; expected the IAM-OnDB ascii format")
    after = text.split("CSR:", 1)[1]
    return [line.strip() for line in after.splitlines() if line.strip()]


def read_split_file(path):
    """Form ids listed in a split file: one per line, blank lines and surrounding space ignored."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such split file; expected one form id (e.g. a01-000u) per line")
    text = read_utf8(path, "one form id (e.g. a01-000u) per line")
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_utf8(path, expected):
    """The text of ``path``; a byte that is not UTF-8 is a DataError naming the file and line."""
    payload = Path(path).read_bytes()
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = payload.count(b"\n", 0, exc.start) + 1
        raise DataError(path, f"line {line}: byte {payload[exc.start]:#04x} is not UTF-8 text; "
                              f"expected {expected} in UTF-8") from None


def check_disjoint_splits(forms):
    """DataError naming both split files when a form id is listed in two splits.

    ``forms`` is {split: (split file path, [form ids])}.
    """
    seen = {}
    for split, (path, ids) in forms.items():
        for form in ids:
            if form in seen and seen[form][0] != split:
                other_split, other_path = seen[form]
                raise DataError(path, f"lists form {form}, which {other_path} lists too ("
                                      f"{other_split} and {split}); expected each form in one "
                                      "split only")
            seen.setdefault(form, (split, path))


def find_split_files(src_dir):
    """{split: path} of the split files found in ``src_dir`` or a direct sub-folder."""
    src = Path(src_dir)
    folders = [src] + sorted(p for p in src.iterdir() if p.is_dir())
    found = {}
    for split, names in SPLIT_FILE_NAMES.items():
        for folder in folders:
            hits = [folder / n for n in names if (folder / n).is_file()]
            if hits:
                found[split] = hits[0]
                break
    return found


def index_corpus(src_dir):
    """Line stroke files and transcriptions by form id.

    Returns
    -------
    strokes : dict form id -> list of (line number, Path), sorted by line number
    texts : dict form id -> Path of the ascii file

    Raises
    ------
    DataError
        ``src_dir`` or its ``lineStrokes/`` folder is missing.
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise DataError(src, "no such folder; expected the IAM-OnDB corpus folder")
    if not (src / "lineStrokes").is_dir():
        raise DataError(src / "lineStrokes", "no such folder; expected the IAM-OnDB line "
                                              "stroke XML files under <corpus>/lineStrokes")
    strokes = {}
    for path in (src / "lineStrokes").rglob("*.xml"):
        match = _LINE_FILE.match(path.stem)
        if match:
            strokes.setdefault(match["form"], []).append((int(match["line"]), path))
    for lines in strokes.values():
        lines.sort()
    texts = {p.stem: p for p in (src / "ascii").rglob("*.txt")} if (src / "ascii").is_dir() else {}
    return strokes, texts
