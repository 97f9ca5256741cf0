"""Photos for the staff tools' tests, made from the demo catalogue's pictures."""

from __future__ import annotations

import io
import zipfile

from PIL import Image, ImageOps

from conftest import demo_asset_bytes
from visualsearch.tests.fixtures import query_copy


def recoloured(asset: str, *, shift: int = 128) -> bytes:
    """A demo picture with its hues turned half way round (a blue teapot for a red one): another colour of the
    same shape, what a wrong variant or a counterfeit looks like to the model."""
    image = Image.open(io.BytesIO(demo_asset_bytes(asset))).convert("RGBA")
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, mask=image.getchannel("A"))
    h, s, v = flat.convert("HSV").split()
    h = h.point(lambda x: (x + shift) % 256)
    out = io.BytesIO()
    Image.merge("HSV", (h, s, v)).convert("RGB").resize((300, 300)).save(out, "JPEG", quality=85)
    return out.getvalue()


def second_picture(asset: str) -> bytes:
    """Another catalogue picture of the same product: mirrored, tighter, on grey."""
    image = Image.open(io.BytesIO(demo_asset_bytes(asset))).convert("RGBA")
    flat = Image.new("RGB", image.size, (225, 225, 225))
    flat.paste(image, mask=image.getchannel("A"))
    flat = ImageOps.mirror(flat).crop((20, 20, flat.width - 20, flat.height - 20))
    out = io.BytesIO()
    flat.save(out, "JPEG", quality=90)
    return out.getvalue()


def delivery_photo(asset: str, *, n: int = 0) -> bytes:
    """A member of staff's photo of a delivered item: cropped, resized, re-encoded, a little different each time."""
    return query_copy(demo_asset_bytes(asset), crop=0.1 + 0.04 * n, size=(300 + 10 * n, 300), quality=75 - n)


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()
