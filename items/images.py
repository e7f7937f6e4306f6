"""From a partner's image URL to a hosted image: a guarded download, Pillow's judgement
of the bytes (not the Content-Type's), and one re-encoding that drops EXIF and GPS.

Pure steps, no database: items.services decides what to fetch and records the outcome.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from rheo import outbound

MAX_LONG_SIDE = 2048
THUMBNAIL_LONG_SIDE = 400
JPEG_QUALITY = 85
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
    """Re-encode `data` as a bounded JPEG and a thumbnail, orientation applied, metadata
    gone; ImageError (permanent) if it is not an image Rheo will take."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()  # structure checked before the pixels are decoded
            with Image.open(io.BytesIO(data)) as image:
                _check_size(image)
                image = ImageOps.exif_transpose(image)
                image = _flatten(image)
                image.thumbnail((MAX_LONG_SIDE, MAX_LONG_SIDE), Image.Resampling.LANCZOS)
                full = _jpeg(image)
                image.thumbnail((THUMBNAIL_LONG_SIDE, THUMBNAIL_LONG_SIDE))
                thumbnail = _jpeg(image)
                width, height = Image.open(io.BytesIO(full)).size
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


def _check_size(image: Image.Image) -> None:
    if image.width * image.height > settings.RHEO_IMAGE_MAX_PIXELS:
        raise Image.DecompressionBombError("too many pixels")


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG; transparency laid on white."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # A fresh encode carries no EXIF, GPS, XMP or ICC text unless given: nothing is.
    # Baseline, not progressive: progressive encoding doubled the pipeline's cost for
    # files only 7 % smaller (bench/README.md, "Image pipeline benchmark").
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
