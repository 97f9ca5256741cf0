"""A corpus of hostile uploads, made here from a seed (nothing downloaded), the same on every run.

Each ``Specimen`` says what the shop must do with it:
- ``REJECT``: refused with one of ``codes`` (a 4xx and a clear message), nothing stored;
- ``ACCEPT``: a real photo in a hostile wrapper (metadata, appended HTML, absurd name): stored re-encoded, clean;
- ``EITHER``: bit-flipped mutants, whose fate depends on which byte flipped: refused with a known code, or
  accepted and then stored clean like any other photo.

``python -m visualsearch.tests.hostile.corpus OUT_DIR`` writes the files out for a look by hand.
"""

from __future__ import annotations

import enum
import io
import random
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from visualsearch.errors import ErrorCode

# Strings planted in metadata: none may ever appear in a stored file.
SECRET = b"SECRET-HOSTILE"
GPS_LATITUDE = (48.0, 51.0, 29.15)


class Outcome(enum.Enum):
    REJECT = "reject"
    ACCEPT = "accept"
    EITHER = "either"


@dataclass(frozen=True)
class Specimen:
    name: str
    """The file name sent in the multipart upload (absurd on purpose for some)."""
    data: bytes
    family: str
    outcome: Outcome
    codes: frozenset[ErrorCode | str] = frozenset()
    """For REJECT (and for the rejected side of EITHER): the error codes that are a right answer (an ErrorCode,
    or "malformed_request" for a request Django itself cannot parse)."""
    content_type: str = "image/jpeg"

    @property
    def label(self) -> str:
        return f"{self.family}:{self.name[:40]!r}"


DAMAGED = frozenset({ErrorCode.IMAGE_UNREADABLE, ErrorCode.IMAGE_TRUNCATED})
# A mutant may break the header (unreadable), the pixels (truncated), the declared size (too many pixels /
# too small) or the format byte (refused), and each is a right answer.
MUTANT_CODES = DAMAGED | {
    ErrorCode.IMAGE_TOO_MANY_PIXELS, ErrorCode.IMAGE_TOO_SMALL, ErrorCode.IMAGE_FORMAT_REFUSED,
}


def _picture(size: tuple[int, int] = (160, 120), *, seed: int = 1, mode: str = "RGB") -> Image.Image:
    """A photo-like picture (gradient, shapes, noise) so encoders produce real entropy-coded data."""
    rng = random.Random(seed)
    w, h = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(w), rng.randrange(h)
        r = rng.randrange(4, max(5, w // 4))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    noise = Image.effect_noise(size, 40).convert("RGB")
    image = Image.blend(image, noise, 0.15)
    return image.convert(mode)


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def base_photos() -> dict[str, bytes]:
    """The healthy photos every other specimen is cut, flipped or wrapped from."""
    picture = _picture()
    return {
        "jpeg": _encode(picture, "JPEG", quality=85),
        "jpeg-progressive": _encode(picture, "JPEG", quality=85, progressive=True),
        "png": _encode(picture, "PNG"),
        "png-grey": _encode(picture.convert("L"), "PNG"),
        "webp": _encode(picture, "WEBP", quality=80),
        "webp-lossless": _encode(picture, "WEBP", lossless=True),
    }


# --- truncations --------------------------------------------------------------------------------------------
# Bytes at the end that are not picture data: cutting only them may leave a decodable file, so cuts stop
# before them (JPEG: EOI marker and the last MCU's padding; PNG: the IEND chunk, the last IDAT's CRC and the
# zlib stream's Adler-32, which Pillow does not need once the deflate data is complete).
_TRAILER = {"jpeg": 16, "png": 24, "webp": 8}


def truncations(bases: dict[str, bytes], *, per_file: int = 22) -> list[Specimen]:
    specimens = []
    for key, data in bases.items():
        trailer = _TRAILER[key.split("-")[0]]
        last = len(data) - trailer
        # Dense over the first 64 bytes (signature, headers) and spread evenly through the pixel data.
        cuts = sorted({1, 2, 3, 4, 8, 12, 16, 24, 33, 48, 64} | {64 + (last - 64) * i // (per_file - 11) for i in range(1, per_file - 10)})
        for cut in cuts:
            if 0 < cut <= last:
                specimens.append(Specimen(
                    name=f"cut-{cut}.{key.split('-')[0]}", data=data[:cut], family=f"truncated-{key}",
                    outcome=Outcome.REJECT, codes=DAMAGED,
                ))
    return specimens


def mutants(bases: dict[str, bytes], *, per_file: int = 14, seed: int = 6) -> list[Specimen]:
    rng = random.Random(seed)
    specimens = []
    for key, data in bases.items():
        for n in range(per_file):
            mutant = bytearray(data)
            for _ in range(rng.choice([1, 1, 2, 4, 8, 32])):
                # Half the flips land in the first 200 bytes, where headers decide what a decoder does.
                pos = rng.randrange(min(200, len(mutant))) if rng.random() < 0.5 else rng.randrange(len(mutant))
                mutant[pos] ^= 1 << rng.randrange(8)
            specimens.append(Specimen(
                name=f"mutant-{n}.{key.split('-')[0]}", data=bytes(mutant), family=f"bitflip-{key}",
                outcome=Outcome.EITHER, codes=MUTANT_CODES,
            ))
    return specimens


# --- decompression bombs ------------------------------------------------------------------------------------
def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height RGB and holds one tiny IDAT: all header, no pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _png_chunk(b"IEND", b""))


def jpeg_header_only(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header is patched to declare width x height; its scan is far too short."""
    data = bytearray(_encode(_picture((64, 64)), "JPEG", quality=80))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_header_only(width: int, height: int) -> bytes:
    """A small real lossy WebP whose VP8 key-frame header is patched to declare width x height (14 bits each)."""
    data = bytearray(_encode(_picture((64, 64)), "WEBP", quality=80))
    assert data[12:16] == b"VP8 " and data[23:26] == b"\x9d\x01\x2a"
    data[26:30] = struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
    return bytes(data)


def bombs(max_pixels: int) -> list[Specimen]:
    """Header-only files declaring just under and just over the pixel limit, and far over it."""
    side_under = int(max_pixels ** 0.5)
    while side_under * side_under > max_pixels:
        side_under -= 1
    side_over = side_under + 1
    assert side_over * side_over > max_pixels >= side_under * side_under
    over = frozenset({ErrorCode.IMAGE_TOO_MANY_PIXELS})
    specimens = []
    for fmt, make in (("png", png_header_only), ("jpeg", jpeg_header_only), ("webp", webp_header_only)):
        specimens.append(Specimen(f"bomb-over.{fmt}", make(side_over, side_over), "bomb-over", Outcome.REJECT, over))
        specimens.append(Specimen(f"bomb-huge.{fmt}", make(16383, 16383), "bomb-over", Outcome.REJECT, over))
        # Under the limit the decoder runs: it finds the pixels missing, or (libjpeg, which pads a short scan
        # that ends in a proper EOI marker with grey and only warns) decodes a grey picture. Either is fine:
        # the point is that memory and time stay bounded by the limit.
        specimens.append(Specimen(f"bomb-under.{fmt}", make(side_under, side_under), "bomb-under", Outcome.EITHER,
                                  frozenset({ErrorCode.IMAGE_TRUNCATED})))
    specimens.append(Specimen("bomb-max.png", png_header_only(2**31 - 1, 2**31 - 1), "bomb-over", Outcome.REJECT,
                              over | DAMAGED))  # PNG's own ceiling: some decoders call the header broken
    # A thin strip: few rows, many columns (PNG allows 2**31 - 1 pixels a side).
    specimens.append(Specimen("bomb-wide.png", png_header_only(max_pixels // 16 + 1, 16), "bomb-over", Outcome.REJECT,
                              over))
    specimens.append(Specimen("bomb-max.jpeg", jpeg_header_only(65535, 65535), "bomb-over", Outcome.REJECT, over))
    # A real, complete picture just under the limit (one colour, so the file is tiny): a big but honest photo.
    real = io.BytesIO()
    Image.new("1", (side_under, side_under), 1).save(real, "PNG", optimize=True)
    specimens.append(Specimen("big-but-honest.png", real.getvalue(), "bomb-under-real", Outcome.ACCEPT,
                              content_type="image/png"))
    return specimens


# --- strangers: other formats and non-images -----------------------------------------------------------------
def psd_bytes(width: int = 32, height: int = 24) -> bytes:
    """A minimal Photoshop file (Pillow reads PSD but cannot write it): raw RGB, no layers."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    return header + struct.pack(">I", 0) * 3 + struct.pack(">H", 0) + bytes([120]) * (width * height * 3)


def strangers() -> list[Specimen]:
    picture = _picture((64, 48))
    html = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
    svg = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
           b'<script>alert(1)</script><rect width="100" height="100" fill="red"/></svg>')
    refused = {
        "TIFF": _encode(picture, "TIFF"),
        "TIFF-deflate": _encode(picture, "TIFF", compression="tiff_adobe_deflate"),
        "GIF": _encode(picture, "GIF"),
        "BMP": _encode(picture, "BMP"),
        "ICO": _encode(picture, "ICO"),
        "PSD": psd_bytes(),
        "PPM": _encode(picture, "PPM"),
        "TGA": _encode(picture, "TGA"),
        "JPEG2000": _encode(picture, "JPEG2000"),
        # Pillow would run Ghostscript to *load* an EPS: refusing by format before loading keeps it from running.
        "EPS": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n" + b"0 0 moveto 100 100 lineto stroke\n" * 4,
    }
    specimens = [
        Specimen(f"photo.{name.lower()}", data, "other-format", Outcome.REJECT,
                 frozenset({ErrorCode.IMAGE_FORMAT_REFUSED, ErrorCode.IMAGE_UNREADABLE}))
        for name, data in refused.items()
    ]
    unreadable = {
        "drawing.svg": svg,
        "photo.jpg": html,  # HTML renamed .jpg, sent as image/jpeg
        "page.html": html,
        "doc.pdf": _encode(picture, "PDF"),
        "archive.zip": b"PK\x03\x04" + b"\x00" * 60,
        "script.php.jpg": b"<?php system($_GET['c']); ?>",
        "gifar.jpg": b"GIF89a/*" + b"\x00" * 10 + b"*/=alert(1);",
        "text.jpg": "not a photo — ünïcödé".encode(),
        "zeros.jpg": b"\x00" * 4096,
        "elf.jpg": b"\x7fELF\x02\x01\x01" + b"\x00" * 100,
    }
    specimens += [
        Specimen(name, data, "not-an-image", Outcome.REJECT,
                 frozenset({ErrorCode.IMAGE_UNREADABLE, ErrorCode.IMAGE_FORMAT_REFUSED, ErrorCode.IMAGE_TRUNCATED}))
        for name, data in unreadable.items()
    ]
    specimens.append(Specimen("empty.jpg", b"", "empty", Outcome.REJECT, frozenset({ErrorCode.IMAGE_EMPTY})))
    for byte in (b"\x00", b"\xff", b"\x89", b"R", b"<", b"G", b"I", b"8"):
        specimens.append(Specimen(f"one-byte-{byte.hex()}.jpg", byte, "one-byte", Outcome.REJECT,
                                  frozenset({ErrorCode.IMAGE_UNREADABLE})))
    specimens.append(Specimen("tiny.png", _encode(_picture((8, 8)), "PNG"), "too-small", Outcome.REJECT,
                              frozenset({ErrorCode.IMAGE_TOO_SMALL})))
    return specimens


# --- real photos in hostile wrappers: metadata, appended payloads, animation ---------------------------------
def _exif(*, make: bytes = SECRET + b"-MAKE", orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = make.decode()  # Make
    exif[0x9286] = (SECRET + b"-USERCOMMENT").decode()  # UserComment
    if orientation:
        exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: GPS_LATITUDE, 3: "E", 4: (2.0, 17.0, 40.15)}  # GPS IFD
    return exif


XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
       b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.4N">' + SECRET + b"-XMP"
       b"</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>")


def _jpeg_segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


def jpeg_with_segments(jpeg: bytes, segments: list[bytes]) -> bytes:
    """Insert raw marker segments right after SOI."""
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def wrapped() -> list[Specimen]:
    picture = _picture((200, 150), seed=3)
    jpeg = _encode(picture, "JPEG", quality=85)
    png = _encode(picture, "PNG")
    big_exif = _exif().tobytes() + SECRET + b"\x00" * 65000  # one APP1 near its 64 KB ceiling
    icc = b"\x00" * 128 + SECRET + b"-ICC"
    png_text = _png_text_info()
    specimens = [
        Specimen("exif-gps.jpg", _encode(picture, "JPEG", exif=_exif(), comment=SECRET + b"-COMMENT",
                                         icc_profile=icc), "metadata", Outcome.ACCEPT),
        Specimen("exif-rotated.jpg", _encode(picture, "JPEG", exif=_exif(orientation=6)), "metadata", Outcome.ACCEPT),
        Specimen("xmp.jpg", _encode(picture, "JPEG", xmp=XMP), "metadata", Outcome.ACCEPT),
        Specimen("exif-64k.jpg", jpeg_with_segments(jpeg, [_jpeg_segment(0xE1, big_exif[:65533])]),
                 "huge-exif", Outcome.ACCEPT),
        # 300 APPn segments of 64 KB each: 19 MB of metadata around a 10 KB photo (under the 25 MB limit).
        Specimen("exif-19mb.jpg", jpeg_with_segments(
            jpeg, [_jpeg_segment(0xE1 + (i % 14), (b"Exif\x00\x00" if i == 0 else b"") + SECRET + bytes(65500))
                   for i in range(300)]), "huge-exif", Outcome.ACCEPT),
        Specimen("comments.jpg", jpeg_with_segments(jpeg, [_jpeg_segment(0xFE, SECRET + b"-COM" * 1000)] * 50),
                 "huge-exif", Outcome.ACCEPT),
        Specimen("exif.png", _encode(picture, "PNG", exif=_exif(), pnginfo=png_text), "metadata", Outcome.ACCEPT,
                 content_type="image/png"),
        Specimen("exif-8mb.png", png[:33] + _png_chunk(b"eXIf", _exif().tobytes()[6:] + SECRET + bytes(8_000_000)) + png[33:],
                 "huge-exif", Outcome.ACCEPT, content_type="image/png"),
        Specimen("exif.webp", _encode(picture, "WEBP", exif=_exif(), xmp=XMP, icc_profile=icc), "metadata",
                 Outcome.ACCEPT, content_type="image/webp"),
        Specimen("html-after-iend.png", png + b"<html><script>alert(document.domain)</script></html>" + SECRET,
                 "appended-html", Outcome.ACCEPT, content_type="image/png"),
        Specimen("html-after-eoi.jpg", jpeg + b"<html><script>alert(document.domain)</script></html>" + SECRET,
                 "appended-html", Outcome.ACCEPT),
        Specimen("html-in-comment.jpg", _encode(picture, "JPEG", comment=b"<script>alert(1)</script>" + SECRET),
                 "appended-html", Outcome.ACCEPT),
        Specimen("cmyk.jpg", _encode(picture.convert("CMYK"), "JPEG"), "odd-mode", Outcome.ACCEPT),
        Specimen("grey-alpha.png", _encode(picture.convert("LA"), "PNG"), "odd-mode", Outcome.ACCEPT,
                 content_type="image/png"),
        Specimen("palette.png", _encode(picture.convert("P"), "PNG", transparency=0), "odd-mode", Outcome.ACCEPT,
                 content_type="image/png"),
        Specimen("16bit.png", _encode(picture.convert("I;16"), "PNG"), "odd-mode", Outcome.ACCEPT,
                 content_type="image/png"),
    ]
    # A zTXt chunk that inflates to 64 MB: Pillow's text-chunk ceiling stops it; the photo is refused or its
    # text dropped, and no memory blow-up either way.
    ztxt = _png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * 64_000_000, 9))
    specimens.append(Specimen("ztxt-bomb.png", png[:33] + ztxt + png[33:], "huge-exif", Outcome.EITHER,
                              DAMAGED, content_type="image/png"))
    # Animated: many frames; the first frame is the picture.
    frames = [_picture((96, 96), seed=i) for i in range(200)]
    specimens.append(Specimen("animated-200.webp", _encode(frames[0], "WEBP", save_all=True,
                                                           append_images=frames[1:], duration=20, quality=40),
                              "animated", Outcome.ACCEPT, content_type="image/webp"))
    specimens.append(Specimen("animated-200.png", _encode(frames[0], "PNG", save_all=True,
                                                          append_images=frames[1:], duration=20),
                              "animated", Outcome.ACCEPT, content_type="image/png"))
    specimens.append(Specimen("animated-200.gif", _encode(frames[0], "GIF", save_all=True,
                                                          append_images=frames[1:], duration=20),
                              "animated", Outcome.REJECT, frozenset({ErrorCode.IMAGE_FORMAT_REFUSED}),
                              content_type="image/gif"))
    return specimens


def _png_text_info():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", (SECRET + b"-TEXT").decode())
    info.add_text("XML:com.adobe.xmp", XMP.decode(), zip=True)
    info.add_itxt("Description", (SECRET + b"-ITXT").decode(), lang="en", tkey="Description")
    return info


# --- absurd names around a healthy photo ---------------------------------------------------------------------
ABSURD_NAMES = [
    "../../../../etc/passwd.jpg",
    "..\\..\\windows\\win.ini.jpg",
    "a" * 1000 + ".jpg",
    "photo.jpg.html",
    "photo.html",
    "<script>alert(1)</script>.jpg",
    "\"quoted\"; name=evil.jpg",
    "new\r\nline.jpg",
    "nul\x00byte.jpg",
    "\u202egpj.exe",
    "照片 фото صورة.jpg",
    "CON.jpg",
    ".htaccess",
    "%2e%2e%2fescape.jpg",
    "   .jpg",
    "emoji-👟-" + "🧦" * 100 + ".jpg",
]


def absurd_names() -> list[Specimen]:
    jpeg = _encode(_picture((120, 90), seed=9), "JPEG", quality=80)
    # Django refuses a multipart part whose headers pass 1 KB (a name that long is not a shopper's photo):
    # a clear 400 is the right answer there; every other name is just a name, and the photo is accepted.
    return [
        Specimen(name, jpeg, "absurd-name", Outcome.EITHER, frozenset({"malformed_request"}))
        if len(name.encode()) > 800 else Specimen(name, jpeg, "absurd-name", Outcome.ACCEPT)
        for name in ABSURD_NAMES
    ]


def corpus(*, max_pixels: int) -> list[Specimen]:
    """Every specimen, in a fixed order. ``max_pixels`` is the shop's pixel limit (the bombs sit around it)."""
    bases = base_photos()
    everything = truncations(bases) + mutants(bases) + bombs(max_pixels) + strangers() + wrapped() + absurd_names()
    unique, seen = [], set()
    for specimen in everything:  # short cuts of two JPEGs are the same bytes: keep one
        if (specimen.name, specimen.data) not in seen:
            seen.add((specimen.name, specimen.data))
            unique.append(specimen)
    return unique


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    specimens = corpus(max_pixels=40_000_000)
    for n, specimen in enumerate(specimens):
        safe = "".join(c if c.isalnum() or c in "-." else "_" for c in specimen.name)[:60]
        (out / f"{n:03d}-{specimen.family}-{safe}").write_bytes(specimen.data)
    print(f"{len(specimens)} files in {out}")


if __name__ == "__main__":
    main()
