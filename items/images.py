"""From a partner's image URL to a hosted image: a guarded download, Pillow's judgement
of the bytes (not the Content-Type's), and a hosted JPEG without EXIF and GPS: the
partner's own JPEG data stripped of its metadata when the picture needs no change
(lossless, and far less work), else one re-encoding.

Pure steps, no database: items.services decides what to fetch and records the outcome.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from items import jpeg
from rheo import outbound

MAX_LONG_SIDE = 2048
THUMBNAIL_LONG_SIDE = 400
JPEG_QUALITY = 85
# A JPEG hosted as is may take up to this many bits per pixel (quality ~95 for a photo);
# beyond that a re-encode at JPEG_QUALITY looks the same and is far smaller.
MAX_KEPT_BITS_PER_PIXEL = 4
# DCT scaling decodes a JPEG at 1/2, 1/4 or 1/8 scale for a fraction of the work; it stops
# while the picture is still this many times the size wanted (Pillow's own default for
# thumbnails), so the resize after it is as sharp as one from the full decode.
REDUCING_GAP = 2.0
ORIENTATION = 0x0112
# ICC colour profiles are kept (they tell how to show the pixels, nothing about anyone);
# real ones are a few KB. Their colour space, by the image mode it describes:
MAX_PROFILE_BYTES = 64 * 1024
PROFILE_SPACES = {"RGB": b"RGB ", "L": b"GRAY"}
# Status codes after which asking again may help.
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class ImageError(Exception):
    """Why an image URL gave no image. `permanent`: asking again will not help."""

    def __init__(self, code: str, message: str, *, permanent: bool):
        super().__init__(message)
        self.code = code
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class ProcessedImage:
    digest: str  # SHA-256 of the downloaded bytes: identical images are stored once
    full: bytes  # JPEG, long side at most MAX_LONG_SIDE, no metadata
    thumbnail: bytes
    width: int
    height: int


def download(url: str) -> bytes:
    """The bytes behind `url`, or ImageError."""
    try:
        response = outbound.request(
            "GET",
            url,
            headers={"Accept": "image/*", "User-Agent": "Rheo-Images/1"},
            timeout=settings.RHEO_IMAGE_TIMEOUT_SECONDS,
            max_body_bytes=settings.RHEO_IMAGE_MAX_BYTES,
            max_redirects=3,
        )
    except outbound.UnsafeURL as exc:
        raise ImageError("image_url_refused", str(exc), permanent=True) from None
    except outbound.OutboundError as exc:
        if exc.kind == "too_large":
            limit = settings.RHEO_IMAGE_MAX_BYTES // (1024 * 1024)
            message = f"The image is larger than {limit} MB."
            raise ImageError("image_too_large", message, permanent=True) from None
        raise ImageError("image_download_failed", exc.message, permanent=False) from None
    if response.status != 200:
        if 300 <= response.status < 400:
            message = "Too many redirects (at most 3 are followed)."
            raise ImageError("image_download_failed", message, permanent=True)
        transient = response.status in TRANSIENT_STATUS
        message = f"The image host answered HTTP {response.status}."
        raise ImageError("image_download_failed", message, permanent=not transient)
    return response.body


def process(data: bytes) -> ProcessedImage:
    """`data` as a bounded JPEG and a thumbnail, upright, without metadata; ImageError
    (permanent) if it is not an image Rheo will take. A JPEG that needs no pixel change
    keeps its own compressed data (items.jpeg); anything else is re-encoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            full, thumbnail, (width, height) = _host(data)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            "image_too_large", "The image has too many pixels.", permanent=True
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        message = f"Not an image Rheo can read ({type(exc).__name__})."
        raise ImageError("image_invalid", message, permanent=True) from None
    return ProcessedImage(
        digest=hashlib.sha256(data).hexdigest(),
        full=full,
        thumbnail=thumbnail,
        width=width,
        height=height,
    )


def _host(data: bytes) -> tuple[bytes, bytes, tuple[int, int]]:
    """The full-size JPEG, the thumbnail and the full size's (width, height)."""
    with Image.open(io.BytesIO(data)) as image:
        _check_size(image)
        if image.format == "JPEG":
            # (Pillow's verify() checks nothing in a JPEG: decoding it is the check.)
            kept = _kept_jpeg(image, data)
            return _host_as_is(kept) if kept is not None else _reencode(image)
        image.verify()  # structure (PNG's checksums) checked before pixels are decoded
    with Image.open(io.BytesIO(data)) as image:
        return _reencode(image)


def _kept_jpeg(image: Image.Image, data: bytes) -> bytes | None:
    """The JPEG's own compressed data, stripped of all but what displays it, when the
    picture needs no change: small enough, upright, in a colour mode served as is, with
    no colour profile that would be dropped, not wastefully large. Else None."""
    if max(image.size) > MAX_LONG_SIDE or image.mode not in ("L", "RGB"):
        return None  # RGB: Pillow's name for YCbCr and RGB JPEGs; CMYK/YCCK converted
    if image.getexif().get(ORIENTATION, 1) != 1:  # EXIF or XMP orientation
        return None
    if "icc_profile" in image.info and _profile_for(image, image.mode) is None:
        return None
    kept = jpeg.strip(data)
    if kept is None or len(kept) * 8 > image.width * image.height * MAX_KEPT_BITS_PER_PIXEL:
        return None
    return kept


def _host_as_is(kept: bytes) -> tuple[bytes, bytes, tuple[int, int]]:
    with Image.open(io.BytesIO(kept)) as image:
        size = image.size
        # The thumbnail's decode reads every scan of the hosted bytes (at reduced DCT
        # scale): a file that does not decode is refused like any other.
        thumbnail = _bounded(image, THUMBNAIL_LONG_SIDE, Image.Resampling.BICUBIC)
        return kept, _jpeg(thumbnail, _profile_for(image, thumbnail.mode), optimize=True), size


def _reencode(image: Image.Image) -> tuple[bytes, bytes, tuple[int, int]]:
    if image.format == "JPEG":
        # Bounded first: an oversized JPEG is decoded at reduced DCT scale where it can.
        image = _bounded(image, MAX_LONG_SIDE, Image.Resampling.LANCZOS)
        ImageOps.exif_transpose(image, in_place=True)
        image = _flatten(image)
    else:
        # Palette images flattened before resizing (Pillow resizes them pixel by pixel).
        ImageOps.exif_transpose(image, in_place=True)
        image = _flatten(image)
        image = _bounded(image, MAX_LONG_SIDE, Image.Resampling.LANCZOS)
    profile = _profile_for(image, "RGB")
    # Huffman tables optimized for the thumbnail only: 5 % smaller for ~1 ms, where the
    # full size would pay ~20 ms (2.5 x its encode) for 6 % (bench/README.md, "Image
    # pipeline benchmark"). Thumbnails are the bytes served most (every listing page).
    full = _jpeg(image, profile, optimize=False)
    size = image.size
    thumbnail = _bounded(image, THUMBNAIL_LONG_SIDE, Image.Resampling.BICUBIC)
    return full, _jpeg(thumbnail, profile, optimize=True), size


def _bounded(image: Image.Image, long_side: int, resample: int) -> Image.Image:
    """`image` with its long side at most `long_side`. A JPEG not decoded yet is decoded
    at the smallest DCT scale (1/2, 1/4, 1/8) that leaves REDUCING_GAP times the size
    wanted, then resized: far less work, as sharp as resizing from the full decode."""
    scale = long_side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    wanted = (int(size[0] * REDUCING_GAP), int(size[1] * REDUCING_GAP))
    drafted = image.draft(None, wanted)  # None unless an undecoded JPEG
    box = drafted[1] if drafted else None
    return image.resize(size, resample, box=box, reducing_gap=REDUCING_GAP)


def _profile_for(image: Image.Image, mode: str) -> bytes | None:
    """The image's ICC colour profile if it is one for `mode`'s colour space (a CMYK
    profile says nothing of the RGB it was converted to) and of a profile's size."""
    profile = image.info.get("icc_profile")
    if (
        profile
        and len(profile) <= MAX_PROFILE_BYTES
        and profile[36:40] == b"acsp"
        and profile[16:20] == PROFILE_SPACES.get(mode)
    ):
        return profile
    return None


def _check_size(image: Image.Image) -> None:
    if image.width * image.height > settings.RHEO_IMAGE_MAX_PIXELS:
        raise Image.DecompressionBombError("too many pixels")


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG; transparency laid on white."""
    if image.mode == "RGB":
        return image  # convert() would copy it
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def _jpeg(image: Image.Image, profile: bytes | None, *, optimize: bool) -> bytes:
    out = io.BytesIO()
    # A fresh encode carries no EXIF, GPS or XMP unless given: only the colour profile is.
    # A comment is the exception: Pillow writes the source's own (a JPEG's COM, a GIF's or
    # a PNG's comment, carried in image.info through convert and resize) unless told not.
    # Baseline, not progressive: progressive encoding doubled the pipeline's cost for
    # files only 7 % smaller (bench/README.md, "Image pipeline benchmark").
    image.save(
        out, "JPEG", quality=JPEG_QUALITY, optimize=optimize, icc_profile=profile, comment=b""
    )
    return out.getvalue()
