"""A JPEG's marker segments, walked to keep only what displays the picture.

`strip()` copies a JPEG's compressed image data unchanged (no decode, no re-encode, no
generation loss) and leaves out everything else: EXIF and its GPS position, XMP,
Photoshop/IPTC, MPF and its second images, comments, the JFIF thumbnail, and whatever
follows the end-of-image marker. It understands the JPEGs every browser shows (baseline,
extended and progressive Huffman-coded frames) and answers None for anything else, or for
a marker structure it cannot follow; the caller then re-encodes, and Pillow judges the
bytes as for any other image.

Pure bytes in, bytes out: deciding whether a JPEG may be hosted as is, and checking that
it decodes, is items.images' work.
"""

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
DQT, DHT, DRI = 0xDB, 0xC4, 0xDD
APP0, APP2, APP14, COM = 0xE0, 0xE2, 0xEE, 0xFE
# Huffman-coded sequential and progressive frames. The others (lossless, hierarchical,
# arithmetic-coded) are rare and many browsers do not display them: re-encoded instead.
FRAMES = {0xC0, 0xC1, 0xC2}
RESTARTS = range(0xD0, 0xD8)  # RST0..RST7, inside entropy-coded data
TABLES = {DQT, DHT, DRI}
APPS = range(0xE0, 0xF0)

JFIF = b"JFIF\0"
ICC_PROFILE = b"ICC_PROFILE\0"
ADOBE = b"Adobe"
JFIF_HEADER = 14  # identifier, version, units, densities, thumbnail size: no thumbnail
ADOBE_HEADER = 12  # identifier, version, two flag words, colour transform


class Malformed(Exception):
    """The marker structure is not one strip() follows."""


def strip(data: bytes) -> bytes | None:
    """`data` with only the segments needed to display it, or None (see the module)."""
    try:
        return b"".join(_kept_parts(data))
    except Malformed:
        return None


def _kept_parts(data: bytes):
    if data[:2] != b"\xff\xd8":
        raise Malformed("no SOI")
    yield data[:2]
    pos, frame, scans = 2, False, 0
    while True:
        code, pos = _marker(data, pos)
        if code == EOI:
            if not scans:
                raise Malformed("EOI before any scan")
            yield b"\xff\xd9"  # and nothing after it
            return
        if code in RESTARTS or code in (SOI, 0x01, 0x00):
            raise Malformed(f"standalone marker {code:#04x} out of place")
        if pos + 2 > len(data):
            raise Malformed("segment length cut off")
        length = int.from_bytes(data[pos : pos + 2], "big")
        end = pos + length
        if length < 2 or end > len(data):
            raise Malformed("segment runs past the end")
        payload = data[pos + 2 : end]
        if code in FRAMES:
            if frame:
                raise Malformed("a second frame")
            frame = True
            yield _segment(code, payload)
        elif code == SOS:
            if not frame:
                raise Malformed("scan before frame")
            scan_end = _entropy_coded_end(data, end)
            scans += 1
            yield _segment(code, payload)
            yield data[end:scan_end]
            end = scan_end
        elif code in TABLES:
            yield _segment(code, payload)
        elif code == APP0 and payload.startswith(JFIF) and len(payload) >= JFIF_HEADER:
            # The header only: its optional thumbnail is a picture of its own, unchecked.
            yield _segment(code, payload[: JFIF_HEADER - 2] + b"\0\0")
        elif code == APP2 and payload.startswith(ICC_PROFILE) and not frame:
            # Colour: how to show the pixels right. Not personal data, so it stays; only
            # before the frame, where Pillow reads it and so items.images checks it (one
            # after the frame would be hosted unread, whatever it holds).
            yield _segment(code, payload)
        elif code == APP14 and payload.startswith(ADOBE):
            # Colour too: whether the three components are YCbCr or RGB (its transform
            # flag). Without it an RGB-coded JPEG shows in the wrong colours. Its own
            # bytes only: anything after them would be hosted unread.
            yield _segment(code, payload[:ADOBE_HEADER])
        elif code in APPS or code == COM:
            pass  # EXIF (GPS), XMP, IPTC, MPF, maker notes, comments: left out
        else:
            raise Malformed(f"marker {code:#04x} not handled")
        pos = end


def _marker(data: bytes, pos: int) -> tuple[int, int]:
    """The marker code at `pos` (fill bytes 0xFF skipped) and the position after it."""
    if pos >= len(data) or data[pos] != 0xFF:
        raise Malformed("expected a marker")
    while pos < len(data) and data[pos] == 0xFF:
        pos += 1
    if pos >= len(data):
        raise Malformed("cut off in a marker")
    return data[pos], pos + 1


def _entropy_coded_end(data: bytes, pos: int) -> int:
    """Where a scan's entropy-coded data ends: at the first marker that is neither a
    stuffed 0xFF00 nor a restart marker."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            raise Malformed("scan data runs to the end")
        following = data[pos + 1]
        if following == 0x00 or following in RESTARTS:
            pos += 2
        else:
            return pos


def _segment(code: int, payload: bytes) -> bytes:
    return bytes((0xFF, code)) + (len(payload) + 2).to_bytes(2, "big") + payload
