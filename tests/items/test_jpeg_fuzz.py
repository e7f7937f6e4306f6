"""The image step fed what a partner's image host could send: JPEGs mutated by hypothesis
(cut off, corrupted, segments too long, too short or oversized, repeated, out of order,
bytes after the end) and a corpus of files built as cameras and phones write them.

Whatever the bytes, items.jpeg answers with a JPEG that holds only what displays it, or
None; the image step answers with a hosted image or a clean refusal (images.ImageError).
Nothing hosted carries EXIF, GPS, XMP, IPTC, MPF or a comment."""

import io
import random
from dataclasses import dataclass

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFilter, ImageOps

from items import images, jpeg

SOI, EOI, SOS, DQT, DHT, DRI, COM = 0xD8, 0xD9, 0xDA, 0xDB, 0xC4, 0xDD, 0xFE
APP0, APP1, APP2, APP13, APP14 = 0xE0, 0xE1, 0xE2, 0xED, 0xEE
RESTARTS = range(0xD0, 0xD8)
# What a hosted JPEG may hold besides the three application segments that say how to
# show its pixels (JFIF, ICC profile, Adobe): frame (baseline, extended, progressive),
# tables and scans.
FRAMES = {0xC0, 0xC1, 0xC2}
DISPLAY_MARKERS = {SOI, EOI, SOS, DQT, DHT, DRI, *FRAMES}

# Metadata planted in the corpus, each a string no hosted byte may contain.
MAKER = "PhoneMaker"
GPS_DATUM = "RHEO-PLANTED-GPS 57.7089N 11.9746E"  # GPSMapDatum, inside the GPS IFD
SERIAL = b"BodySerialNumber 0451123"  # in the XMP
EXTENDED_XMP = b"RHEO-EXTENDED-XMP face regions"
BYLINE = b"Olsson Bildelar AB, Kungalv"  # IPTC By-line, in Photoshop's APP13
COMMENT = b"Dismantler Olsson, camera 2"
JFIF_THUMBNAIL = b"RHEO-JFIF-THUMBNAIL-"  # the raw RGB of a JFIF thumbnail
EXIF_THUMBNAIL = b"RHEO-EXIF-THUMBNAIL"  # a comment inside the JPEG thumbnail in EXIF
# Identifiers of the metadata segments themselves.
IDENTIFIERS = (
    b"Exif\0\0",
    b"http://ns.adobe.com/xap",
    b"http://ns.adobe.com/xmp/extension",
    b"Photoshop 3.0",
    b"8BIM",
    b"MPF\0",
    b"JFXX",
)
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def chunks(data: bytes) -> list[tuple[int | None, bytes]]:
    """A well-formed JPEG cut into (marker, bytes): SOI, each segment with its marker and
    length, each scan's entropy-coded data (marker None), EOI, and whatever follows EOI
    (None). Written apart from items.jpeg on purpose: a check must not share the code it
    checks."""
    assert data[:2] == b"\xff\xd8", "no SOI"
    found, pos = [(SOI, data[:2])], 2
    while True:
        assert data[pos] == 0xFF, f"no marker at {pos}"
        marker = data[pos + 1]
        if marker == EOI:
            found.append((EOI, data[pos : pos + 2]))
            if pos + 2 < len(data):
                found.append((None, data[pos + 2 :]))
            return found
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        assert end <= len(data), f"segment {marker:#04x} at {pos} runs past the end"
        found.append((marker, data[pos:end]))
        pos = end
        if marker == SOS:
            # Entropy-coded data runs to the first 0xFF that is not 0xFF00 (a stuffed
            # byte) nor a restart marker.
            start = pos
            while data[pos] != 0xFF or data[pos + 1] == 0x00 or data[pos + 1] in RESTARTS:
                pos += 1
            found.append((None, data[start:pos]))


def assert_only_what_displays(data: bytes) -> None:
    """`data` is SOI, segments that display the picture, scans and EOI, and nothing else:
    the colour segments carry no bytes beyond their own."""
    parts = chunks(data)
    assert parts[-1][0] == EOI, "bytes after EOI"
    frame = False
    for marker, part in parts:
        payload = part[4:]
        frame = frame or marker in FRAMES
        if marker is None or marker in DISPLAY_MARKERS:
            continue
        if marker == APP0:  # the JFIF header, without a thumbnail
            assert payload.startswith(b"JFIF\0") and len(payload) == 14, payload[:16]
            assert payload[12:14] == b"\0\0", "a JFIF thumbnail"
        elif marker == APP2:
            assert payload.startswith(b"ICC_PROFILE\0"), payload[:16]
            # Where Pillow reads a profile, so where items.images checks it.
            assert not frame, "an ICC profile after the frame header"
        elif marker == APP14:
            assert payload.startswith(b"Adobe") and len(payload) <= 12, payload[:16]
        else:
            raise AssertionError(f"segment {marker:#04x} hosted: {payload[:32]!r}")


def segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def after_soi(data: bytes, *segments: bytes) -> bytes:
    return data[:2] + b"".join(segments) + data[2:]


def without_first(data: bytes, marker: int) -> bytes:
    """`data` less its first segment of `marker` (one that Pillow wrote)."""
    pos = next(i for i, (m, _) in enumerate(chunks(data)) if m == marker)
    parts = [part for i, (_, part) in enumerate(chunks(data)) if i != pos]
    return b"".join(parts)


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.tobytes()


# -- Files as cameras and phones write them ------------------------------------------------


def picture(size: tuple[int, int], mode: str = "RGB", seed: int = 1) -> Image.Image:
    """A photo-like picture, the same on every run: smoothed noise over a gradient, so that
    a re-encoding changes its pixels and its JPEG is of a photo's size per pixel."""
    noise = Image.frombytes("L", size, random.Random(seed).randbytes(size[0] * size[1]))
    noise = noise.filter(ImageFilter.GaussianBlur(1))
    ramp = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (noise, ramp, ImageOps.invert(noise)))
    return image if mode == "RGB" else image.convert(mode)


def camera_exif(orientation: int = 1) -> bytes:
    """EXIF as a phone writes it: maker, orientation, a GPS IFD, and a JPEG thumbnail after
    the IFDs (not linked from IFD1: nothing here reads it, but a parser must step over an
    SOI..EOI inside a segment)."""
    exif = Image.Exif()
    exif[0x010F] = MAKER
    exif[0x0112] = orientation
    exif[0x8825] = {
        1: "N",
        2: (57.0, 42.0, 31.93),
        3: "E",
        4: (11.0, 58.0, 28.56),
        0x12: GPS_DATUM,
    }
    thumbnail = io.BytesIO()
    picture((32, 24), seed=9).save(thumbnail, "JPEG", comment=EXIF_THUMBNAIL)
    return b"Exif\0\0" + exif.tobytes()[6:] + thumbnail.getvalue()


def xmp() -> bytes:
    return (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:aux="http://ns.adobe.com/exif/1.0/aux/" aux:SerialNumber="'
        + SERIAL
        + b'"/></rdf:RDF></x:xmpmeta>'
    )


def extended_xmp() -> bytes:
    """APP1 extended XMP: GUID of the full packet, its length, this part's offset."""
    packet = EXTENDED_XMP + b" " * 200
    header = b"http://ns.adobe.com/xmp/extension/\0" + b"0123456789ABCDEF0123456789ABCDEF"
    return segment(APP1, header + len(packet).to_bytes(4, "big") + bytes(4) + packet)


def photoshop_iptc() -> bytes:
    """APP13 as Photoshop writes it: an image resource block 0x0404 holding IPTC-IIM."""
    iptc = b"".join(
        b"\x1c\x02" + bytes((tag,)) + len(text).to_bytes(2, "big") + text
        for tag, text in ((80, BYLINE), (90, b"Kungalv"), (120, COMMENT))
    )
    iptc += b"\0" * (len(iptc) % 2)  # resource data padded to even length
    resource = b"8BIM\x04\x04\0\0" + len(iptc).to_bytes(4, "big") + iptc
    return segment(APP13, b"Photoshop 3.0\0" + resource)


def adobe(transform: int) -> bytes:
    """APP14 Adobe: version 100, no flags, the colour transform (1: YCbCr)."""
    return segment(APP14, b"Adobe\0\x64\0\0\0\0" + bytes((transform,)))


def jfif_with_thumbnail() -> bytes:
    """APP0 JFIF with a 16x12 RGB thumbnail, as old cameras and scanners wrote it."""
    rgb = (JFIF_THUMBNAIL * 30)[: 16 * 12 * 3]
    return segment(APP0, b"JFIF\0\x01\x02\x01\0\x48\0\x48" + bytes((16, 12)) + rgb)


def jfxx_thumbnail() -> bytes:
    """APP0 JFXX: the JFIF extension whose thumbnail is a JPEG (code 0x10)."""
    thumbnail = io.BytesIO()
    picture((24, 16), seed=7).save(thumbnail, "JPEG")
    return segment(APP0, b"JFXX\0\x10" + thumbnail.getvalue())


def phone_photo(size, orientation=1, **save) -> bytes:
    """What a phone or a camera writes: EXIF with GPS, XMP and extended XMP, IPTC, a
    comment; `save` goes to Pillow (progressive, subsampling, restart markers...)."""
    out = io.BytesIO()
    picture(size).save(
        out, "JPEG", exif=camera_exif(orientation), xmp=xmp(), comment=COMMENT, **save
    )
    return after_soi(out.getvalue(), extended_xmp(), photoshop_iptc())


def photoshop_export(size) -> bytes:
    """Photoshop's "Save as": Adobe APP14 (YCbCr), IRB with IPTC, XMP, no JFIF header."""
    out = io.BytesIO()
    picture(size).save(out, "JPEG", xmp=xmp(), icc_profile=SRGB)
    return after_soi(without_first(out.getvalue(), APP0), adobe(1), photoshop_iptc())


def scanner_grey(size) -> bytes:
    """A greyscale JPEG with restart intervals, a JFIF thumbnail and a JFXX thumbnail."""
    out = io.BytesIO()
    picture(size, "L").save(out, "JPEG", comment=COMMENT, restart_marker_rows=1)
    return after_soi(without_first(out.getvalue(), APP0), jfif_with_thumbnail(), jfxx_thumbnail())


def print_cmyk(size) -> bytes:
    """A CMYK JPEG from a print workflow (Pillow writes its Adobe segment), with IPTC."""
    out = io.BytesIO()
    picture(size, "CMYK").save(out, "JPEG", xmp=xmp(), comment=COMMENT)
    return after_soi(out.getvalue(), photoshop_iptc())


def phone_mpo(size) -> bytes:
    """A phone's multi-picture file: APP2 MPF in the first image, whose EOI is followed by
    a second, smaller image (Pillow writes MPO as phones do)."""
    out = io.BytesIO()
    picture(size).save(
        out,
        "MPO",
        save_all=True,
        append_images=[picture((size[0] // 4, size[1] // 4), seed=2)],
        exif=camera_exif(),
        comment=COMMENT,
    )
    return out.getvalue()


@dataclass(frozen=True)
class CameraFile:
    name: str
    data: bytes
    planted: tuple[bytes, ...]  # metadata in the file: none may be hosted
    size: tuple[int, int]  # of the hosted picture
    kept: bool  # hosted as is (its own pixels) rather than re-encoded


PHONE = (MAKER.encode(), GPS_DATUM.encode(), SERIAL, EXTENDED_XMP, BYLINE, COMMENT)
CORPUS = [
    CameraFile("phone-420-icc", phone_photo((640, 480), icc_profile=SRGB), PHONE, (640, 480), True),
    CameraFile(
        "camera-progressive",
        phone_photo((800, 600), progressive=True, icc_profile=SRGB),
        PHONE,
        (800, 600),
        True,
    ),
    CameraFile(
        "camera-444-restarts",
        phone_photo((640, 480), subsampling=0, restart_marker_blocks=4),
        PHONE,
        (640, 480),
        True,
    ),
    CameraFile("phone-rotated", phone_photo((640, 480), orientation=6), PHONE, (480, 640), False),
    CameraFile(
        "camera-oversized", phone_photo((2400, 1800), quality=90), PHONE, (2048, 1536), False
    ),
    CameraFile("photoshop-adobe", photoshop_export((640, 480)), (SERIAL, BYLINE), (640, 480), True),
    CameraFile(
        "scanner-grey-thumbnails",
        scanner_grey((640, 480)),
        (COMMENT, JFIF_THUMBNAIL),
        (640, 480),
        True,
    ),
    CameraFile("print-cmyk", print_cmyk((640, 480)), (SERIAL, BYLINE, COMMENT), (640, 480), False),
    CameraFile(
        "phone-mpo",
        phone_mpo((640, 480)),
        (MAKER.encode(), GPS_DATUM.encode(), COMMENT),
        (640, 480),
        False,
    ),
]


@pytest.mark.parametrize("camera_file", CORPUS, ids=[c.name for c in CORPUS])
def test_no_metadata_survives_the_image_step(camera_file):
    for planted in camera_file.planted:
        assert planted in camera_file.data  # or the test would prove nothing
    processed = images.process(camera_file.data)
    for hosted in (processed.full, processed.thumbnail):
        assert_only_what_displays(hosted)
        for tell_tale in camera_file.planted + IDENTIFIERS:
            assert tell_tale not in hosted
    with Image.open(io.BytesIO(processed.full)) as full:
        assert full.size == (processed.width, processed.height) == camera_file.size
        assert not full.getexif()
        # The colour profile is kept (the corpus's, where it has one, is sRGB).
        assert full.info.get("icc_profile") == (SRGB if SRGB in camera_file.data else None)
    with Image.open(io.BytesIO(processed.thumbnail)) as thumbnail:
        assert max(thumbnail.size) == min(max(camera_file.size), images.THUMBNAIL_LONG_SIDE)
    if camera_file.kept:
        assert pixels(processed.full) == pixels(camera_file.data)


@pytest.mark.parametrize("camera_file", CORPUS, ids=[c.name for c in CORPUS])
def test_strip_leaves_no_metadata_in_camera_files(camera_file):
    kept = jpeg.strip(camera_file.data)
    assert kept is not None
    assert_only_what_displays(kept)
    for tell_tale in camera_file.planted + IDENTIFIERS:
        assert tell_tale not in kept
    assert pixels(kept) == pixels(camera_file.data)  # an MPO's: its first picture


def test_the_adobe_segment_is_kept_and_the_profile_reaches_the_thumbnail():
    processed = images.process(photoshop_export((640, 480)))
    with Image.open(io.BytesIO(processed.full)) as full:
        assert full.info["icc_profile"] == SRGB
        assert full.info["adobe_transform"] == 1
    with Image.open(io.BytesIO(processed.thumbnail)) as thumbnail:
        assert thumbnail.info["icc_profile"] == SRGB


# -- Mutations -----------------------------------------------------------------------------

# Small versions of the corpus: each example decodes in about a millisecond.
SEEDS = [
    phone_photo((160, 120), icc_profile=SRGB),
    phone_photo((160, 120), progressive=True),
    phone_photo((160, 120), subsampling=0, restart_marker_blocks=2),
    photoshop_export((160, 120)),
    scanner_grey((160, 120)),
    print_cmyk((96, 64)),
    phone_mpo((160, 120)),
]
# Where a mutation happens: an index or an offset, taken modulo the size at hand.
WHERE = st.integers(0, 1 << 16)
# Inserted segments: application segments under their own identifiers (the colour ones
# included), or any marker with any of those identifiers.
KNOWN_SEGMENTS = [
    (APP0, b"JFIF\0\x01\x02\x01\0\x48\0\x48\x10\x0c"),
    (APP0, b"JFXX\0\x10"),
    (APP1, b"Exif\0\0MM\0*"),
    (APP1, b"http://ns.adobe.com/xap/1.0/\0"),
    (APP1, b"http://ns.adobe.com/xmp/extension/\0"),
    (APP2, b"ICC_PROFILE\0\x01\x01"),
    (APP2, b"MPF\0MM\0*"),
    (APP13, b"Photoshop 3.0\08BIM"),
    (APP14, b"Adobe\0\x64\0\0\0\0\x01"),
    (COM, b""),
]
MARKERS = st.one_of(
    st.sampled_from([APP0, APP1, APP2, APP13, APP14, COM, DQT, DHT, DRI, SOS, 0xC0, 0xC2]),
    st.integers(0, 0xFF),
)
INSERTED = st.one_of(
    st.sampled_from(KNOWN_SEGMENTS),
    st.tuples(MARKERS, st.sampled_from([b"", *(prefix for _, prefix in KNOWN_SEGMENTS)])),
)
# Segment payload sizes: small, at the 64 KiB limit, or anything between.
SIZES = st.one_of(st.integers(0, 32), st.integers(65500, 65533), st.integers(0, 65533))
LENGTHS = st.one_of(
    st.sampled_from([0, 1, 2, 0xFFFF]).map(lambda n: ("set", n)),
    st.integers(-300, 300).map(lambda d: ("add", d)),
)
TRAILERS = st.one_of(
    st.sampled_from([b"<html><script>alert(1)</script></html>", SEEDS[0], b"\xff" * 40]),
    st.binary(max_size=64),
)
STRUCTURAL = st.one_of(
    st.tuples(st.just("length"), WHERE, LENGTHS),
    st.tuples(st.just("duplicate"), WHERE),
    st.tuples(st.just("drop"), WHERE),
    st.tuples(st.just("swap"), WHERE, WHERE),
    st.tuples(st.just("insert"), WHERE, INSERTED, SIZES),
    st.tuples(st.just("fill"), WHERE, st.integers(1, 64)),
    st.tuples(st.just("standalone"), WHERE, st.sampled_from([*RESTARTS, SOI, EOI, 0x00, 0x01])),
    st.tuples(st.just("in_scan"), WHERE, WHERE, MARKERS),
    st.tuples(st.just("trailer"), TRAILERS),
    st.tuples(st.just("no_eoi")),
)
BYTEWISE = st.one_of(
    st.tuples(st.just("cut"), WHERE),
    st.tuples(st.just("set_byte"), WHERE, st.integers(0, 0xFF)),
)


def mutate(seed: bytes, structural: list[tuple], bytewise: list[tuple]) -> bytes:
    """`seed` changed by each operation in turn (see STRUCTURAL and BYTEWISE)."""
    parts = chunks(seed)
    for op, *args in structural:
        i = args[0] % len(parts) if op not in ("trailer", "no_eoi") else None
        if op == "length":
            segments = [n for n, (m, p) in enumerate(parts) if m is not None and len(p) >= 4]
            if not segments:
                continue
            n = segments[args[0] % len(segments)]
            marker, part = parts[n]
            how, value = args[1]
            length = value if how == "set" else int.from_bytes(part[2:4], "big") + value
            part = part[:2] + min(max(length, 0), 0xFFFF).to_bytes(2, "big") + part[4:]
            parts[n] = (marker, part)
        elif op == "duplicate":
            parts.insert(i, parts[i])
        elif op == "drop" and len(parts) > 1:
            del parts[i]
        elif op == "swap":
            j = args[1] % len(parts)
            parts[i], parts[j] = parts[j], parts[i]
        elif op == "insert":
            (marker, prefix), size = args[1:]
            # Built from a few drawn numbers: hypothesis need not draw 64 KiB of bytes.
            filler = b"GPS 57.7089N " + COMMENT
            payload = (prefix + filler * (size // len(filler) + 1))[:size]
            parts.insert(i, (marker, segment(marker, payload)))
        elif op == "fill":
            marker, part = parts[i]
            parts[i] = (marker, b"\xff" * args[1] + part)
        elif op == "standalone":
            parts.insert(i, (args[1], bytes((0xFF, args[1]))))
        elif op == "in_scan":
            scans = [n for n, (m, _) in enumerate(parts) if m is None]
            if not scans:
                continue
            n = scans[args[0] % len(scans)]
            part = parts[n][1]
            at = args[1] % (len(part) + 1)
            parts[n] = (None, part[:at] + bytes((0xFF, args[2])) + part[at:])
        elif op == "trailer":
            parts.append((None, args[0]))
        elif op == "no_eoi":
            parts = [(m, p) for m, p in parts if m != EOI]
    data = bytearray(b"".join(part for _, part in parts))
    for op, *args in bytewise:
        if not data:
            break
        if op == "cut":
            del data[args[0] % len(data) :]
        else:
            data[args[0] % len(data)] = args[1]
    return bytes(data)


@st.composite
def mutated_jpegs(draw) -> bytes:
    seed = draw(st.sampled_from(SEEDS))
    structural = draw(st.lists(STRUCTURAL, max_size=4))
    bytewise = draw(st.lists(BYTEWISE, max_size=3))
    return mutate(seed, structural, bytewise)


# Deterministic (the same examples on every run, no example database written) and sized
# for CI; no deadline, as one slow example on a loaded machine is not a failure.
FUZZ = settings(
    max_examples=1000,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# A corrupted frame header can claim any size up to 65535 x 65535: the limit is lowered so
# that each example decodes little (the real limit has its own test in test_images.py).
FUZZ_MAX_PIXELS = 1_000_000


@FUZZ
@given(mutated_jpegs())
def test_strip_answers_a_jpeg_holding_only_what_displays_it_or_none(data):
    kept = jpeg.strip(data)
    event("kept" if kept is not None else "None")  # --hypothesis-show-statistics
    if kept is not None:
        assert_only_what_displays(kept)
        assert jpeg.strip(kept) == kept


@pytest.mark.filterwarnings("ignore:.*:UserWarning:PIL")  # Pillow's word on corrupt EXIF
@FUZZ
@given(mutated_jpegs())
def test_the_image_step_hosts_or_refuses_cleanly_whatever_the_bytes(data):
    with override_settings(RHEO_IMAGE_MAX_PIXELS=FUZZ_MAX_PIXELS):
        try:
            processed = images.process(data)
        except images.ImageError as refused:
            event(f"refused: {refused.code}")
            assert refused.permanent
            assert refused.code in ("image_invalid", "image_too_large")
            return
    event("hosted as is" if processed.full == jpeg.strip(data) else "hosted re-encoded")
    for hosted in (processed.full, processed.thumbnail):
        assert_only_what_displays(hosted)
        with Image.open(io.BytesIO(hosted)) as image:
            image.load()
    with Image.open(io.BytesIO(processed.full)) as full:
        assert full.size == (processed.width, processed.height)
