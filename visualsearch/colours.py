"""Colour as an attribute: the named colours of a picture's product pixels, in a perceptual space. No Django here.

Pixels are converted to CIE L*a*b* with Pillow's colour management (ImageCms, sRGB -> Lab) and each one is named
by the nearest of a small palette of shop colour names (ΔE in Lab), with the achromatic ones (black, grey,
white) decided on lightness when the chroma is low: naming pixels directly gives shares per name without a
clustering step, and the names are what shoppers filter by. Background pixels are left out: on a plain-background
packshot they are the ones close to the corner colour; on a scene the salient-object mask says which are the
product's (see ``visualsearch.embedding.objects``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms


@dataclass(frozen=True)
class NamedColour:
    key: str
    english: str
    chinese: str
    rgb: tuple[int, int, int]
    """The swatch shown, and the first of the points in Lab that name pixels."""
    shades: tuple[tuple[int, int, int], ...] = ()
    """More reference points (dark, light, bluish...): a name covers a region of Lab, not one point, and without
    them a light cyan sits closer to beige than to a mid blue (lightness outweighs hue)."""
    synonyms_en: tuple[str, ...] = ()
    synonyms_zh: tuple[str, ...] = ()
    achromatic: bool = False


PALETTE: tuple[NamedColour, ...] = (
    NamedColour("red", "red", "红色", (200, 30, 35), ((150, 20, 30), (225, 45, 60)), ("scarlet", "crimson"), ("红", "大红")),
    NamedColour("orange", "orange", "橙色", (240, 130, 30), ((250, 160, 90),), (), ("橙", "橘色", "橘黄")),
    NamedColour("yellow", "yellow", "黄色", (245, 210, 40), ((250, 235, 120), (220, 180, 20)), (), ("黄",)),
    NamedColour(
        "green", "green", "绿色", (50, 150, 60), ((20, 90, 40), (140, 210, 120), (40, 170, 130), (120, 140, 40)),
        ("olive",), ("绿",),
    ),
    NamedColour(
        "blue", "blue", "蓝色", (40, 90, 200), ((20, 40, 110), (90, 180, 240), (60, 200, 230), (0, 150, 170)),
        ("navy", "turquoise", "teal", "cyan"), ("蓝", "藏青", "天蓝"),
    ),
    NamedColour("purple", "purple", "紫色", (130, 60, 160), ((190, 150, 220), (80, 40, 110)), ("violet", "lilac"), ("紫",)),
    NamedColour(
        "pink", "pink", "粉色", (240, 140, 180), ((230, 60, 130), (250, 200, 215)), ("rose",), ("粉", "粉红", "粉红色")
    ),
    NamedColour(
        "brown", "brown", "棕色", (130, 80, 40), ((90, 55, 30), (170, 120, 80)), ("tan", "chocolate"), ("棕", "咖啡色", "褐色")
    ),
    NamedColour("beige", "beige", "米色", (225, 205, 165), ((240, 225, 200),), ("cream", "sand"), ("米黄", "奶油色")),
    NamedColour("black", "black", "黑色", (20, 20, 20), (), (), ("黑",), achromatic=True),
    NamedColour("grey", "grey", "灰色", (128, 128, 128), (), ("gray", "silver"), ("灰", "银色"), achromatic=True),
    NamedColour("white", "white", "白色", (245, 245, 245), (), (), ("白",), achromatic=True),
)
BY_KEY = {colour.key: colour for colour in PALETTE}

CHROMA_ACHROMATIC = 14.0
"""Below this chroma (sqrt(a*² + b*²)) a pixel is black, grey or white by its lightness: measured on the demo
pictures, the shading of white and grey products stays under 12 while pale colours (beige, pink) are above 15."""
SHARE_KEPT = 0.12
"""A colour is one of the picture's colours when at least 12 % of the product's pixels have it; below that it is
a detail (a logo, a shadow) that a shopper filtering by colour would not call the product's colour."""
SIDE = 96
"""Pictures are named at 96 px on the long side: shares move by under 1 % against full size, at 2 ms a picture."""


@dataclass(frozen=True)
class ColourShare:
    key: str
    share: float
    hex: str
    """The mean sRGB of the pixels that carry this name: the swatch of this picture's shade of it."""


@functools.cache
def _to_lab() -> ImageCms.ImageCmsTransform:
    return ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB")


def lab(pixels: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 sRGB -> (N, 3) float L* in [0, 100], a*, b* in about [-128, 127]."""
    image = Image.fromarray(np.ascontiguousarray(pixels.reshape(1, -1, 3), dtype=np.uint8), "RGB")
    converted = np.asarray(ImageCms.applyTransform(image, _to_lab()), dtype=np.float32).reshape(-1, 3)
    # Pillow's LAB mode stores L* scaled to 0..255 and a*, b* as signed bytes read back as 0..255.
    converted[:, 0] *= 100.0 / 255.0
    converted[:, 1:] = np.where(converted[:, 1:] > 127, converted[:, 1:] - 256, converted[:, 1:])
    return converted


@functools.cache
def _references() -> tuple[np.ndarray, np.ndarray]:
    """Lab points of the chromatic names' shades and, for each, its palette index."""
    points, owners = [], []
    for index, colour in enumerate(PALETTE):
        if not colour.achromatic:
            for rgb in (colour.rgb, *colour.shades):
                points.append(rgb)
                owners.append(index)
    return lab(np.asarray(points, dtype=np.uint8)), np.asarray(owners)


_named: np.ndarray | None = None
"""Each 24-bit sRGB value's palette index once named in this process (-1: not yet), 16 MiB, filled as pictures
come: a value is named the same way every time, so a worker names each distinct colour once in its life."""


def colour_names(pixels: np.ndarray) -> np.ndarray:
    """The palette index naming each (N, 3) sRGB pixel.

    Only values this process has not named before are converted to Lab and matched to the shades (``_named``), and
    each of those once: a product picture holds far fewer distinct values than pixels (flat packshot backgrounds,
    smooth shading), and pictures of one catalogue share most of theirs. Threads that name the same value at once
    write the same index, so the table needs no lock."""
    global _named
    if _named is None:
        _named = np.full(1 << 24, -1, dtype=np.int8)
    pixels = np.asarray(pixels, dtype=np.uint8).reshape(-1, 3)
    packed = (pixels[:, 0].astype(np.int32) << 16) | (pixels[:, 1].astype(np.int32) << 8) | pixels[:, 2]
    names = _named[packed]
    unknown = names < 0
    if unknown.any():
        distinct = np.unique(packed[unknown])
        rgb = np.stack([(distinct >> 16) & 255, (distinct >> 8) & 255, distinct & 255], axis=1).astype(np.uint8)
        _named[distinct] = _names_of(rgb)
        names = _named[packed]
    return names.astype(np.intp)


def _names_of(pixels: np.ndarray) -> np.ndarray:
    values = lab(pixels)
    chroma = np.hypot(values[:, 1], values[:, 2])
    reference, owners = _references()
    # Nearest shade by squared distance, |r|^2 - 2 v.r (the |v|^2 term is the same for every shade): one matrix
    # product instead of an (N, shades, 3) array.
    reference64 = reference.astype(np.float64)
    nearest = owners[np.argmin((reference64 ** 2).sum(axis=1) - 2.0 * values.astype(np.float64) @ reference64.T, axis=1)]
    lightness = values[:, 0]
    achromatic = np.where(lightness < 25, _index("black"), np.where(lightness > 82, _index("white"), _index("grey")))
    return np.where(chroma < CHROMA_ACHROMATIC, achromatic, nearest)


def _index(key: str) -> int:
    return next(i for i, colour in enumerate(PALETTE) if colour.key == key)


def _background_mask(array: np.ndarray) -> np.ndarray | None:
    """True on product pixels of a plain-background picture (the four corners agree), else None (a scene)."""
    corners = array[[0, 0, -1, -1], [0, -1, 0, -1]].astype(np.int32)
    if int(np.ptp(corners, axis=0).max()) > 30:
        return None
    background = np.median(corners, axis=0)
    return np.abs(array.astype(np.int32) - background).max(axis=2) > 24


def picture_colours(
    image: Image.Image, *, object_mask: Callable[[Image.Image], np.ndarray | None] | None = None
) -> list[ColourShare]:
    """The named colours of the product in ``image``, largest share first (each ≥ ``SHARE_KEPT``).

    ``object_mask`` finds the product's pixels on a scene (H×W floats in [0, 1] at any size, e.g. the
    salient-object map); it is called only when the picture has no plain background. Without a mask the whole
    picture counts.
    """
    picture = image.convert("RGB")
    picture.thumbnail((SIDE, SIDE), Image.Resampling.BILINEAR)
    array = np.asarray(picture)
    mask = _background_mask(array)
    if mask is None and object_mask is not None and (found := object_mask(image)) is not None:
        object_mask = found
        resized = Image.fromarray((np.clip(found, 0, 1) * 255).astype(np.uint8)).resize(
            picture.size, Image.Resampling.BILINEAR
        )
        mask = np.asarray(resized) > 127
    if mask is None or mask.sum() < 0.02 * mask.size:
        mask = np.ones(array.shape[:2], dtype=bool)
    pixels = array[mask]
    names = colour_names(pixels)
    counts = np.bincount(names, minlength=len(PALETTE))
    shares = counts / max(int(counts.sum()), 1)
    found = []
    for index in np.argsort(-shares):
        if shares[index] < SHARE_KEPT:
            break
        mean = pixels[names == index].mean(axis=0)
        found.append(
            ColourShare(
                key=PALETTE[index].key,
                share=round(float(shares[index]), 3),
                hex="#{:02x}{:02x}{:02x}".format(*(int(round(v)) for v in mean)),
            )
        )
    return found


def colour_terms() -> dict[str, str]:
    """Every word (English and Chinese) that names a palette colour -> the colour's key."""
    terms: dict[str, str] = {}
    for colour in PALETTE:
        for term in (colour.english, colour.chinese, *colour.synonyms_en, *colour.synonyms_zh):
            terms[term.lower()] = colour.key
    return terms
