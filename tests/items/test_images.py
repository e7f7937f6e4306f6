"""Downloading and re-encoding one image: what a partner's image host can and cannot do
to Rheo."""

import io

import pytest
from django.test import override_settings
from PIL import Image

from items import images
from tests.items.imagehost import ImageHost, jpeg_bytes, png_bytes


@pytest.fixture
def host():
    h = ImageHost()
    yield h
    h.close()


def exif_with_gps_and_rotation() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (59.0, 19.0, 0.0), 3: "E", 4: (18.0, 4.0, 0.0)}  # GPS
    return exif


def test_a_photo_is_reencoded_upright_bounded_and_without_metadata():
    data = jpeg_bytes(size=(4000, 3000), exif=exif_with_gps_and_rotation())
    assert b"PhoneMaker" in data
    processed = images.process(data)
    full = Image.open(io.BytesIO(processed.full))
    assert full.format == "JPEG"
    assert (full.width, full.height) == (1536, 2048)  # rotated, long side 2048
    assert not full.getexif()
    assert b"PhoneMaker" not in processed.full
    thumbnail = Image.open(io.BytesIO(processed.thumbnail))
    assert max(thumbnail.size) == 400
    assert processed.digest == images.hashlib.sha256(data).hexdigest()


def test_transparent_png_becomes_a_jpeg_on_white():
    processed = images.process(png_bytes())
    full = Image.open(io.BytesIO(processed.full))
    assert (full.format, full.mode, full.size) == ("JPEG", "RGB", (300, 200))


def test_small_images_are_not_enlarged():
    processed = images.process(jpeg_bytes(size=(640, 480)))
    assert (processed.width, processed.height) == (640, 480)


@pytest.mark.parametrize(
    "data",
    [b"<html>not an image</html>", b"", jpeg_bytes()[:200], b"GIF89a" + b"\0" * 20],
)
def test_what_is_not_an_image_is_refused_for_good(data):
    with pytest.raises(images.ImageError) as refused:
        images.process(data)
    assert (refused.value.code, refused.value.permanent) == ("image_invalid", True)


@override_settings(RHEO_IMAGE_MAX_PIXELS=1_000_000)
def test_a_decompression_bomb_is_refused_before_it_is_decoded():
    bomb = png_bytes(size=(5000, 5000), mode="L")  # 25 Mpx in a few KB
    assert len(bomb) < 100_000
    with pytest.raises(images.ImageError) as refused:
        images.process(bomb)
    assert refused.value.code == "image_too_large"


def test_download_follows_a_few_redirects(host):
    url = host.serve("/1.jpg", b"", status=302, Location="/2.jpg")
    host.serve("/2.jpg", jpeg_bytes())
    assert images.download(url) == jpeg_bytes()

    for n in range(5):
        host.serve(f"/r{n}", b"", status=302, Location=f"/r{n + 1}")
    host.serve("/r5", jpeg_bytes())
    with pytest.raises(images.ImageError) as refused:
        images.download(host.url("/r0"))
    assert refused.value.permanent


def test_a_redirect_to_a_metadata_address_is_refused(host):
    url = host.serve("/1.jpg", b"", status=302, Location="http://169.254.169.254/latest/")
    with pytest.raises(images.ImageError) as refused:
        images.download(url)
    assert (refused.value.code, refused.value.permanent) == ("image_url_refused", True)


@override_settings(RHEO_IMAGE_MAX_BYTES=50_000)
def test_an_image_over_the_size_limit_is_refused(host):
    url = host.serve("/big.jpg", b"x" * 60_000)
    with pytest.raises(images.ImageError) as refused:
        images.download(url)
    assert (refused.value.code, refused.value.permanent) == ("image_too_large", True)


@pytest.mark.parametrize(("status", "permanent"), [(404, True), (403, True), (503, False)])
def test_http_errors_say_whether_to_try_again(host, status, permanent):
    url = host.serve("/x.jpg", b"nope", status=status)
    with pytest.raises(images.ImageError) as refused:
        images.download(url)
    assert refused.value.permanent is permanent


def test_an_unreachable_host_is_worth_another_try():
    with pytest.raises(images.ImageError) as refused:
        images.download("http://127.0.0.1:9/part.jpg")
    assert (refused.value.code, refused.value.permanent) == ("image_download_failed", False)
