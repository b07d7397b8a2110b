"""Characters prepared from UTF-8 text: contiguous splits, the vocabulary, TBPTT streams that
continue batch to batch, evaluation blocks, and bad input named by file and line."""
import numpy as np
import pytest
from fuzz_strategies import FUZZ
from hypothesis import given
from hypothesis import strategies as st

from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.lookup import config_overrides, open_split
from nips2015_vrnn.datasets.text import decode, prepare_text, read_vocabulary

TEXT = "".join(f"line {i:03d} of the text.\n" for i in range(40))  # 880 characters


def prepared(tmp_path, text=TEXT, **kwargs):
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    kwargs = {"seq_len": 10, "batch_size": 4, "eval_len": 30, **kwargs}
    return prepare_text(tmp_path / "a.txt", tmp_path / "t.h5", **kwargs), tmp_path / "t.h5"


def read_split(path, split):
    with open_split("text", path, split, "float64") as data:
        x, mask = data.slices(0, data.num_examples())
        return x, mask, data


def test_the_splits_are_contiguous_blocks_and_read_back_exactly(tmp_path):
    info, path = prepared(tmp_path)
    assert info["characters"] == {"train": 792, "valid": 44, "test": 44}
    vocabulary = read_vocabulary(path)
    assert vocabulary == sorted(set(TEXT[:792]))
    assert config_overrides("text", path) == {"x_dim": 1 + len(vocabulary)}
    for split, block in (("valid", TEXT[792:836]), ("test", TEXT[836:])):
        x, mask, data = read_split(path, split)
        assert data.lengths(0, data.num_examples()).tolist() == [30, 14]
        text = "".join(decode(x[:int(mask[:, b].sum()), b].argmax(-1), vocabulary) for b in range(x.shape[1]))
        assert text == block


def test_each_batch_continues_the_previous_one_stream_for_stream(tmp_path):
    _, path = prepared(tmp_path)
    x, mask, data = read_split(path, "train")
    assert data.batch_size == 4 and data.num_examples() == 4 * 19 and mask.all()  # 792 // 40 = 19 segments
    vocabulary = read_vocabulary(path)
    streams = ["".join(decode(x[:, r].argmax(-1), vocabulary) for r in range(b, x.shape[1], 4)) for b in range(4)]
    assert streams == [TEXT[b * 190:(b + 1) * 190] for b in range(4)]
    assert np.all(x.sum(-1) == 1)


def test_characters_unseen_in_training_are_the_unknown_symbol(tmp_path):
    text = "ab" * 100 + "abc"
    info, path = prepared(tmp_path, text=text, valid_frac=0.01, test_frac=0.01, seq_len=5, batch_size=2)
    assert read_vocabulary(path) == ["a", "b"] and info["unknown"] == 1
    x, mask, _ = read_split(path, "test")
    assert x[:, 0].argmax(-1).tolist() == [2, 0]  # the test block 'bc'


def test_a_folder_joins_its_txt_files_in_order(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "b.txt").write_text("B" * 300)
    (tmp_path / "src" / "a.txt").write_text("A" * 300)
    (tmp_path / "src" / "skip.md").write_text("Z" * 300)
    info = prepare_text(tmp_path / "src", tmp_path / "t.h5", seq_len=10, batch_size=2, valid_frac=0.1,
                        test_frac=0.1)
    assert sum(info["characters"].values()) == 600 and read_vocabulary(tmp_path / "t.h5") == ["A", "B"]


def test_a_byte_that_is_not_utf8_names_the_file_and_line(tmp_path):
    (tmp_path / "bad.txt").write_bytes("first line\nsecond \u00e9\n".encode() + b"third \xff line\n")
    with pytest.raises(DataError, match=r"bad.txt: line 3: byte 0xff is not UTF-8"):
        prepare_text(tmp_path / "bad.txt", tmp_path / "t.h5")
    assert not (tmp_path / "t.h5").exists()


def test_an_empty_file_or_too_little_text_is_an_error_naming_it(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="empty.txt: is empty"):
        prepare_text(tmp_path / "empty.txt", tmp_path / "t.h5")
    (tmp_path / "short.txt").write_text("short text")
    with pytest.raises(DataError, match="short.txt: holds 10 characters.*--batch-size / --seq-len"):
        prepare_text(tmp_path / "short.txt", tmp_path / "t.h5")


@FUZZ
@given(payload=st.binary(max_size=400))
def test_any_bytes_prepare_or_are_one_data_error_line_naming_the_file(tmp_path_factory, payload):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "f.txt").write_bytes(payload)
    try:
        info = prepare_text(folder / "f.txt", folder / "t.h5", seq_len=3, batch_size=2, eval_len=5)
    except DataError as err:
        assert str(err).startswith(str(folder / "f.txt")) and "\n" not in str(err)
        assert not (folder / "t.h5").exists()
    else:
        assert sum(info["characters"].values()) == len(payload.decode("utf-8"))
