import io
import struct

import numpy as np
import pytest
from PIL import Image

from conftest import photo_bytes
from visualsearch.errors import ErrorCode, ImageRejected
from visualsearch.intake import IntakeLimits, image_intake


def _rejected(data: bytes, limits: IntakeLimits = IntakeLimits()) -> ErrorCode:
    with pytest.raises(ImageRejected) as caught:
        image_intake(data, limits=limits)
    return caught.value.code


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepted_formats_are_reencoded_to_jpeg(fmt):
    result = image_intake(photo_bytes(size=(320, 240), fmt=fmt))

    stored = Image.open(io.BytesIO(result.jpeg))
    assert stored.format == "JPEG"
    assert (result.width, result.height) == (320, 240) == stored.size
    assert max(Image.open(io.BytesIO(result.thumbnail_jpeg)).size) <= 400
    assert len(result.content_hash) == 64


def test_exif_orientation_is_applied_and_all_metadata_dropped():
    image = Image.new("RGB", (300, 100), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"private comment")

    result = image_intake(out.getvalue())

    stored = Image.open(io.BytesIO(result.jpeg))
    assert stored.size == (100, 300)  # portrait, as the camera meant it
    assert dict(stored.getexif()) == {}
    assert "comment" not in stored.info and "exif" not in stored.info and "icc_profile" not in stored.info
    assert b"SecretCam" not in result.jpeg and b"private comment" not in result.jpeg


def test_transparency_is_flattened_on_white():
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")

    result = image_intake(out.getvalue())

    assert result.image.getpixel((5, 5)) == (255, 255, 255)


def test_large_photos_are_stored_downscaled():
    result = image_intake(photo_bytes(size=(3000, 1500)), limits=IntakeLimits(stored_max_side=1000))
    assert (result.width, result.height) == (1000, 500)


@pytest.mark.parametrize("size,orientation,stored", [
    ((4032, 3024), None, (2016, 1512)),  # a 12 MP phone photo: half scale from its DCT keeps 98 % of 2048 px
    ((4032, 3024), 6, (1512, 2016)),     # shot in portrait: upright after the reduced decode
    ((2500, 1875), None, (2048, 1536)),  # half scale would leave 1250 px: decoded whole, resized to 2048
    ((8000, 4000), None, (2000, 1000)),  # 1/4 keeps 2000 px: no resize at all
])
def test_a_large_jpeg_is_stored_at_the_reduced_scale_that_keeps_nearly_the_stored_size(size, orientation, stored):
    data = _jpeg(size, orientation=orientation)

    result = image_intake(data)

    assert (result.width, result.height) == stored
    assert Image.open(io.BytesIO(result.jpeg)).size == stored


def test_same_upload_gives_same_hash():
    data = photo_bytes()
    assert image_intake(data).content_hash == image_intake(data).content_hash


def test_truncated_jpeg_is_refused():
    data = photo_bytes(size=(400, 400))
    assert _rejected(data[: len(data) // 2]) == ErrorCode.IMAGE_TRUNCATED


def test_jpeg_too_small_for_the_size_its_header_declares_is_refused_not_stored_grey():
    # given a complete 64x64 JPEG of noise whose header is rewritten to declare 3000x3000
    rng = np.random.default_rng(0)
    out = io.BytesIO()
    Image.fromarray((rng.random((64, 64, 3)) * 255).astype("uint8")).save(out, "JPEG", quality=90)
    data = bytearray(out.getvalue())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 3000, 3000)
    assert Image.open(io.BytesIO(bytes(data))).size == (3000, 3000)

    with pytest.raises(ImageRejected) as refused:
        image_intake(bytes(data))

    assert refused.value.code == ErrorCode.IMAGE_TRUNCATED


def test_a_plain_but_real_jpeg_of_one_colour_is_still_accepted():
    out = io.BytesIO()
    Image.new("RGB", (1600, 1200), (250, 250, 250)).save(out, "JPEG", quality=75)

    assert image_intake(out.getvalue()).width == 1600


def test_text_file_is_refused():
    assert _rejected(b"<html><body>hello</body></html>") == ErrorCode.IMAGE_UNREADABLE


def test_empty_file_is_refused():
    assert _rejected(b"") == ErrorCode.IMAGE_EMPTY


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "BMP"])
def test_other_formats_are_refused_by_name(fmt):
    error = pytest.raises(ImageRejected, image_intake, photo_bytes(fmt=fmt)).value
    assert error.code == ErrorCode.IMAGE_FORMAT_REFUSED
    assert fmt in error.message


def test_decompression_bomb_is_refused_from_its_header():
    # 20000 x 20000 = 400 MP declared; the PNG itself is tiny because it is all one colour.
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")
    assert len(out.getvalue()) < 200_000
    assert _rejected(out.getvalue()) == ErrorCode.IMAGE_TOO_MANY_PIXELS


def test_file_over_the_byte_limit_is_refused():
    assert _rejected(photo_bytes(), IntakeLimits(max_bytes=100)) == ErrorCode.IMAGE_TOO_LARGE


def test_tiny_picture_is_refused():
    assert _rejected(photo_bytes(size=(8, 8), fmt="PNG")) == ErrorCode.IMAGE_TOO_SMALL


def _phone_photo(fmt: str) -> bytes:
    """A real HEIC (libheif/x265) or AVIF (libavif) file as phones send it: rotated by EXIF, with GPS and a maker."""
    image = Image.new("RGB", (300, 100), (10, 120, 200))
    image.paste((230, 40, 40), (0, 0, 60, 100))  # a red band on the left before rotation
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "SecretCam"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0)}
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes(), quality=90)
    return out.getvalue()


@pytest.mark.parametrize("fmt,source", [("HEIF", "HEIF"), ("AVIF", "AVIF")])
def test_heic_and_avif_photos_are_oriented_stripped_and_reencoded(fmt, source):
    data = _phone_photo(fmt)
    assert data[4:8] == b"ftyp"

    result = image_intake(data)

    stored = Image.open(io.BytesIO(result.jpeg))
    assert (result.source_format, stored.format) == (source, "JPEG")
    assert (result.width, result.height) == (100, 300) == stored.size  # turned upright once, not twice
    red = np.asarray(stored.convert("RGB"))[10:50, 40:60].mean(axis=(0, 1))  # the band is now at the top
    assert red[0] > 180 and red[2] < 100
    assert not stored.getexif() and "icc_profile" not in stored.info and b"SecretCam" not in result.jpeg


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_a_cut_heic_or_avif_is_refused_as_damaged(fmt):
    data = _phone_photo(fmt)

    assert _rejected(data[: len(data) // 2]) == ErrorCode.IMAGE_TRUNCATED


def test_heic_and_avif_obey_the_same_pixel_limit():
    assert _rejected(_phone_photo("HEIF"), IntakeLimits(max_pixels=20_000)) == ErrorCode.IMAGE_TOO_MANY_PIXELS
    assert _rejected(_phone_photo("AVIF"), IntakeLimits(max_pixels=20_000)) == ErrorCode.IMAGE_TOO_MANY_PIXELS


def test_a_large_query_photo_is_decoded_at_a_reduced_scale_upright_and_still_checked():
    from visualsearch.intake import QUERY_SIDE, query_photo_open

    rng = np.random.default_rng(3)
    pixels = (rng.random((3024 // 8, 4032 // 8, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(pixels).resize((4032, 3024), Image.Resampling.NEAREST)  # a 12 MP phone photo
    exif = Image.Exif()
    exif[0x0112] = 6  # shot in portrait
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    data = out.getvalue()

    picture = query_photo_open(data)
    assert picture.mode == "RGB" and picture.size == (480, QUERY_SIDE)  # upright, 640 on the long side
    # the same picture as the full decode, shrunk (DCT scaling then Lanczos vs Lanczos alone)
    full = image.transpose(Image.Transpose.ROTATE_270).resize(picture.size, Image.Resampling.LANCZOS)
    assert np.abs(np.asarray(picture, dtype=np.int16) - np.asarray(full, dtype=np.int16)).mean() < 6

    with pytest.raises(ImageRejected) as refused:
        query_photo_open(data[: len(data) // 2])  # cut off half way: refused, not filled with grey
    assert refused.value.code == ErrorCode.IMAGE_TRUNCATED
    with pytest.raises(ImageRejected) as too_big:
        query_photo_open(data, limits=IntakeLimits(max_pixels=10_000_000))
    assert too_big.value.code == ErrorCode.IMAGE_TOO_MANY_PIXELS


def _jpeg(size: tuple[int, int], *, orientation: int | None = None) -> bytes:
    rng = np.random.default_rng(5)
    pixels = (rng.random((size[1] // 8, size[0] // 8, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(pixels).resize(size, Image.Resampling.NEAREST)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


@pytest.mark.parametrize("size,orientation,expected", [
    ((4032, 3024), None, (504, 378)),  # 12 MP: 1/8 of its pixels each way still gives the network 240 px
    ((4032, 3024), 6, (378, 504)),     # shot in portrait: upright after the reduced decode
    ((1024, 768), None, (512, 384)),   # 1/4 would leave 192 px on the short side: 1/2
    ((640, 480), None, (320, 240)),    # what the page sends: 1/2 leaves exactly the 240 px the network reads
    ((900, 300), None, (900, 300)),    # a panorama: its short side is already near 240
])
def test_a_query_photo_for_the_network_alone_is_decoded_at_the_smallest_scale_that_keeps_its_short_side(
    size, orientation, expected
):
    from visualsearch.intake import query_photo_open

    picture = query_photo_open(_jpeg(size, orientation=orientation), short_side=240)

    assert picture.mode == "RGB" and picture.size == expected
    assert min(picture.size) >= 240


def test_a_png_for_the_network_alone_is_decoded_whole_and_left_for_the_preprocessing_to_resize():
    from visualsearch.intake import query_photo_open

    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (200, 40, 40)).save(out, "PNG")

    assert query_photo_open(out.getvalue(), short_side=240).size == (1200, 900)  # no DCT to scale in
    assert query_photo_open(out.getvalue()).size == (640, 480)  # the object step's 640 px


def test_the_reduced_decode_still_checks_the_whole_file():
    from visualsearch.intake import query_photo_open

    data = _jpeg((4032, 3024))
    with pytest.raises(ImageRejected) as refused:
        query_photo_open(data[: len(data) // 2], short_side=240)
    assert refused.value.code == ErrorCode.IMAGE_TRUNCATED


def test_a_stored_picture_is_read_back_at_the_scale_the_network_needs_and_a_png_whole():
    from visualsearch.intake import stored_image_open

    stored = image_intake(_jpeg((4032, 3024))).jpeg  # stored at 2016x1512

    assert stored_image_open(stored).size == (2016, 1512)
    assert stored_image_open(stored, short_side=480).size == (1008, 756)  # 1/4 would leave 378 px
    assert stored_image_open(stored, short_side=2000).size == (2016, 1512)
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (10, 20, 30)).save(out, "PNG")
    assert stored_image_open(out.getvalue(), short_side=480).size == (1200, 900)
