"""Fuzzing the readers of untrusted corpus files: IAM-OnDB stroke XML, ascii transcriptions and
split files, and the attributes of prepared HDF5 files. Every input gives a valid result or a
clean one-line DataError naming the file -- never another exception."""
import h5py
import numpy as np
import pytest
from corpus_fixtures import write_tiny_iamondb, write_wav
from fuzz_strategies import FUZZ, JSON
from hypothesis import given
from hypothesis import strategies as st

from nips2015_vrnn.datasets.blizzard import Blizzard, prepare_blizzard
from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.hdf5 import INTEGRITY, integrity_of
from nips2015_vrnn.datasets.iamondb import IAMOnDB, prepare_iamondb
from nips2015_vrnn.datasets.iamondb_files import read_csr_lines, read_points, read_split_file

NUMBERS = st.sampled_from(["0", "1", "-3.5", "nan", "NaN", "inf", "-inf", "1e309", "1e308", "-1e308",
                           "", " ", "1,5", "0x10", "١", "1e-320"]) | st.text(max_size=6)


def data_error_naming(path, read):
    try:
        return read()
    except DataError as err:
        assert str(err).startswith(str(path)) and "\n" not in str(err)
        return None


@FUZZ
@given(points=st.lists(st.lists(st.tuples(NUMBERS, NUMBERS), max_size=4), max_size=3),
       attribute=st.sampled_from(["x", "y", "z"]))
def test_stroke_xml_gives_finite_points_or_a_data_error(tmp_path, points, attribute):
    body = "".join("<Stroke>" + "".join(f'<Point {attribute}="{x}" y="{y}" time="0"/>' for x, y in s)
                   + "</Stroke>" for s in points)
    path = tmp_path / "a01-000u-01.xml"
    path.write_text(f"<WhiteboardCaptureSession><StrokeSet>{body}</StrokeSet></WhiteboardCaptureSession>")
    result = data_error_naming(path, lambda: read_points(path))
    if result is not None:
        assert result.shape[1] == 3 and np.all(np.isfinite(result))


@FUZZ
@given(payload=st.binary(max_size=80)
       | st.text(max_size=40).map(lambda t: f"<StrokeSet><Stroke>{t}</Stroke></StrokeSet>".encode()))
def test_any_bytes_as_stroke_xml_give_points_or_a_data_error(tmp_path, payload):
    path = tmp_path / "a01-000u-01.xml"
    path.write_bytes(payload)
    data_error_naming(path, lambda: read_points(path))


@FUZZ
@given(payload=st.binary(max_size=60)
       | st.text(max_size=40).map(lambda t: f"CSR:\n{t}".encode("utf-8", "surrogatepass")))
def test_ascii_files_give_lines_or_a_data_error(tmp_path, payload):
    path = tmp_path / "a01-000u.txt"
    path.write_bytes(payload)
    lines = data_error_naming(path, lambda: read_csr_lines(path))
    assert lines is None or all("\ufffd" not in line for line in lines) or "\ufffd".encode() in payload


@FUZZ
@given(payload=st.binary(max_size=60))
def test_split_files_give_form_ids_or_a_data_error(tmp_path, payload):
    path = tmp_path / "trainset.txt"
    path.write_bytes(payload)
    data_error_naming(path, lambda: read_split_file(path))


@FUZZ
@given(train=st.lists(st.sampled_from(["a01-000u", "a01-001w", "b02-010x", "c03-020z", "zz-1", "", "a01-000u"]),
                      max_size=4),
       test=st.lists(st.sampled_from(["a01-000u", "c03-020z", "b02-010x"]), max_size=2))
def test_split_file_contents_prepare_or_give_a_data_error(tmp_path_factory, train, test):
    root = write_tiny_iamondb(tmp_path_factory.mktemp("iam"))
    (root / "trainset.txt").write_text("\n".join(train))
    (root / "testset_f.txt").write_text("\n".join(test))
    out = root / "c.h5"
    try:
        info = prepare_iamondb(root, out)
    except DataError as err:
        assert "\n" not in str(err) and str(root) in str(err)
        assert not out.exists()
        return
    assert np.all(np.isfinite(info["X_mean"])) and np.all(np.isfinite(info["X_std"]))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("bz")
    rng = np.random.default_rng(0)
    write_wav(root / "src" / "a.wav", 16000, (rng.normal(size=30 * 4 * 400) * 3000).astype(np.int16))
    blizzard = prepare_blizzard(root / "src", root / "bz.h5", seq_len=400, batch_size=4)["path"]
    iamondb = prepare_iamondb(write_tiny_iamondb(root / "iam"), root / "iam.h5")["path"]
    return {"blizzard": blizzard, "iamondb": iamondb}


BLIZZARD_ATTRS = ["X_mean", "X_std", "seq_len", "batch_size", "sample_rate", "train_rows", "valid_rows",
                  "layout", "version", INTEGRITY]
ATTR_VALUES = (st.integers(-2 ** 40, 2 ** 40) | st.floats(allow_nan=True, allow_infinity=True)
               | st.text(max_size=8) | st.lists(st.integers(-10, 10 ** 6), max_size=3)
               | st.lists(st.floats(allow_nan=True), min_size=1, max_size=3))


def opens_or_refuses(cls, path, **kwargs):
    try:
        reader = cls("train", path, **kwargs)
    except DataError as err:
        assert str(err).startswith(str(path)) and "\n" not in str(err)
        return
    with reader:
        n = reader.num_examples()
        batch = reader.slices(0, min(n, 4))
        assert all(np.all(np.isfinite(part)) for part in batch)


@FUZZ
@given(key=st.sampled_from(BLIZZARD_ATTRS), value=ATTR_VALUES, stamp=st.booleans())
def test_prepared_blizzard_attributes_open_or_are_refused(prepared, tmp_path, key, value, stamp):
    path = tmp_path / "bz.h5"
    path.write_bytes(open(prepared["blizzard"], "rb").read())
    with h5py.File(path, "r+") as f:
        f.attrs[key] = value
        if stamp:  # a crafted file with a matching checksum
            f.attrs[INTEGRITY] = integrity_of(f)
    opens_or_refuses(Blizzard, path, frame_size=100)


@FUZZ
@given(key=st.sampled_from(["train/offsets", "train/points", "X_mean", "X_std"]), value=JSON | ATTR_VALUES,
       stamp=st.booleans())
def test_prepared_iamondb_fields_open_or_are_refused(prepared, tmp_path, key, value, stamp):
    path = tmp_path / "iam.h5"
    path.write_bytes(open(prepared["iamondb"], "rb").read())
    with h5py.File(path, "r+") as f:
        try:
            if "/" in key:
                del f[key]
                f[key] = np.asarray(value)
            else:
                f.attrs[key] = value
        except (TypeError, ValueError):
            return  # h5py cannot store this value
        if stamp:
            f.attrs[INTEGRITY] = integrity_of(f)
    opens_or_refuses(IAMOnDB, path)
