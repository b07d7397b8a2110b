"""Writers of tiny corpora in the real formats (WAV, IAM-OnDB XML / ascii / split files).

The fixtures built on them are in ``tests/datasets/conftest.py``.
"""
import scipy.io.wavfile


def write_wav(path, rate, data):
    """Write ``data`` (n,) or (n, channels) at ``rate`` Hz; makes the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.wavfile.write(path, rate, data)
    return path


def write_line_xml(path, strokes):
    """An IAM-OnDB line file: strokes is a list of [(x, y), ...] in image coordinates."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = []
    t = 0.0
    for stroke in strokes:
        body.append('<Stroke colour="black">')
        for x, y in stroke:
            body.append(f'<Point x="{x}" y="{y}" time="{t:.2f}"/>')
            t += 0.01
        body.append("</Stroke>")
    path.write_text('<?xml version="1.0"?>\n<WhiteboardCaptureSession><StrokeSet>'
                    + "".join(body) + "</StrokeSet></WhiteboardCaptureSession>\n")
    return path


def write_ascii(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(lines)
    path.write_text(f"OCR:\n\n{body}\n\nCSR:\n\n{body}\n")
    return path


#: The tiny corpus: form id -> list of lines, each (text, strokes in image coordinates).
TINY_FORMS = {
    "a01-000u": [("Hi there", [[(10, 100), (12, 98), (15, 97)], [(20, 100), (21, 90)]]),
                 ("bye", [[(0, 0), (3, 4), (6, 8), (7, 9)]])],
    "a01-001w": [("ok 9", [[(5, 5), (6, 7)], [(9, 9), (8, 12), (7, 16)], [(1, 1), (2, 2)]])],
    "b02-010x": [("valid", [[(0, 0), (1, 1), (3, 2)]])],
    "c03-020z": [("test!", [[(4, 4), (2, 3), (0, 2), (1, 1)]])],
}


def write_tiny_iamondb(root):
    """The TINY_FORMS corpus under ``root`` with train (2 forms), valid and test split files
    (official names); returns ``root``."""
    for form, lines in TINY_FORMS.items():
        writer, number = form.split("-")[0], form[:-1]
        for i, (_, strokes) in enumerate(lines, start=1):
            write_line_xml(root / "lineStrokes" / writer / number / f"{form}-{i:02d}.xml", strokes)
        write_ascii(root / "ascii" / writer / number / f"{form}.txt", [t for t, _ in lines])
    (root / "trainset.txt").write_text("a01-000u\n\na01-001w \n")
    (root / "testset_v.txt").write_text("b02-010x\n")
    (root / "testset_f.txt").write_text("c03-020z\n")
    return root
