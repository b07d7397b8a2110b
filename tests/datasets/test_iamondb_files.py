import numpy as np
import pytest
from corpus_fixtures import write_ascii, write_line_xml

from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.iamondb_files import (
    find_split_files,
    index_corpus,
    points_to_offsets,
    read_csr_lines,
    read_points,
    read_split_file,
)


def test_points_are_joined_with_y_flipped_and_pen_at_stroke_ends(tmp_path):
    path = write_line_xml(tmp_path / "l.xml", [[(1, 2), (3, 5)], [(7, 11), (13, 17), (19, 23)]])
    np.testing.assert_array_equal(read_points(path), [[1, -2, 0], [3, -5, 1], [7, -11, 0],
                                                      [13, -17, 0], [19, -23, 1]])


def test_offsets_drop_the_first_point():
    points = np.array([[1, -2, 0], [3, -5, 1], [7, -11, 0]], dtype=float)
    np.testing.assert_array_equal(points_to_offsets(points), [[1, 2, -3], [0, 4, -6]])


def test_xml_without_points_is_a_data_error(tmp_path):
    path = write_line_xml(tmp_path / "empty.xml", [[]])
    with pytest.raises(DataError, match=r"empty\.xml: has no Point elements"):
        read_points(path)


def test_broken_xml_is_a_data_error(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text("<StrokeSet><Stroke><Point x='1'")
    with pytest.raises(DataError, match=r"broken\.xml: cannot be read \(ParseError"):
        read_points(path)


def test_non_numeric_coordinate_is_a_data_error(tmp_path):
    path = tmp_path / "nan.xml"
    path.write_text('<StrokeSet><Stroke><Point x="a" y="1"/></Stroke></StrokeSet>')
    with pytest.raises(DataError, match=r"nan\.xml: cannot be read \(ValueError"):
        read_points(path)


def test_csr_lines_follow_the_csr_marker(tmp_path):
    path = write_ascii(tmp_path / "f.txt", ["first line", "second"])
    assert read_csr_lines(path) == ["first line", "second"]


def test_ascii_without_csr_is_a_data_error(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("OCR:\n\nhello\n")
    with pytest.raises(DataError, match="no 'CSR:' section"):
        read_csr_lines(path)


def test_split_file_lists_one_form_per_line(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text(" a01-000u\n\nb02-010x \n")
    assert read_split_file(path) == ["a01-000u", "b02-010x"]


def test_missing_split_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such split file"):
        read_split_file(tmp_path / "trainset.txt")


def test_official_and_plain_split_names_are_found(tmp_path):
    (tmp_path / "trainset.txt").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "valid.txt").write_text("")
    (tmp_path / "test.txt").write_text("")
    assert find_split_files(tmp_path) == {"train": tmp_path / "trainset.txt",
                                          "valid": tmp_path / "sub" / "valid.txt",
                                          "test": tmp_path / "test.txt"}


def test_index_maps_forms_to_their_numbered_lines(tiny_iamondb):
    strokes, texts = index_corpus(tiny_iamondb)
    assert [(n, p.name) for n, p in strokes["a01-000u"]] == [(1, "a01-000u-01.xml"),
                                                            (2, "a01-000u-02.xml")]
    assert texts["a01-000u"].name == "a01-000u.txt"


def test_missing_linestrokes_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="lineStrokes: no such folder"):
        index_corpus(tmp_path)
