"""Explain a match: the heat lands on the product, not on the busy background around it."""

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog.models import ProductImage
from conftest import demo_asset_bytes

pytestmark = pytest.mark.django_db


def _pasted_on_a_busy_background(asset: str, *, side=480, box=(250, 40, 450, 240), seed=5) -> tuple[bytes, tuple]:
    rng = np.random.default_rng(seed)
    # stripes, blobs and noise: a shelf, not a plain packshot background
    background = (rng.random((side // 8, side // 8, 3)) * 255).astype(np.uint8)
    photo = Image.fromarray(background).resize((side, side), Image.Resampling.NEAREST)
    for x in range(0, side, 40):
        photo.paste(tuple(int(v) for v in rng.integers(0, 255, 3)), (x, 0, x + 12, side))
    thing = Image.open(io.BytesIO(demo_asset_bytes(asset))).convert("RGBA")
    thing = thing.resize((box[2] - box[0], box[3] - box[1]))
    photo.paste(thing, box[:2], thing)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=90)
    return out.getvalue(), box


def _share_inside(heat: np.ndarray, box, side) -> float:
    cells = Image.fromarray((heat * 255).astype(np.uint8)).resize((side, side), Image.Resampling.BILINEAR)
    weights = np.asarray(cells, dtype=np.float64)
    x0, y0, x1, y1 = box
    return float(weights[y0:y1, x0:x1].sum() / weights.sum())


def test_the_heat_concentrates_on_the_pasted_product_not_the_background(catalogue):
    from visualsearch.explanations import match_explain

    photo, box = _pasted_on_a_busy_background("1fad6.webp")  # the teapot, a sixth of the photo
    teapot = ProductImage.objects.get(product=catalogue["Teapot"])
    explained = match_explain(data=photo, image_id=teapot.id)

    area = (box[2] - box[0]) * (box[3] - box[1]) / 480**2
    inside = _share_inside(explained.query_heat, box, 480)
    assert area < 0.2 and inside > 0.5, (area, inside)
    assert explained.query_heat.max() == 1.0 and explained.match_heat.shape == explained.query_heat.shape

    # in words: a shopper's copy of the teapot picture and the teapot share what the classifier sees in both
    from .fixtures import query_copy

    plain = match_explain(data=query_copy(demo_asset_bytes("1fad6.webp")), image_id=teapot.id)
    assert plain.shared_concepts and plain.shared_concepts[0][0] in {"teapot", "coffee mug", "cup", "pitcher"}
    strengths = [p for _, _, p in plain.shared_concepts]
    assert strengths == sorted(strengths, reverse=True) and min(strengths) >= 0.01


def test_explain_api_answers_heat_maps_concepts_and_colours(client, catalogue):
    from .fixtures import query_copy

    photo = query_copy(demo_asset_bytes("1fad6.webp"))
    teapot = ProductImage.objects.get(product=catalogue["Teapot"])
    body = client.post(
        "/api/v1/search/explain", {"image": SimpleUploadedFile("q.jpg", photo, content_type="image/jpeg"), "image_id": teapot.id}
    ).json()
    assert body["image_id"] == teapot.id and body["product_id"] == catalogue["Teapot"].id
    assert len(body["query_heat"]) == len(body["match_heat"]) >= 7 and max(map(max, body["query_heat"])) == 1.0
    assert body["close_threshold"] == 0.45 and 0 < body["similarity"] <= 1
    assert {"english", "chinese", "strength"} <= set(body["shared_concepts"][0])

    assert "pink" in body["shared_colours"] or "red" in body["shared_colours"]
    missing = client.post(
        "/api/v1/search/explain", {"image": SimpleUploadedFile("q.jpg", photo, content_type="image/jpeg"), "image_id": 999999}
    )
    assert missing.status_code == 404
