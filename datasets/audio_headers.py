"""What an audio file's own header says its length is, read without libsndfile.

libsndfile quietly shortens a WAV, AIFF or NIST SPHERE file whose data were cut off (its frame
count is what the file still holds), and reads a cut Ogg stream to its last whole page. To find
such files, :func:`declared_frames` reads the length the header declares:

=============  ==================================================================================
format         declared length
=============  ==================================================================================
RIFF WAVE      size of the ``data`` chunk / ``block_align`` of the ``fmt`` chunk
AIFF / AIFC    ``numSampleFrames`` of the ``COMM`` chunk
NIST SPHERE    ``sample_count`` of the text header
=============  ==================================================================================

and :func:`ogg_is_complete` says whether the last Ogg page carries the end-of-stream flag.
Every other format (FLAC, MP3, RF64, W64 ...) gives None: libsndfile's own checks (FLAC's
decoder fails; MP3 has a frame count in its Xing header) are relied on there.

Example
-------
>>> import io, struct
>>> fmt = struct.pack('<HHIIHH', 1, 1, 16000, 32000, 2, 16)
>>> riff = b'RIFF' + struct.pack('<I', 36 + 8) + b'WAVE' + b'fmt ' + struct.pack('<I', 16) + fmt
>>> _riff_frames(io.BytesIO(riff + b'data' + struct.pack('<I', 8) + bytes(8)))
4
"""
import re
import struct
from pathlib import Path

__all__ = ["declared_frames", "ogg_is_complete"]

#: Bytes of a file's end searched for the last Ogg page header (a page is at most 65,307 bytes).
OGG_TAIL = 1 << 17
_SPHERE_FIELD = re.compile(rb"^(\w+) -i (\d+)\s*$", re.MULTILINE)


def declared_frames(path):
    """The frame count the header of ``path`` declares, or None when the format has none here."""
    with open(Path(path), "rb") as f:
        magic = f.read(12)
        f.seek(0)
        try:
            if magic[:4] == b"RIFF" and magic[8:12] == b"WAVE":
                return _riff_frames(f)
            if magic[:4] == b"FORM" and magic[8:12] in (b"AIFF", b"AIFC"):
                return _aiff_frames(f)
            if magic[:8] == b"NIST_1A\n":
                return _sphere_frames(f)
        except (struct.error, ValueError):
            return None  # a header we do not understand: libsndfile decides
    return None


def _chunks(f, start, order):
    """(id, size, data offset) of the chunks of an IFF / RIFF file from ``start``."""
    f.seek(start)
    while True:
        head = f.read(8)
        if len(head) < 8:
            return
        cid, size = head[:4], struct.unpack(order + "I", head[4:])[0]
        offset = f.tell()
        yield cid, size, offset
        f.seek(offset + size + (size & 1))


def _riff_frames(f):
    block_align = None
    for cid, size, offset in _chunks(f, 12, "<"):
        if cid == b"fmt ":
            f.seek(offset)
            block_align = struct.unpack("<HHIIH", f.read(14))[4]
        elif cid == b"data":
            if not block_align or size == 0xFFFFFFFF:
                return None
            return size // block_align
    return None


def _aiff_frames(f):
    for cid, _, offset in _chunks(f, 12, ">"):
        if cid == b"COMM":
            f.seek(offset)
            return struct.unpack(">hI", f.read(6))[1]
    return None


def _sphere_frames(f):
    f.readline()
    size = int(f.readline())
    fields = dict(_SPHERE_FIELD.findall(f.read(max(0, size - 16))))
    if b"sample_count" not in fields:
        return None
    return int(fields[b"sample_count"])


def ogg_is_complete(path):
    """False when ``path`` is an Ogg stream whose last page lacks the end-of-stream flag (the file
    was cut); True otherwise (also for anything that is not Ogg)."""
    with open(Path(path), "rb") as f:
        if f.read(4) != b"OggS":
            return True
        f.seek(0, 2)
        end = f.tell()
        f.seek(max(0, end - OGG_TAIL))
        tail = f.read()
    last = tail.rfind(b"OggS")
    return last >= 0 and len(tail) > last + 5 and bool(tail[last + 5] & 0x04)
