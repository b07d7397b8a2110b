"""Finding and reading speech audio for Blizzard: WAV at any rate / width / channel count,
mixed to mono and resampled to 16 kHz block by block, and the legacy pickled ``data_*.npy``.

Every sample leaves this module as float64 in **int16 units** (full scale +-32768), so WAVs of
different widths can be joined and written as int16:

==========  ==============================
WAV dtype   conversion to int16 units
==========  ==============================
uint8       (x - 128) * 256
int16       x
int32       x / 65536   (24-bit WAVs are read by scipy as left-aligned int32)
float32/64  x * 32768   (full scale +-1.0)
==========  ==============================

Resampling uses scipy.signal.resample_poly (polyphase FIR, Kaiser window) in blocks whose
borders fall on multiples of the decimation factor, each block read with enough margin
for the filter: the joined blocks equal ``resample_poly`` of the whole file (to float
rounding) while only one block is in memory. WAV data is memory-mapped when scipy can.
"""
import logging
import math
from pathlib import Path

import numpy as np
import scipy.io.wavfile
import scipy.signal

from nips2015_vrnn.datasets.errors import DataError

log = logging.getLogger(__name__)

#: Sample rate (Hz) of everything the Blizzard loader writes: the paper's 16 kHz speech.
TARGET_RATE = 16000

#: Output samples produced per resampling block: about 16 s of 16 kHz audio (1 MiB of float64
#: per channel), big enough that per-block overhead is small, small enough to bound memory.
BLOCK_SAMPLES = 1 << 18

#: resample_poly's default filter reaches ``10 * max(up, down)`` samples of the upsampled
#: signal to each side; we read this many extra input samples beyond that as a safety margin.
_FILTER_MARGIN = 2

#: The conversion of each WAV sample dtype to int16 units: (offset subtracted, scale).
_TO_INT16_UNITS = {
    np.dtype(np.uint8): (128.0, 256.0),
    np.dtype(np.int16): (0.0, 1.0),
    np.dtype(np.int32): (0.0, 1.0 / 65536.0),
    np.dtype(np.float32): (0.0, 32768.0),
    np.dtype(np.float64): (0.0, 32768.0),
}

#: One command, given in error messages, that converts a folder of MP3s into 16 kHz mono WAVs.
FFMPEG_HINT = ("find {src} -name '*.mp3' -exec sh -c 'ffmpeg -loglevel error -n "
               "-i \"$1\" -ac 1 -ar 16000 \"${{1%.mp3}}.wav\"' _ {{}} \\;")


def find_audio(src_dir, allow_pickle=False):
    """The audio files under ``src_dir`` (searched recursively), sorted by path.

    Parameters
    ----------
    src_dir : str or Path
        Folder holding ``*.wav`` files (any depth); with ``allow_pickle`` also legacy
        ``data_*.npy`` files (pickled lists of 16 kHz int16 waveforms).
    allow_pickle : bool
        Opt in to the legacy ``.npy`` files; loading them runs pickle, so only for trusted files.

    Returns
    -------
    list of Path

    Raises
    ------
    DataError
        The folder is missing, or holds no usable audio (the message says what it found
        instead: MP3s with the ffmpeg command converting them, or ``.npy`` files needing
        ``allow_pickle``).
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise DataError(src, "no such folder; expected a folder of WAV files")
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() == ".wav")
    legacy = sorted(p for p in src.rglob("data_*.npy") if p.is_file())
    if allow_pickle:
        files = sorted(files + legacy)
    if files:
        return files
    if legacy:
        raise DataError(src, f"holds only legacy pickled files ({legacy[0].name}, ...); "
                             "pass allow_pickle=True (--allow-pickle) to read them")
    if any(p.suffix.lower() == ".mp3" for p in src.rglob("*")):
        raise DataError(src, "holds MP3 files but no WAV; convert them first with: "
                             + FFMPEG_HINT.format(src=src))
    raise DataError(src, "no audio found; expected *.wav files (searched recursively)")


def resample_factors(rate):
    """(up, down) for resample_poly from ``rate`` Hz to 16 kHz, in lowest terms."""
    g = math.gcd(int(rate), TARGET_RATE)
    return TARGET_RATE // g, int(rate) // g


def resampled_length(n_in, rate):
    """Length of ``resample_poly`` output: ceil(n_in * up / down) samples at 16 kHz."""
    up, down = resample_factors(rate)
    return -(-n_in * up // down)


class AudioFile:
    """One source file opened for block reading: a WAV, or a legacy pickled ``.npy`` list.

    Parameters
    ----------
    path : str or Path

    Attributes
    ----------
    rate : int
        The file's sample rate (Hz); legacy ``.npy`` files are 16 kHz.
    n_in : int
        Frames in the file (a frame: one sample per channel).
    n_out : int
        Samples after the mix-down and resampling to 16 kHz.
    """

    def __init__(self, path):
        self.path = Path(path)
        if self.path.suffix.lower() == ".npy":
            self._open_legacy()
        else:
            self._open_wav()
        if self.n_in == 0:
            raise DataError(self.path, "holds no samples; expected a non-empty audio file")
        self.n_out = resampled_length(self.n_in, self.rate)

    def _open_wav(self):
        try:
            try:
                rate, data = scipy.io.wavfile.read(self.path, mmap=True)
            except ValueError:  # formats scipy cannot memory-map (e.g. 24-bit) are read whole
                rate, data = scipy.io.wavfile.read(self.path)
        except Exception as exc:  # scipy raises ValueError, EOFError, struct.error, ...
            raise DataError(self.path, f"cannot be read as WAV ({exc}); expected a PCM "
                                       "(8/16/24/32-bit) or float WAV file") from exc
        if data.dtype not in _TO_INT16_UNITS:
            raise DataError(self.path, f"has samples of type {data.dtype}; expected uint8, "
                                       "int16, int32, float32 or float64")
        if rate <= 0:
            raise DataError(self.path, f"declares a sample rate of {rate} Hz; expected > 0")
        self.rate = int(rate)
        self._data = data if data.ndim == 2 else data[:, None]
        self.n_in = self._data.shape[0]

    def _open_legacy(self):
        try:
            waves = np.load(self.path, allow_pickle=True)
            waves = [np.asarray(w).reshape(-1) for w in waves]
        except Exception as exc:
            raise DataError(self.path, f"cannot be read ({exc}); expected a legacy Blizzard "
                                       "file: a pickled list of int16 waveforms") from exc
        self.rate = TARGET_RATE
        self._data = (np.concatenate(waves) if waves else np.zeros(0, np.int16))[:, None]
        self.n_in = self._data.shape[0]

    def _read(self, start, stop):
        """Frames [start, stop) mixed to mono, float64 in int16 units; checked finite."""
        offset, scale = _TO_INT16_UNITS.get(self._data.dtype, (0.0, 1.0))
        block = np.asarray(self._data[start:stop], dtype=np.float64).mean(axis=1)
        if offset or scale != 1.0:
            block = (block - offset) * scale
        if not np.all(np.isfinite(block)):
            bad = start + int(np.flatnonzero(~np.isfinite(block))[0])
            raise DataError(self.path, f"sample {bad} is NaN or infinite; expected finite samples")
        return block

    def blocks(self, block_samples=BLOCK_SAMPLES):
        """Yield the file as consecutive 16 kHz mono float64 blocks (int16 units).

        Concatenated, the blocks equal ``resample_poly(mono, up, down)`` of the whole file.
        """
        up, down = resample_factors(self.rate)
        if up == down:
            for start in range(0, self.n_in, block_samples):
                yield self._read(start, min(start + block_samples, self.n_in))
            return
        reach = 10 * max(up, down) // up + _FILTER_MARGIN
        pad = down * -(-reach // down)
        step = down * max(1, block_samples * down // up // down)
        for start in range(0, self.n_in, step):
            stop = min(start + step, self.n_in)
            lo, hi = max(0, start - pad), min(self.n_in, stop + pad)
            y = scipy.signal.resample_poly(self._read(lo, hi), up, down)
            first = start * up // down - lo * up // down
            yield y[first:first + resampled_length(stop, self.rate) - start * up // down]


def to_int16(x):
    """Round float samples in int16 units to int16, clipping to [-32768, 32767]."""
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def frames_to_waveforms(frames, X_mean, X_std):
    """Normalised frames (T, B, F) -> int16 waveforms (B, T*F), ready for a WAV file.

    Each sample is denormalised (x * X_std + X_mean, in float64) and rounded / clipped by
    :func:`to_int16`; frame t of sequence b becomes samples [t*F, (t+1)*F) of waveform b.

    Examples
    --------
    >>> frames_to_waveforms(np.array([[[0.0, 1.0]], [[-1.0, 0.5]]]), 10.0, 100.0).tolist()
    [[10, 110, -90, 60]]
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 3:
        raise ValueError(f"frames must have shape (T, B, F), got {frames.shape}")
    samples = frames * float(X_std) + float(X_mean)
    return to_int16(samples.transpose(1, 0, 2).reshape(frames.shape[1], -1))
