"""Downloading and re-encoding one image: what a partner's image host can and cannot do
to Rheo."""

import io

import pytest
from django.test import override_settings
from PIL import Image, ImageCms, PngImagePlugin

from items import images, jpeg
from tests.items.imagehost import ImageHost, jpeg_bytes, photo_bytes, png_bytes, with_segments


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


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.tobytes()


def a_phone_photo(**save) -> bytes:
    """Upright, with the metadata a phone and a photo editor leave behind, and bytes after
    its end (a second file smuggled in)."""
    exif = exif_with_gps_and_rotation()
    exif[0x0112] = 1
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">SerialNumber 12345</x:xmpmeta>'
    data = photo_bytes(exif=exif, xmp=xmp, comment=b"Dismantler Olsson, cam 2", **save)
    iptc = (0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x10By-line: Olsson")
    return with_segments(data, iptc) + b"<html><script>alert(1)</script></html>"


def rgb_coded_photo() -> bytes:
    """RGB, not YCbCr, inside; only its Adobe segment says so (components numbered 1-3,
    not named R, G, B as libjpeg-turbo names them)."""
    data = bytearray(photo_bytes(keep_rgb=True, quality=20))
    sof, sos = data.index(b"\xff\xc0"), data.index(b"\xff\xda")
    for number, at in enumerate((sof + 10, sof + 13, sof + 16, sos + 5, sos + 7, sos + 9)):
        assert data[at] in b"RGB"
        data[at] = number % 3 + 1
    return bytes(data)


def test_an_upright_jpeg_keeps_its_own_pixels_and_loses_all_metadata():
    data = a_phone_photo()
    processed = images.process(data)
    full = processed.full
    assert pixels(full) == pixels(data)  # lossless: not decoded and re-encoded
    assert b"\xff\xe1" not in full  # no APP1: no EXIF, no GPS, no XMP
    assert b"\xff\xed" not in full  # no APP13: no Photoshop/IPTC
    for secret in (b"PhoneMaker", b"SerialNumber", b"Olsson", b"script"):
        assert secret not in full
    assert full.endswith(b"\xff\xd9")  # nothing after the end of the image
    hosted = Image.open(io.BytesIO(full))
    assert (hosted.format, hosted.size) == ("JPEG", (640, 480))
    assert not hosted.getexif()
    assert "comment" not in hosted.info
    assert (processed.width, processed.height) == (640, 480)
    assert Image.open(io.BytesIO(processed.thumbnail)).size == (400, 300)


def test_a_progressive_jpeg_is_kept_as_is_too():
    data = a_phone_photo(progressive=True, size=(1600, 1200))
    processed = images.process(data)
    assert Image.open(io.BytesIO(processed.full)).info.get("progressive") == 1
    assert pixels(processed.full) == pixels(data)
    assert Image.open(io.BytesIO(processed.thumbnail)).size == (400, 300)


def test_the_colour_profile_is_kept():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    processed = images.process(photo_bytes(icc_profile=srgb))
    assert Image.open(io.BytesIO(processed.full)).info["icc_profile"] == srgb
    assert Image.open(io.BytesIO(processed.thumbnail)).info["icc_profile"] == srgb


@pytest.mark.parametrize(
    ("data", "thumbnail_size"),
    [
        (photo_bytes(mode="L"), (400, 300)),  # greyscale
        (rgb_coded_photo(), (400, 300)),
        (photo_bytes(size=(300, 200)), (300, 200)),  # smaller than a thumbnail
    ],
    ids=["grey", "rgb-coded", "tiny"],
)
def test_other_jpegs_served_as_they_are_keep_their_pixels(data, thumbnail_size):
    processed = images.process(data)
    assert pixels(processed.full) == pixels(data)
    assert Image.open(io.BytesIO(processed.thumbnail)).size == thumbnail_size


def test_a_rotated_jpeg_is_reencoded_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    processed = images.process(photo_bytes(size=(640, 480), exif=exif))
    full = Image.open(io.BytesIO(processed.full)).convert("RGB")
    assert full.size == (480, 640)
    assert not full.getexif()
    # The red corner, top-left as stored, is top-right once upright.
    assert full.getpixel((470, 10))[0] > 200 and full.getpixel((10, 10))[0] < 200
    assert Image.open(io.BytesIO(processed.thumbnail)).size == (300, 400)


def with_a_comment(format: str) -> bytes:
    """A picture carrying a comment in its own format's way."""
    image, out = Image.new("RGB", (640, 480), (200, 30, 30)), io.BytesIO()
    if format == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("comment", "Dismantler Olsson, cam 2")
        image.save(out, "PNG", pnginfo=text)
    else:
        exif = Image.Exif()
        exif[0x0112] = 6  # rotated: re-encoded
        image.save(out, format, comment=b"Dismantler Olsson, cam 2", exif=exif)
    return out.getvalue()


@pytest.mark.parametrize("format", ["JPEG", "GIF", "PNG"])
def test_a_reencoded_image_loses_its_comment(format):
    data = with_a_comment(format)
    processed = images.process(data)
    for hosted in (processed.full, processed.thumbnail):
        assert b"Olsson" not in hosted
        assert "comment" not in Image.open(io.BytesIO(hosted)).info


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (photo_bytes(mode="CMYK"), (640, 480)),
        (photo_bytes(size=(3000, 2000)), (2048, 1365)),
        (photo_bytes(size=(8400, 1200)), (2048, 293)),  # decoded at half scale
        (photo_bytes(quality=100), (640, 480)),  # too many bytes for its pixels
    ],
    ids=["cmyk", "oversized", "far-oversized", "quality-100"],
)
def test_jpegs_that_need_a_change_are_reencoded(data, size):
    processed = images.process(data)
    full = Image.open(io.BytesIO(processed.full))
    assert (full.mode, full.size) == ("RGB", size)
    assert (processed.width, processed.height) == size
    assert len(processed.full) < len(data)
    assert max(Image.open(io.BytesIO(processed.thumbnail)).size) == 400


def truncated_in_its_scan() -> bytes:
    data = photo_bytes()
    return data[: len(data) // 2]


def with_a_broken_huffman_table() -> bytes:
    data = bytearray(photo_bytes())
    dht = data.index(b"\xff\xc4")
    data[dht + 5 : dht + 21] = b"\xff" * 16  # code counts no Huffman table can have
    return bytes(data)


@pytest.mark.parametrize(
    "data", [truncated_in_its_scan(), with_a_broken_huffman_table()], ids=["truncated", "dht"]
)
def test_a_broken_jpeg_is_refused(data):
    with pytest.raises(images.ImageError) as refused:
        images.process(data)
    assert (refused.value.code, refused.value.permanent) == ("image_invalid", True)


def test_a_marker_structure_not_followed_is_left_to_the_reencode():
    data = photo_bytes()
    assert jpeg.strip(data[:-2]) is None  # no end marker
    assert jpeg.strip(data[:2] + b"junk" + data[2:]) is None
    assert jpeg.strip(with_segments(data, (0xC3, b"\0" * 9))) is None  # a lossless frame


def test_the_colour_segments_kept_carry_nothing_else():
    """A colour profile after the frame header (Pillow reads none there, so nothing checks
    it) and bytes past the Adobe segment's own twelve would be hosted unread."""
    hidden = b"GPS 57.7089N 11.9746E"
    data = photo_bytes()
    sof = data.index(b"\xff\xc0")
    after_frame = sof + 2 + int.from_bytes(data[sof + 2 : sof + 4], "big")
    profile = b"ICC_PROFILE\0\x01\x01" + hidden
    app2 = b"\xff\xe2" + (len(profile) + 2).to_bytes(2, "big") + profile
    profile_after_frame = data[:after_frame] + app2 + data[after_frame:]
    long_adobe = with_segments(data, (0xEE, b"Adobe\0\x64\0\0\0\0\x01" + hidden))
    for sent in (profile_after_frame, long_adobe):
        full = images.process(sent).full
        assert hidden not in full
        assert pixels(full) == pixels(data)  # still its own compressed data
    assert Image.open(io.BytesIO(images.process(long_adobe).full)).info["adobe_transform"] == 1


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
