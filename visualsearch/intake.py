"""Image intake: every photo, catalogue or query, enters through ``image_intake``.

It reads the whole file (a truncated or corrupt file fails here, not later in the worker), enforces
format and size limits before decoding pixels (decompression bombs), applies the EXIF orientation, flattens
transparency on white, re-encodes to a fresh JPEG (which drops EXIF, GPS, XMP, ICC and comments) and makes a
thumbnail. Query photos go through exactly this path too, so they are preprocessed like catalogue photos.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import ErrorCode, ImageRejected

import pillow_heif

# HEIC (iPhones) through pillow-heif (libheif; it applies the picture's rotation while decoding); AVIF
# (newer Android phones) Pillow 13 reads itself. MPO: phone JPEGs with a depth map.
pillow_heif.register_heif_opener()
ALLOWED_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "MPO": "JPEG", "HEIF": "HEIC", "AVIF": "AVIF"}
# The same formats by the media type a browser gives a picked file. The search page shrinks a photo to a JPEG
# before sending it, which would hide a GIF from the check above; it re-encodes only these types and sends any
# other file as it is, so the intake's ALLOWED_FORMATS decide for the page as for the API.
ALLOWED_MEDIA_TYPES = {
    "image/jpeg": "JPEG", "image/pjpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP",
    "image/heic": "HEIF", "image/heif": "HEIF", "image/heic-sequence": "HEIF", "image/heif-sequence": "HEIF",
    "image/avif": "AVIF",
}
# ISO-BMFF brands of the HEIF family (HEIC, HEIF, AVIF): bytes 8-12 of the file, after "ftyp".
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}

JPEG_QUALITY = 90
THUMBNAIL_SIDE = 400
MIN_SIDE = 16
ImageFile.LOAD_TRUNCATED_IMAGES = False


@dataclass(frozen=True)
class IntakeLimits:
    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000
    stored_max_side: int = 2048


@dataclass(frozen=True)
class IntakeResult:
    image: Image.Image
    """The decoded, oriented, flattened RGB picture as stored (after any downscale)."""
    jpeg: bytes
    thumbnail_jpeg: bytes
    width: int
    height: int
    content_hash: str
    """sha256 of the stored JPEG: the same upload twice gives the same hash."""
    source_format: str


def _has_photo_signature(data: bytes) -> bool:
    return (
        data.startswith(b"\xff\xd8\xff")
        or data.startswith(b"\x89PNG\r\n\x1a\n")
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
        or (data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS)
    )


def _encode_jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # No exif=, no icc_profile=, no comment=: the new file carries pixels only.
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def _checked_open(data: bytes, limits: IntakeLimits) -> tuple[Image.Image, str]:
    """Open the file and check everything the header tells (size, type, pixels, a JPEG too short for its
    picture) before a pixel is decoded. Returns the opened, not yet decoded, image and its format."""
    if not data:
        raise ImageRejected(ErrorCode.IMAGE_EMPTY)
    if len(data) > limits.max_bytes:
        raise ImageRejected(ErrorCode.IMAGE_TOO_LARGE, limit_mb=limits.max_bytes // (1024 * 1024))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow's own guard (from the header, far above our limit): same answer as ours below.
            raise ImageRejected(ErrorCode.IMAGE_TOO_MANY_PIXELS, limit=limits.max_pixels) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            # A known signature that Pillow cannot open is a damaged photo, not a stranger file.
            code = ErrorCode.IMAGE_TRUNCATED if _has_photo_signature(data) else ErrorCode.IMAGE_UNREADABLE
            raise ImageRejected(code) from None
    source_format = probe.format or "unknown"
    if source_format not in ALLOWED_FORMATS:
        raise ImageRejected(ErrorCode.IMAGE_FORMAT_REFUSED, format=source_format)
    width, height = probe.size
    # Checked from the header, before a single pixel is decoded: a bomb never allocates its buffer.
    if width * height > limits.max_pixels:
        raise ImageRejected(ErrorCode.IMAGE_TOO_MANY_PIXELS, limit=limits.max_pixels)
    if min(width, height) < MIN_SIDE:
        raise ImageRejected(ErrorCode.IMAGE_TOO_SMALL, min_side=MIN_SIDE)
    if source_format == "JPEG" and len(data) * 8 < math.ceil(width / 8) * math.ceil(height / 8):
        # Each 8x8 block of a (Huffman-coded) JPEG costs at least one bit: its DC code. A file smaller than
        # that cannot hold the picture its header declares, and libjpeg would quietly fill the rest with
        # grey (Pillow raises nothing), so a 4 KB file declaring 3000x3000 would be stored as a grey square.
        raise ImageRejected(ErrorCode.IMAGE_TRUNCATED)
    return probe, source_format


def _decoded(probe: Image.Image) -> Image.Image:
    """Decode every pixel (a truncated file fails here), turn it upright, flatten transparency on white."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe.seek(0)  # animated files: the first frame is the picture
            probe.load()
            image = ImageOps.exif_transpose(probe)
            image = _flatten(image)
            image.info = {}  # Pillow would write a carried-over comment, EXIF or ICC profile back out
        except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombWarning,
                Image.DecompressionBombError):
            raise ImageRejected(ErrorCode.IMAGE_TRUNCATED) from None
    return image


def _draft_short_side(probe: Image.Image, side: int) -> None:
    """Have a JPEG not yet decoded decode at the smallest DCT scale keeping ``side`` px on its short side (other
    formats have no such scale). draft keeps the result >= the requested size in both directions, and EXIF rotation
    comes after, so the same size is asked for in both."""
    if probe.format == "JPEG":
        probe.draft("RGB", (side, side))


QUERY_SIDE = 640
"""A query photo is searched at most 640 px on its long side: the page's script sends that much, the network
reads 240 px, the object step 224 px. A larger upload (an API client sending a 12 MP photo) is decoded at a
reduced scale straight from its DCT coefficients (Pillow's ``draft``: 1/2, 1/4 or 1/8, never below 640 px), so
most of its pixels are never decoded."""


def query_photo_open(
    data: bytes, *, limits: IntakeLimits = IntakeLimits(), short_side: int | None = None
) -> Image.Image:
    """A shopper's query photo, checked like every upload, decoded only as far as search needs: RGB, upright.
    Nothing is stored, so there is nothing to re-encode.

    By default at most ``QUERY_SIDE`` px on its long side (the object step crops its objects out of it). With
    ``short_side`` (a search without the object step: the network reads only its own input) a JPEG is decoded at
    the smallest DCT scale that keeps that many pixels on its short side and is not resized here: the spec's
    preprocessing resizes it as it resizes a catalogue picture. Asked for 480 px (``Preprocessing.decode_side``), a
    1024x768 photo is decoded whole with no resize here, 7.3 ms instead of 23 ms with the network's resize included;
    a 640x480 one 4.3 instead of 4.6; a 12 MP one at 1008x756, 34.5 instead of 38.6 (most of it the whole-file
    check), on this 2-core machine; bench/ingest_search.py times the decode within the search path."""
    probe, _ = _checked_open(data, limits)
    _draft_short_side(probe, short_side if short_side is not None else QUERY_SIDE)
    image = _decoded(probe)
    if short_side is None and max(image.size) > QUERY_SIDE:
        image.thumbnail((QUERY_SIDE, QUERY_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return image


STORED_DRAFT_FLOOR = 0.9
"""A JPEG above the stored size is decoded at a reduced DCT scale (1/2, 1/4, 1/8) when that still leaves at least
90 % of ``stored_max_side`` on its long side, and stored at that size without a resize: a 12 MP phone photo
(4032x3024) becomes 2016x1512 straight from its coefficients: 20 ms of decode instead of 85 ms of full decode
and 217 ms of Lanczos resize to 2048 px; its whole intake 65 ms instead of about 330 (bench/import_intake.py).
A 2500 px packshot, whose half scale would be 1250 px, is decoded whole and resized as before, so its stored file
(and the hash that dedupes it) is unchanged; a picture of 3687 px or more (2 x 90 % of 2048) is now stored from
the reduced scale, so one imported before this change is stored again once if imported again."""


def image_intake(data: bytes, *, limits: IntakeLimits = IntakeLimits()) -> IntakeResult:
    probe, source_format = _checked_open(data, limits)
    width, height = probe.size
    if source_format == "JPEG" and max(width, height) > limits.stored_max_side:
        scale = STORED_DRAFT_FLOOR * limits.stored_max_side / max(width, height)
        probe.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
    image = _decoded(probe)
    if max(image.size) > limits.stored_max_side:
        image.thumbnail((limits.stored_max_side, limits.stored_max_side), Image.Resampling.LANCZOS)
    jpeg = _encode_jpeg(image)
    thumb = image.copy()
    # reducing_gap 1.0: a box reduction by the whole factor first, then Lanczos for the rest. On 1000 px packshots
    # 6.7 ms instead of 15.5 (Pillow's default 2.0), mean difference 0.6 of 255 per pixel; only the 400 px
    # thumbnail is made so (the stored picture, whose hash dedupes imports, is encoded exactly as before).
    thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS, reducing_gap=1.0)
    return IntakeResult(
        image=image,
        jpeg=jpeg,
        thumbnail_jpeg=_encode_jpeg(thumb),
        width=image.width,
        height=image.height,
        content_hash=hashlib.sha256(jpeg).hexdigest(),
        source_format=source_format,
    )


def stored_image_open(data: bytes, *, short_side: int | None = None) -> Image.Image:
    """Decode a file that intake stored (catalogue images, read back by the worker). With ``short_side`` (the
    worker: ``Preprocessing.decode_side``) at the smallest DCT scale that keeps that many pixels on its short side,
    as a query photo is: a 2016x1512 stored photo is decoded at 1008x756."""
    image = Image.open(io.BytesIO(data))
    if short_side is not None:
        _draft_short_side(image, short_side)
    image.load()
    return image.convert("RGB")
