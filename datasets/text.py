"""Characters: UTF-8 text into one prepared HDF5 file, read as one-hot frames.

Source (:func:`load_text`): one UTF-8 text file, or a folder whose ``.txt`` files (sorted by
path, symbolic links to folders followed) are joined in that order. A byte that is not UTF-8 is
a :class:`DataError` naming the file and the line; so is an empty file.

Splits and vocabulary
---------------------
The joined text of N characters is cut into three contiguous blocks: train the first
``N (1 - valid_frac - test_frac)`` characters, then valid, then test. The vocabulary is the
characters of the training block, sorted; a character is stored as its id: 1 + its place in the
vocabulary, and 0 (:data:`UNKNOWN`, written as U+FFFD) for a character the training block never
shows (in valid / test, or in a ``--prime`` text later). The model sees one-hot frames of
width V = 1 + len(vocabulary).

Layout (HDF5, ``layout='vrnn-text'``, ``version=1``)
----------------------------------------------------
Groups ``train``, ``valid``, ``test``, each with ``ids`` (n,) uint16 (uint32 for a vocabulary
beyond 65535). Attributes: ``vocabulary`` (JSON list of the characters), ``width`` (V),
``seq_len``, ``batch_size``, ``eval_len``, ``X_mean`` (V,) zeros and ``X_std`` (V,) ones (the
one-hot frames are not normalised), ``source``, ``sources`` (JSON list of the files joined).

Examples
--------
Training (:class:`TextStreams`), as the Blizzard rows: with B = ``batch_size``, s = ``seq_len``
and n_seg = n // (B s), the first B n_seg s training characters are B parallel streams of
S = n_seg s consecutive characters (the tail is dropped); example r is segment r // B of stream
r mod B, so the batch [iB, (i+1)B) continues [(i-1)B, iB) stream for stream and a carried LSTM
state (TBPTT) reads on where it stopped. Evaluation (:class:`TextBlocks`): each of valid / test
is one block cut into examples of ``eval_len`` characters (the last one shorter), each read from
a zero state. Both serve ``[x, mask]``: x (T, B, V) one-hot, mask (T, B).

>>> encode("abca", ["a", "b"]).tolist()
[1, 2, 0, 1]
>>> decode([1, 2, 0], ["a", "b"])
'ab\\ufffd'
"""
import json
import logging
import time
from pathlib import Path

import numpy as np

from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.hdf5 import atomic_h5, open_layout
from nips2015_vrnn.datasets.ragged import RaggedReader, chunk_index
from nips2015_vrnn.datasets.reader import SPLITS
from nips2015_vrnn.datasets.walk import corpus_files

log = logging.getLogger(__name__)

__all__ = ["LAYOUT", "VERSION", "UNKNOWN", "load_text", "encode", "decode", "prepare_text", "read_vocabulary",
           "TextStreams", "TextBlocks", "text_reader"]

LAYOUT = "vrnn-text"
VERSION = 1
#: How the unknown symbol (id 0) is written back as text: the Unicode replacement character.
UNKNOWN = "\ufffd"
EXPECTED = "a UTF-8 text file or a folder of .txt files"


def _read_utf8(path):
    """The text of ``path``; a DataError names the file and line of a non-UTF-8 byte, or an empty file."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise DataError(path, f"cannot be read ({err.strerror}); expected {EXPECTED}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise DataError(path, f"line {line}: byte 0x{data[err.start]:02x} is not UTF-8 ({err.reason}); "
                              "expected UTF-8 text") from None
    if not text:
        raise DataError(path, "is empty; expected UTF-8 text of at least one character")
    return text


def load_text(src):
    """(the joined text, the list of files read) of ``src`` (see the module docstring)."""
    src = Path(src)
    if src.is_file():
        files = [src]
    elif src.is_dir():
        files = corpus_files(src, (".txt",))
        if not files:
            raise DataError(src, f"holds no .txt files; expected {EXPECTED}")
    else:
        raise DataError(src, f"no such file or folder; expected {EXPECTED}")
    return "".join(_read_utf8(path) for path in files), files


def encode(text, vocabulary):
    """The ids of ``text`` (1 + place in ``vocabulary``; 0 for a character outside it): (n,) int64."""
    index = {char: i + 1 for i, char in enumerate(vocabulary)}
    return np.fromiter((index.get(char, 0) for char in text), dtype=np.int64, count=len(text))


def decode(ids, vocabulary):
    """The text of ``ids`` (id 0 written as :data:`UNKNOWN`)."""
    chars = [UNKNOWN] + list(vocabulary)
    return "".join(chars[int(i)] for i in ids)


def prepare_text(src, out_file, seq_len=100, batch_size=32, eval_len=1000, valid_frac=0.05, test_frac=0.05):
    """Prepare the text of ``src`` as the HDF5 file ``out_file`` (layout in the module docstring).

    Parameters
    ----------
    src : str or Path
        A UTF-8 text file or a folder of ``.txt`` files.
    out_file : str or Path
    seq_len, batch_size : int
        Characters per training example and parallel training streams (train with the same
        ``--set batch_size``).
    eval_len : int
        Characters per evaluation example.
    valid_frac, test_frac : float
        The valid and test blocks' shares of the text (each at least one character).

    Returns
    -------
    dict: ``path``, ``split``, ``characters`` (per split), ``vocabulary`` (its size, with the
    unknown symbol), ``unknown`` (valid / test characters outside the vocabulary),
    ``training_examples``, ``dropped`` (training characters beyond the last whole segment),
    ``seconds``.
    """
    for name, value in (("seq_len", seq_len), ("batch_size", batch_size), ("eval_len", eval_len)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1; got {value!r}")
    if not (0 < valid_frac < 1 and 0 < test_frac < 1 and valid_frac + test_frac < 1):
        raise ValueError(f"valid_frac={valid_frac!r} and test_frac={test_frac!r}: expected each in (0, 1) and "
                         "a sum below 1")
    began = time.perf_counter()
    text, files = load_text(src)
    n = len(text)
    n_valid, n_test = max(1, round(valid_frac * n)), max(1, round(test_frac * n))
    n_train = n - n_valid - n_test
    n_seg = max(n_train, 0) // (batch_size * seq_len)
    if n_seg == 0:
        raise DataError(src, f"holds {n} characters, {max(n_train, 0)} for training: fewer than batch_size "
                             f"{batch_size} x seq_len {seq_len}; expected more text or a smaller --batch-size / "
                             "--seq-len")
    blocks = {"train": text[:n_train], "valid": text[n_train:n_train + n_valid], "test": text[n_train + n_valid:]}
    vocabulary = sorted(set(blocks["train"]))
    dtype = np.uint16 if len(vocabulary) < 2 ** 16 else np.uint32
    ids = {split: encode(block, vocabulary) for split, block in blocks.items()}
    width = 1 + len(vocabulary)
    with atomic_h5(out_file, LAYOUT, VERSION) as f:
        for split in SPLITS:
            f.create_group(split).create_dataset("ids", data=ids[split].astype(dtype))
        f.attrs.update(vocabulary=json.dumps(vocabulary), width=width, seq_len=seq_len, batch_size=batch_size,
                       eval_len=eval_len, X_mean=np.zeros(width), X_std=np.ones(width),
                       source=str(Path(src).resolve()), sources=json.dumps([str(p) for p in files]))
    seconds = time.perf_counter() - began
    log.info("wrote %s in %.1f s", out_file, seconds)
    return {"path": str(out_file), "split": f"contiguous blocks (valid_frac={valid_frac}, test_frac={test_frac})",
            "characters": {split: len(block) for split, block in blocks.items()},
            "vocabulary": f"{width} symbols ({len(vocabulary)} characters and the unknown one)",
            "unknown": int(sum(int((ids[s] == 0).sum()) for s in ("valid", "test"))),
            "training_examples": f"{n_seg * batch_size} of {seq_len} characters ({batch_size} streams of {n_seg})",
            "dropped": n_train - n_seg * batch_size * seq_len, "seconds": seconds}


def read_vocabulary(path):
    """The vocabulary (list of characters; id i + 1 is character i) stored in the prepared ``path``."""
    with open_layout(path, LAYOUT, VERSION, "prepare_text (vrnn-prepare text)") as f:
        return json.loads(f.attrs["vocabulary"])


class _Text(RaggedReader):
    """One split of a prepared text file: ``[x, mask]`` with x (T, B, V) one-hot characters."""

    LAYOUT, VERSION, PRODUCER = LAYOUT, VERSION, "prepare_text (vrnn-prepare text)"
    FILE_KIND, UNIT = "file", "chunks"

    def __init__(self, name="train", path=None, chunk_frames=None, X_mean=None, X_std=None, dtype="float32"):
        super().__init__(name=name, path=path, chunk_frames=chunk_frames, dtype=dtype)
        self.X_mean, self.X_std = self._statistics(X_mean, X_std, shape=(self.width,))
        try:
            self.vocabulary = json.loads(self._attr("vocabulary"))
        except (TypeError, ValueError):
            self.vocabulary = None
        self._expect(isinstance(self.vocabulary, list) and all(isinstance(c, str) for c in self.vocabulary),
                     "attribute 'vocabulary' is not a JSON list of characters")
        self._expect(self.width == 1 + len(self.vocabulary),
                     f"width {self.width} is not 1 + the {len(self.vocabulary)} characters of the vocabulary")

    def _read(self, seq, f0, f1):
        first = self._starts[seq]
        ids = np.asarray(self._ids[first + f0:first + f1], dtype=np.int64)
        if ids.size and ids.max() >= self.width:
            raise DataError(self.path, f"split {self.name!r} holds the id {ids.max()} beyond the "
                                       f"{self.width} symbols; expected the output of {self.PRODUCER}")
        return np.eye(self.width)[ids]

    @classmethod
    def config_overrides(cls, path):
        """What the model must take from the prepared file: ``{'x_dim': V}``."""
        with open_layout(path, cls.LAYOUT, cls.VERSION, cls.PRODUCER) as f:
            return {"x_dim": int(f.attrs["width"])}


class TextStreams(_Text):
    """The training split as TBPTT streams (see the module docstring): example r is segment
    r // B of stream r mod B, ``seq_len`` characters; ``batch_size`` is B; ``example_steps`` is
    ``seq_len`` (every example's length: a static-shape backend trains at it, unpadded)."""

    def __init__(self, name="train", path=None, X_mean=None, X_std=None, dtype="float32"):
        super().__init__(name=name, path=path, chunk_frames=None, X_mean=X_mean, X_std=X_std, dtype=dtype)
        n_seg = self.n_frames[0] // self.seq_len
        self.example_steps = self.seq_len
        self._index = (np.stack([np.repeat(np.arange(self.batch_size), n_seg),
                                 np.tile(np.arange(n_seg) * self.seq_len, self.batch_size),
                                 np.tile(np.arange(1, n_seg + 1) * self.seq_len, self.batch_size)], axis=1)
                       .reshape(self.batch_size, n_seg, 3).transpose(1, 0, 2).reshape(-1, 3))

    def _open_split(self, group):
        self.seq_len, self.batch_size = int(self._attr("seq_len")), int(self._attr("batch_size"))
        self._ids = self._node(f"{self.name}/ids")
        stream = (len(self._ids) // (self.batch_size * self.seq_len)) * self.seq_len
        if stream == 0:
            raise DataError(self.path, f"the train split's {len(self._ids)} characters make no batch of "
                                       f"{self.batch_size} x {self.seq_len}; expected the output of {self.PRODUCER}")
        self._starts = np.arange(self.batch_size) * stream
        return np.full(self.batch_size, stream, dtype=np.int64), int(self._attr("width"))


class TextBlocks(_Text):
    """The valid or test block as examples of ``eval_len`` characters (the last one shorter)."""

    def __init__(self, name="valid", path=None, X_mean=None, X_std=None, dtype="float32"):
        super().__init__(name=name, path=path, chunk_frames=None, X_mean=X_mean, X_std=X_std, dtype=dtype)
        self.chunk_frames = int(self._attr("eval_len"))
        self._index = chunk_index(self.n_frames, self.chunk_frames)

    def _open_split(self, group):
        self._ids = self._node(f"{self.name}/ids")
        self._starts = np.zeros(1, dtype=np.int64)
        return np.array([len(self._ids)], dtype=np.int64), int(self._attr("width"))


def text_reader(name="train", path=None, **kwargs):
    """The reader of split ``name``: :class:`TextStreams` for 'train', :class:`TextBlocks` else."""
    return (TextStreams if name == "train" else TextBlocks)(name=name, path=path, **kwargs)

