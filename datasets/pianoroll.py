"""The polyphonic-music benchmarks: a piano-roll pickle read safely into the sequences layout.

The four corpora of Boulanger-Lewandowski et al. (2012) (JSB Chorales, Nottingham, MuseData,
Piano-midi.de) are distributed as one pickle each: a dict with ``train``, ``valid`` and ``test``,
each a list of sequences, each sequence a list of time steps, each step the MIDI pitches
sounding then (a list or tuple of ints, possibly empty). The files as distributed are Python 2
pickles.

Reading (:func:`load_pianoroll`)
--------------------------------
:class:`StrictUnpickler` builds only lists, tuples, dicts, ints, floats, strings and bytes (and
None / booleans, which need no global). A pickle obtains anything callable only through a
*global* (the ``GLOBAL`` / ``STACK_GLOBAL`` / ``INST`` / extension opcodes), and this reader
answers every global with a refusal naming the file and the global, before anything is called:
a class, a function, a ``REDUCE`` of anything never runs. Python 2 pickles are read with
``encoding='latin1'``. Sets, byte arrays and out-of-band buffers (protocol 4 / 5 opcodes that
need no global) are refused as well.

Prepared file
-------------
The layout of :mod:`nips2015_vrnn.datasets.sequences` (``layout='vrnn-sequences'``): the file's
own split kept, frames (T, 88) uint8 with key k = MIDI pitch 21 + k (A0 .. C8) 1 while sounding,
``binary`` true, not normalised (mean 0, std 1), so a Bernoulli model reads the 0/1 values as
they are. Sequence i of a split is named ``<split>/<i>``.

Example
-------
>>> import pickle
>>> roll = piano_roll([[60, 64], [], [108]], "song")
>>> roll.shape, roll.dtype, roll[0].nonzero()[0].tolist(), int(roll[1].sum())
((3, 88), dtype('uint8'), [39, 43], 0)
>>> payload = b"cos\\nsystem\\n(S'true'\\ntR."
>>> load_pianoroll_bytes(payload, "evil.pickle")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nips2015_vrnn.datasets.errors.DataError: evil.pickle: refused the global os.system; ...
"""
import io
import logging
import math
import pickle
import time
from pathlib import Path

import h5py
import numpy as np

from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.hdf5 import atomic_h5
from nips2015_vrnn.datasets.reader import SPLITS
from nips2015_vrnn.datasets.sequences import LAYOUT, VERSION, Sequences

log = logging.getLogger(__name__)

__all__ = ["LOWEST_PITCH", "N_KEYS", "StrictUnpickler", "load_pianoroll", "load_pianoroll_bytes",
           "piano_roll", "prepare_pianoroll", "PianoRoll"]

#: The piano's lowest key, A0, as a MIDI pitch; the 88 keys are MIDI 21 (A0) .. 108 (C8).
LOWEST_PITCH = 21
N_KEYS = 88
EXPECTED = ("a pickle of a dict with 'train', 'valid' and 'test', each a list of sequences, each a "
            "list of time steps, each a list of the MIDI pitches sounding (21..108)")
#: Value types the strict unpickler may leave in the result (None and bool need no global).
PLAIN_TYPES = (list, tuple, dict, int, float, str, bytes, bool, type(None))


class StrictUnpickler(pickle.Unpickler):
    """A pickle reader that builds plain values only and refuses every global.

    Parameters
    ----------
    file : binary file object
    name : str
        The file's name, said in every refusal.
    """

    def __init__(self, file, name):
        super().__init__(file, encoding="latin1")
        self.name = name

    def find_class(self, module, name):
        raise DataError(self.name, f"refused the global {module}.{name}; a piano-roll pickle holds only "
                                   "lists, tuples, dicts, numbers and strings, and nothing in the file was run")

    def persistent_load(self, pid):
        raise DataError(self.name, "refused a persistent reference; a piano-roll pickle holds only lists, "
                                   "tuples, dicts, numbers and strings, and nothing in the file was run")


def _check_plain(value, name):
    """Refuse any value of a type outside :data:`PLAIN_TYPES` (a set, a bytearray ...)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if not isinstance(item, PLAIN_TYPES):
            raise DataError(name, f"holds a {type(item).__name__}; a piano-roll pickle holds only lists, "
                                  "tuples, dicts, numbers and strings")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def load_pianoroll_bytes(data, name):
    """The plain value pickled in ``data`` (bytes), read by :class:`StrictUnpickler`.

    Raises
    ------
    DataError
        Naming ``name``: a refused global, a value of another type, or a damaged pickle.
    """
    try:
        value = StrictUnpickler(io.BytesIO(data), name).load()
    except DataError:
        raise
    except Exception as exc:  # whatever a damaged or hostile stream makes the pickle machine raise
        raise DataError(name, f"cannot be read as a pickle ({type(exc).__name__}: {exc}); "
                              f"expected {EXPECTED}") from None
    _check_plain(value, name)
    return value


def load_pianoroll(path):
    """The splits of the piano-roll pickle ``path``: {'train': [...], 'valid': [...], 'test': [...]}.

    Each sequence is a list of time steps, each the pitches sounding (as in the file).

    Raises
    ------
    DataError
        A missing or unreadable file, a refused global, or a value not of the standard layout.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(path, f"cannot be read ({err.strerror}); expected {EXPECTED}") from None
    value = load_pianoroll_bytes(data, str(path))
    if not isinstance(value, dict):
        raise DataError(path, f"holds a {type(value).__name__}; expected {EXPECTED}")
    value = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in value.items()}
    missing = [split for split in SPLITS if split not in value]
    if missing:
        raise DataError(path, f"has no {', '.join(repr(m) for m in missing)} (keys: "
                              f"{', '.join(sorted(map(str, value)))}); expected {EXPECTED}")
    for split in SPLITS:
        if not isinstance(value[split], (list, tuple)):
            raise DataError(path, f"{split!r} is a {type(value[split]).__name__}; expected a list of sequences")
    return {split: value[split] for split in SPLITS}


def piano_roll(steps, where):
    """One sequence of pitch lists as a (T, 88) uint8 piano roll (key k = MIDI pitch 21 + k).

    Parameters
    ----------
    steps : list of lists of int
        The pitches sounding at each step (an integral float such as 60.0 is taken as 60).
    where : str
        The sequence's name, said in errors.

    Raises
    ------
    DataError
        An empty sequence, a step that is not a list, or a pitch outside 21..108, naming the
        sequence and the step.
    """
    if not isinstance(steps, (list, tuple)) or not steps:
        raise DataError(where, "is an empty sequence or not a list of time steps; expected at least one step")
    roll = np.zeros((len(steps), N_KEYS), dtype=np.uint8)
    for t, pitches in enumerate(steps):
        if not isinstance(pitches, (list, tuple)):
            raise DataError(where, f"step {t} is a {type(pitches).__name__}; expected a list of MIDI pitches")
        for pitch in pitches:
            if isinstance(pitch, bool) or not isinstance(pitch, (int, float)) or not math.isfinite(pitch) \
                    or pitch != int(pitch) or not LOWEST_PITCH <= pitch < LOWEST_PITCH + N_KEYS:
                raise DataError(where, f"step {t} has the pitch {pitch!r}; expected MIDI pitches "
                                       f"{LOWEST_PITCH}..{LOWEST_PITCH + N_KEYS - 1} (the 88 piano keys)")
            roll[t, int(pitch) - LOWEST_PITCH] = 1
    return roll


def prepare_pianoroll(src, out_file):
    """Prepare the piano-roll pickle ``src`` as the HDF5 file ``out_file`` (the file's own split).

    Returns
    -------
    dict: ``path``, ``split``, ``sequences`` and ``frames`` per split, ``lengths``, ``width``,
    ``binary``, ``notes_per_step`` (mean over the training frames), ``stored_as``, ``seconds``.
    """
    began = time.perf_counter()
    splits = load_pianoroll(src)
    rolls = {split: [piano_roll(seq, f"{src}: {split} sequence {i}") for i, seq in enumerate(seqs)]
             for split, seqs in splits.items()}
    if not rolls["train"]:
        raise DataError(src, "'train' holds no sequences; expected at least one")
    with atomic_h5(out_file, LAYOUT, VERSION) as f:
        for split, seqs in rolls.items():
            group = f.create_group(split)
            frames = np.concatenate(seqs) if seqs else np.zeros((0, N_KEYS), dtype=np.uint8)
            group.create_dataset("frames", data=frames)
            group.create_dataset("offsets", data=np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64))
            group.create_dataset("names", data=np.array([f"{split}/{i}" for i in range(len(seqs))], dtype=object),
                                 dtype=h5py.string_dtype())
        f.attrs.update(X_mean=np.zeros(N_KEYS), X_std=np.ones(N_KEYS), normalised=False, binary=True,
                       width=N_KEYS, source=str(Path(src).resolve()))
    lengths = np.array([len(s) for seqs in rolls.values() for s in seqs])
    train = np.concatenate(rolls["train"])
    return {"path": str(out_file), "split": "the file's own (train, valid, test)",
            "sequences": {k: len(v) for k, v in rolls.items()},
            "frames": {k: int(sum(len(s) for s in v)) for k, v in rolls.items()},
            "lengths": f"{lengths.min()}..{lengths.max()} steps, median {np.median(lengths):g}",
            "width": N_KEYS, "binary": True, "notes_per_step": float(train.sum(axis=1).mean()),
            "stored_as": "uint8", "seconds": time.perf_counter() - began}


class PianoRoll(Sequences):
    """One split of a prepared piano-roll file: padded (T, B, 88) 0/1 batches ``[x, mask]``.

    The layout is the sequences one (see :class:`~nips2015_vrnn.datasets.sequences.Sequences`).
    """

    PRODUCER = "prepare_pianoroll (vrnn-prepare pianoroll)"
