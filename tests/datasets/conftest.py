"""Fixtures of the dataset tests: tiny corpora written in the real formats."""
import pytest

from corpus_fixtures import TINY_FORMS, write_ascii, write_line_xml


@pytest.fixture
def tiny_iamondb(tmp_path):
    """A 4-form corpus with train (2 forms), valid and test split files (official names)."""
    root = tmp_path / "iam"
    for form, lines in TINY_FORMS.items():
        writer, number = form.split("-")[0], form[:-1]
        for i, (_, strokes) in enumerate(lines, start=1):
            write_line_xml(root / "lineStrokes" / writer / number / f"{form}-{i:02d}.xml", strokes)
        write_ascii(root / "ascii" / writer / number / f"{form}.txt", [t for t, _ in lines])
    (root / "trainset.txt").write_text("a01-000u\n\na01-001w \n")
    (root / "testset_v.txt").write_text("b02-010x\n")
    (root / "testset_f.txt").write_text("c03-020z\n")
    return root
