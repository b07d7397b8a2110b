"""Finding and reading speech audio: every format libsndfile decodes (WAV of any width or float,
FLAC, OGG/Vorbis, MP3, NIST SPHERE, AIFF, ...) through :mod:`soundfile`, mixed to mono and
resampled to 16 kHz block by block, and the legacy pickled ``data_*.npy``.

Every sample leaves this module as float64 in **int16 units** (full scale +-32768), so files of
different formats can be joined and written as int16: soundfile decodes every format to float
with full scale +-1.0 (integer PCM of n bits: x / 2**(n-1)), which is multiplied by 32768.
Integer formats cannot leave [-1, 1); float formats can: samples beyond full scale are counted
by :meth:`AudioFile.check` and reported (the Blizzard writer clips them to int16).

Reading is sequential, in blocks of bounded size (never the whole file): libsndfile's MP3 and
OGG decoders seek only approximately, so no seek is used. Resampling uses
scipy.signal.resample_poly (polyphase FIR, Kaiser window) on windows whose borders fall on
multiples of the decimation factor, each read with enough margin for the filter: the joined
blocks equal ``resample_poly`` of the whole file (to float rounding) while only one window is in
memory.

A file whose decoded length differs from its header's frame count (a WAV or SPHERE file cut
short, a truncated FLAC or MP3), or that libsndfile cannot decode, is a :class:`DataError`
naming it.
"""
import logging
import math
from pathlib import Path

import numpy as np

from nips2015_vrnn.datasets.audio_headers import declared_frames, ogg_is_complete
from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.walk import corpus_files

log = logging.getLogger(__name__)

#: Sample rate (Hz) of everything the speech loaders write: the paper's 16 kHz speech.
TARGET_RATE = 16000

#: Output samples produced per resampling block: about 16 s of 16 kHz audio (1 MiB of float64
#: per channel), big enough that per-block overhead is small, small enough to bound memory.
BLOCK_SAMPLES = 1 << 18
#: Frames decoded per call into libsndfile.
DECODE_FRAMES = 1 << 16

#: resample_poly's default filter reaches ``10 * max(up, down)`` samples of the upsampled
#: signal to each side; we read this many extra input samples beyond that as a safety margin.
_FILTER_MARGIN = 2

#: Relative difference allowed between an MP3's decoded length and its header's (an estimate
#: from the bit rate when the file has no Xing / LAME frame count).
MP3_LENGTH_TOLERANCE = 0.01
#: Full scale of soundfile's float output in int16 units.
INT16_SCALE = 32768.0

#: File name endings searched for audio (case-insensitive); libsndfile recognises the format
#: by the file's content, so e.g. TIMIT's NIST SPHERE ``.WAV`` files are read as SPHERE.
AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".sph", ".nist", ".aif",
                  ".aiff", ".aifc", ".au", ".snd", ".w64", ".caf", ".rf64")
#: What the error messages say is expected.
EXPECTED = "an audio file libsndfile decodes (WAV, FLAC, OGG/Vorbis, MP3, NIST SPHERE, AIFF, ...)"


def _soundfile():
    """The soundfile module (imported on first use: importing the project stays cheap)."""
    import soundfile
    return soundfile


def find_audio(src_dir, allow_pickle=False):
    """The audio files under ``src_dir`` (searched recursively), sorted by path.

    Parameters
    ----------
    src_dir : str or Path
        Folder holding audio files (any depth, any name ending in :data:`AUDIO_SUFFIXES`);
        with ``allow_pickle`` also legacy ``data_*.npy`` files (pickled lists of 16 kHz int16
        waveforms).
    allow_pickle : bool
        Opt in to the legacy ``.npy`` files; loading them runs pickle, so only for trusted files.

    Returns
    -------
    list of Path

    Raises
    ------
    DataError
        The folder is missing, or holds no usable audio (the message says what it found
        instead, e.g. ``.npy`` files needing ``allow_pickle``).
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise DataError(src, "no such folder; expected a folder of audio files")
    found = corpus_files(src)  # symbolic links to folders followed, and said
    files = [p for p in found if p.suffix.lower() in AUDIO_SUFFIXES]
    legacy = [p for p in found if p.name.startswith("data_") and p.suffix == ".npy"]
    if allow_pickle:
        files = sorted(files + legacy)
    if files:
        return files
    if legacy:
        raise DataError(src, f"holds only legacy pickled files ({legacy[0].name}, ...); "
                             "pass allow_pickle=True (--allow-pickle) to read them")
    raise DataError(src, "no audio found; expected files ending in "
                         f"{', '.join(AUDIO_SUFFIXES)} (searched recursively)")


def resample_factors(rate):
    """(up, down) for resample_poly from ``rate`` Hz to 16 kHz, in lowest terms."""
    g = math.gcd(int(rate), TARGET_RATE)
    return TARGET_RATE // g, int(rate) // g


def resampled_length(n_in, rate):
    """Length of ``resample_poly`` output: ceil(n_in * up / down) samples at 16 kHz."""
    up, down = resample_factors(rate)
    return -(-n_in * up // down)


class AudioFile:
    """One source file opened for block reading: any libsndfile format, or a legacy ``.npy``.

    Opening reads the header only. :meth:`check` decodes the whole file once (in blocks) to
    verify it; :meth:`blocks` yields it mixed to mono and resampled to 16 kHz.

    Parameters
    ----------
    path : str or Path

    Attributes
    ----------
    rate : int
        The file's sample rate (Hz); legacy ``.npy`` files are 16 kHz.
    n_in : int
        Frames in the file (a frame: one sample per channel), from the header until
        :meth:`check` counted them.
    n_out : int
        Samples after the mix-down and resampling to 16 kHz.
    format : str
        libsndfile's format and subtype ('WAV PCM_16', 'MP3 MPEG_LAYER_III', ...); 'NPY'.
    beyond_full_scale : float or None
        After :meth:`check`: the fraction of samples beyond [-1, 1] full scale.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.beyond_full_scale = None
        if self.path.suffix.lower() == ".npy":
            self._open_legacy()
        else:
            self._open_sound()
        if self.n_in == 0:
            raise DataError(self.path, "holds no samples; expected a non-empty audio file")
        self.n_out = resampled_length(self.n_in, self.rate)

    def _open_sound(self):
        sf = _soundfile()
        try:
            info = sf.info(str(self.path))
        except Exception as exc:  # LibsndfileError / RuntimeError: not a format libsndfile reads
            raise DataError(self.path, f"cannot be decoded ({_reason(exc)}); expected "
                                       f"{EXPECTED}") from exc
        if info.samplerate <= 0:
            raise DataError(self.path, f"declares a sample rate of {info.samplerate} Hz; expected > 0")
        self.rate, self.channels = int(info.samplerate), int(info.channels)
        self.n_in = max(0, int(info.frames))
        self.format = f"{info.format} {info.subtype}"
        self._legacy = None

    def _open_legacy(self):
        try:
            waves = np.load(self.path, allow_pickle=True)
            waves = [np.asarray(w).reshape(-1) for w in waves]
        except Exception as exc:
            raise DataError(self.path, f"cannot be read ({exc}); expected a legacy Blizzard "
                                       "file: a pickled list of int16 waveforms") from exc
        self.rate, self.channels, self.format = TARGET_RATE, 1, "NPY"
        self._legacy = np.concatenate(waves).astype(np.float64) if waves else np.zeros(0)
        self.n_in = len(self._legacy)

    # ------------------------------------------------------------------ decoding
    def _decoded(self, frames=DECODE_FRAMES):
        """Consecutive mono float64 chunks (int16 units) of the whole file, as decoded."""
        if self._legacy is not None:
            for start in range(0, len(self._legacy), frames):
                yield self._legacy[start:start + frames]
            return
        sf = _soundfile()
        done = 0
        try:
            with sf.SoundFile(str(self.path)) as f:
                while True:
                    block = f.read(frames, dtype="float64", always_2d=True)
                    if not len(block):
                        return
                    done += len(block)
                    yield block.mean(axis=1) * INT16_SCALE
        except DataError:
            raise
        except Exception as exc:  # a decoder error part-way through the file
            raise DataError(self.path, f"cannot be decoded after {done} frames ({_reason(exc)}); "
                                       f"the file is damaged or truncated, expected {EXPECTED}") from exc

    def check(self):
        """Decode the whole file once (bounded memory) and verify it; returns ``self``.

        Sets :attr:`n_in` / :attr:`n_out` to the decoded length and :attr:`beyond_full_scale`.

        Raises
        ------
        DataError
            The file does not decode, decodes to another length than its header says (cut
            short, damaged), holds no samples, or holds a NaN / infinite sample.
        """
        count, beyond = 0, 0
        for chunk in self._decoded():
            bad = ~np.isfinite(chunk)
            if bad.any():
                raise DataError(self.path, f"sample {count + int(np.flatnonzero(bad)[0])} is NaN or "
                                           "infinite; expected finite samples")
            beyond += int(np.count_nonzero(np.abs(chunk) > INT16_SCALE))
            count += len(chunk)
        if self._legacy is None:
            self._check_length(count)
        if count == 0:
            raise DataError(self.path, "holds no samples; expected a non-empty audio file")
        self.n_in, self.n_out = count, resampled_length(count, self.rate)
        self.beyond_full_scale = beyond / count
        return self

    def _check_length(self, count):
        """Raise DataError when ``count`` decoded frames fall short of what the file declares."""
        declared = declared_frames(self.path)
        if declared is None:
            declared = self.n_in
        # MP3 headers without a Xing / LAME frame count give an estimate from the bit rate.
        tolerance = int(MP3_LENGTH_TOLERANCE * declared) if self.format.startswith("MP3") else 0
        if abs(count - declared) > tolerance:
            raise DataError(self.path, f"decodes to {count} frames but its header says {declared}; "
                                       "the file is truncated or damaged")
        if not ogg_is_complete(self.path):
            raise DataError(self.path, "ends without the Ogg end-of-stream page; the file is "
                                       "truncated")

    def _read(self, start, stop):
        """Frames [start, stop) mixed to mono, float64 in int16 units; checked finite.

        Calls must come with non-decreasing ``start`` and ``stop``: the file is decoded
        sequentially and only the frames from ``start`` on are kept.
        """
        window = self._window
        while window["stop"] < stop:
            try:
                chunk = next(window["chunks"])
            except StopIteration:
                raise DataError(self.path, f"decodes to {window['stop']} frames but its header says "
                                           f"{self.n_in}; the file is truncated or damaged") from None
            window["buf"] = np.concatenate([window["buf"][start - window["start"]:], chunk])
            window["start"], window["stop"] = start, window["stop"] + len(chunk)
        block = window["buf"][start - window["start"]:stop - window["start"]]
        if not np.all(np.isfinite(block)):
            bad = start + int(np.flatnonzero(~np.isfinite(block))[0])
            raise DataError(self.path, f"sample {bad} is NaN or infinite; expected finite samples")
        return block

    def blocks(self, block_samples=BLOCK_SAMPLES):
        """Yield the file as consecutive 16 kHz mono float64 blocks (int16 units).

        Concatenated, the blocks equal ``resample_poly(mono, up, down)`` of the whole file.
        """
        self._window = {"chunks": self._decoded(), "buf": np.zeros(0), "start": 0, "stop": 0}
        try:
            yield from self._blocks(block_samples)
        finally:
            self._window["chunks"].close()
            self._window = None

    def _blocks(self, block_samples):
        import scipy.signal  # here, not at import: it costs every command a second to load

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


def _reason(exc):
    """The first line of an exception's message (libsndfile's are one line)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_sources(files, skip_bad=False):
    """Open and decode each file once (:meth:`AudioFile.check`): exact lengths, bad files.

    Parameters
    ----------
    files : list of Path
    skip_bad : bool
        False: the first bad file raises its :class:`DataError`. True: it is logged as a
        warning naming it and left out.

    Returns
    -------
    dict: ``files`` (the good ones), ``lengths`` (their 16 kHz lengths, int64), ``skipped``
    (list of 'path: problem'), ``beyond_full_scale`` (list of (path, fraction) of the files
    with samples beyond full scale; each is also logged as a warning).
    """
    good, lengths, skipped, beyond = [], [], [], []
    for path in files:
        try:
            source = AudioFile(path).check()
        except DataError as err:
            if not skip_bad:
                raise
            log.warning("skipping %s", err)
            skipped.append(str(err))
            continue
        if source.beyond_full_scale:
            log.warning("%s: %.4g%% of the samples lie beyond full scale [-1, 1] (a float file); "
                        "they are clipped to int16 when written", path, 100 * source.beyond_full_scale)
            beyond.append((str(path), source.beyond_full_scale))
        good.append(path)
        lengths.append(source.n_out)
        log.debug("%s (%s, %d Hz): %d samples at 16 kHz", path, source.format, source.rate,
                  source.n_out)
    return {"files": good, "lengths": np.asarray(lengths, dtype=np.int64), "skipped": skipped,
            "beyond_full_scale": beyond}


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
