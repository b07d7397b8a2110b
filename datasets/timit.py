"""TIMIT: the LDC corpus folder into whole, normalised utterances of 200-sample frames, and its reader.

Source layout (:func:`find_utterances`)
---------------------------------------
The LDC layout ``TRAIN/`` and ``TEST/`` (any letter case, at any depth below the root, e.g.
``TIMIT/TRAIN``), dialect regions ``DR1`` .. ``DR8``, one folder per speaker, one ``<ID>.WAV``
per utterance (NIST SPHERE). Re-distributions holding RIFF WAVs (``sa1.wav``) or both
(``SA1.WAV`` and ``SA1.WAV.wav``) are read too; libsndfile tells the formats apart by content,
and an utterance found twice is taken once (the first path in sorted order).

Split (that of FIVO, Maddison et al. 2017, and the later speech papers, but by speaker)
-------------------------------------------------------------------------------------
All ``TRAIN`` utterances, the SA dialect sentences included (4620 in the full corpus), are split
by speaker: ``valid_frac`` of the 462 training speakers (drawn with ``seed``; 23 speakers = 230
utterances at the default 0.05) form ``valid``, the others (4390 utterances) ``train``; the 1680
``TEST`` utterances (168 speakers) are ``test``. FIVO holds out 5 % of the training utterances
(231) at random instead; splitting by speaker keeps the validation speakers unseen.
``include_sa=False`` leaves out SA1 / SA2 (then 3696 / 1344 utterances).

Layout (HDF5, ``layout='vrnn-timit'``, ``version=1``)
-----------------------------------------------------
Groups ``train``, ``valid``, ``test``, each with ``samples`` (total,) int16 (16 kHz), ``offsets``
(n + 1,) int64 (utterance i is samples[offsets[i]:offsets[i+1]]) and ``names`` (n,) str
(``TRAIN/DR1/FCJF0/SA1``). Attributes: ``X_mean``, ``X_std`` (scalars over the training
samples), ``frame_size`` (200), ``chunk_frames`` (training chunk length in frames, 0 = whole
utterances), ``sample_rate``, ``include_sa``, ``seed``, ``valid_speakers``, ``source_dir``.

Reading (:class:`TIMIT`): utterance i is normalised, (s - X_mean) / X_std, and cut into frames of
200 samples, the last frame padded with zeros (as FIVO does); evaluation reads whole
utterances (masked), training reads chunks of ``chunk_frames`` frames (:class:`TIMIT_chunks`).
"""
import logging
import re
import time
from collections import OrderedDict
from pathlib import Path

import h5py
import numpy as np

from nips2015_vrnn.datasets.audio import TARGET_RATE, AudioFile, to_int16
from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.hdf5 import atomic_h5
from nips2015_vrnn.datasets.ragged import RaggedReader, chunk_index
from nips2015_vrnn.datasets.stats import RunningMoments, check_statistics
from nips2015_vrnn.datasets.walk import corpus_files

log = logging.getLogger(__name__)

__all__ = ["LAYOUT", "VERSION", "FRAME_SIZE", "CHUNK_FRAMES", "find_utterances", "speaker_split",
           "prepare_timit", "TIMIT", "TIMIT_chunks"]

LAYOUT = "vrnn-timit"
VERSION = 1
#: Samples per frame (the paper's 200 raw amplitudes per step).
FRAME_SIZE = 200
#: Training chunk length (frames): 40 frames = 0.5 s, the paper's Blizzard sequence length.
CHUNK_FRAMES = 40
#: Utterance counts of the full corpus (TRAIN with the SA sentences, TEST), checked in the log.
FULL_COUNTS = {"TRAIN": 4620, "TEST": 1680}
_REGION = re.compile(r"^dr\d$", re.IGNORECASE)
_SA = re.compile(r"^sa\d$", re.IGNORECASE)


def find_utterances(root):
    """The utterances under ``root``: OrderedDict (part, region, speaker, id) -> path, sorted.

    ``part`` is 'TRAIN' or 'TEST'; names are upper-cased so that layouts differing only in
    letter case give the same keys.

    Raises
    ------
    DataError
        ``root`` is missing or holds no TRAIN / TEST utterances in the LDC layout.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "no such folder; expected the TIMIT root (holding TRAIN/ and TEST/)")
    found = OrderedDict()
    for path in corpus_files(root, name_filter=lambda name: ".wav" in name.lower()):
        parts = path.relative_to(root).parts
        if len(parts) < 4 or not _REGION.match(parts[-3]) or parts[-4].upper() not in FULL_COUNTS:
            continue
        utt = path.name.split(".")[0].upper()
        key = (parts[-4].upper(), parts[-3].upper(), parts[-2].upper(), utt)
        found.setdefault(key, path)
    if not any(k[0] == "TRAIN" for k in found) or not any(k[0] == "TEST" for k in found):
        raise DataError(root, "holds no TIMIT utterances in the LDC layout; expected "
                              "TRAIN/DR1..DR8/<speaker>/<utterance>.WAV and the same under TEST/")
    return found


def speaker_split(keys, valid_frac, seed):
    """The training speakers held out for validation: a sorted list, round(frac * n) of them
    (at least one when ``valid_frac`` > 0), drawn with ``seed``.

    >>> speaker_split([('TRAIN', 'DR1', s, 'SA1') for s in 'ABCDEFGHIJ'], 0.2, seed=0)
    ['DR1/E', 'DR1/G']
    """
    speakers = sorted({f"{k[1]}/{k[2]}" for k in keys if k[0] == "TRAIN"})
    n_valid = max(1, round(valid_frac * len(speakers))) if valid_frac > 0 else 0
    if n_valid >= len(speakers):
        raise ValueError(f"valid_frac={valid_frac} holds out all {len(speakers)} training speakers")
    order = np.random.default_rng(seed).permutation(len(speakers))
    return sorted(speakers[i] for i in order[:n_valid])


def _read_utterance(path):
    """The utterance at ``path`` as 16 kHz int16 samples (resampled if the file is not 16 kHz)."""
    source = AudioFile(path).check()
    return to_int16(np.concatenate(list(source.blocks())))


def prepare_timit(root, out_file, valid_frac=0.05, seed=1234, include_sa=True, chunk_frames=CHUNK_FRAMES,
                  skip_bad=False, progress=None):
    """Prepare the TIMIT corpus folder ``root`` as the HDF5 file ``out_file`` (see the module docstring).

    Parameters
    ----------
    root : str or Path
    out_file : str or Path
    valid_frac : float
        Fraction of the training speakers held out for validation.
    seed : int
        Seed of the choice of validation speakers.
    include_sa : bool
        Keep the two SA dialect sentences every speaker reads (as FIVO and the later papers do).
    chunk_frames : int
        Training chunk length in frames (0: train on whole utterances).
    skip_bad : bool
        Leave out utterances that do not decode (a warning names each) instead of failing.
    progress : callable or None
        ``progress(done, total)`` after each utterance.

    Returns
    -------
    dict: ``path``, ``utterances`` and ``hours`` per split, ``speakers`` per split, ``X_mean``,
    ``X_std``, ``skipped``, ``seconds``.
    """
    if not isinstance(chunk_frames, (int, np.integer)) or chunk_frames < 0:
        raise ValueError(f"chunk_frames must be an int >= 0, got {chunk_frames!r}")
    began = time.perf_counter()
    found = find_utterances(root)
    if not include_sa:
        found = OrderedDict((k, p) for k, p in found.items() if not _SA.match(k[3]))
    for part, full in FULL_COUNTS.items():
        n = sum(1 for k in found if k[0] == part)
        if include_sa and n != full:
            log.warning("%s: %d %s utterances; the full corpus has %d", root, n, part, full)
    try:
        valid_speakers = speaker_split(found, valid_frac, seed)
    except ValueError as err:
        raise DataError(root, f"{err}; expected more speakers or a smaller --valid-frac") from None
    held = set(valid_speakers)
    splits = OrderedDict((name, []) for name in ("train", "valid", "test"))
    for key, path in found.items():
        split = "test" if key[0] == "TEST" else "valid" if f"{key[1]}/{key[2]}" in held else "train"
        splits[split].append((key, path))
    moments, skipped = RunningMoments(), []
    total, done = len(found), 0
    counts, hours = {}, {}
    with atomic_h5(out_file, LAYOUT, VERSION) as f:
        for split, items in splits.items():
            waves, names = [], []
            for key, path in items:
                try:
                    wave = _read_utterance(path)
                except DataError as err:
                    if not skip_bad:
                        raise
                    log.warning("skipping %s", err)
                    skipped.append(str(err))
                    wave = None
                if wave is not None:
                    waves.append(wave)
                    names.append("/".join(key))
                    if split == "train":
                        moments.update(wave)
                done += 1
                if progress is not None:
                    progress(done, total)
            if not waves:
                raise DataError(root, f"no readable utterance for the {split} split")
            group = f.create_group(split)
            group.create_dataset("samples", data=np.concatenate(waves), chunks=True, compression="gzip",
                                 compression_opts=1, shuffle=True)
            group.create_dataset("offsets", data=np.cumsum([0] + [len(w) for w in waves]).astype(np.int64))
            group.create_dataset("names", data=np.array(names, dtype=object), dtype=h5py.string_dtype())
            counts[split] = len(waves)
            hours[split] = round(sum(len(w) for w in waves) / TARGET_RATE / 3600, 4)
        x_mean, x_std = float(moments.mean), float(moments.std)
        check_statistics(root, x_mean, x_std)  # before anything is renamed into place
        f.attrs.update(X_mean=x_mean, X_std=x_std, frame_size=FRAME_SIZE, chunk_frames=int(chunk_frames),
                       sample_rate=TARGET_RATE, include_sa=bool(include_sa), seed=int(seed),
                       valid_speakers=np.array(valid_speakers, dtype=object),
                       source_dir=str(Path(root).resolve()))
    seconds = time.perf_counter() - began
    speakers = {split: len({"/".join(k[1:3]) for k, _ in items}) for split, items in splits.items()}
    log.info("wrote %s in %.1f s: %s utterances", out_file, seconds, counts)
    return {"path": str(out_file), "utterances": counts, "speakers": speakers, "hours": hours,
            "X_mean": x_mean, "X_std": x_std, "skipped": skipped, "seconds": seconds}


class TIMIT(RaggedReader):
    """One split of a prepared TIMIT file: whole utterances as normalised 200-sample frames + mask.

    Parameters
    ----------
    name : {'train', 'valid', 'test'}
    path : str or Path
        The file written by :func:`prepare_timit`.
    X_mean, X_std : float or None
        Normalisation; None takes the training statistics stored in the file.
    dtype : str
    chunk_frames : int or None
        Serve chunks of at most this many frames (see :class:`TIMIT_chunks`).
    """

    LAYOUT, VERSION, PRODUCER = LAYOUT, VERSION, "prepare_timit (vrnn-prepare timit)"
    UNIT = "utterances"

    def __init__(self, name="train", path=None, X_mean=None, X_std=None, dtype="float32", chunk_frames=None):
        super().__init__(name=name, path=path, chunk_frames=chunk_frames, dtype=dtype)
        mean, std = self._statistics(X_mean, X_std, shape=())
        self.X_mean, self.X_std = float(mean), float(std)
        self.sample_rate = int(self._file.attrs["sample_rate"])

    def _open_split(self, group):
        self.frame_size = int(self._file.attrs["frame_size"])
        self._samples = group["samples"]
        self._offsets = group["offsets"][()]
        return -(-np.diff(self._offsets) // self.frame_size), self.frame_size

    def _read(self, seq, f0, f1):
        lo = self._offsets[seq] + f0 * self.frame_size
        hi = min(self._offsets[seq] + f1 * self.frame_size, self._offsets[seq + 1])
        frames = np.zeros((f1 - f0) * self.frame_size)
        frames[:hi - lo] = (self._samples[lo:hi] - self.X_mean) / self.X_std
        return frames.reshape(f1 - f0, self.frame_size)

    def names(self, start, end):
        """The utterance names of examples [start, end) (e.g. 'TRAIN/DR1/FCJF0/SA1')."""
        self._check(start, end)
        stored = self._file[self.name]["names"]
        return [stored[int(seq)].decode() if isinstance(stored[int(seq)], bytes) else stored[int(seq)]
                for seq in self._index[start:end, 0]]


class TIMIT_chunks(TIMIT):  # noqa: N801  (named like Blizzard_tbptt)
    """:class:`TIMIT` for training: chunks of the file's ``chunk_frames`` frames (whole utterances
    when it is 0), each starting from a zero state."""

    def __init__(self, name="train", path=None, X_mean=None, X_std=None, dtype="float32"):
        super().__init__(name=name, path=path, X_mean=X_mean, X_std=X_std, dtype=dtype)
        self.chunk_frames = int(self._file.attrs["chunk_frames"])
        self._index = chunk_index(self.n_frames, self.chunk_frames)
