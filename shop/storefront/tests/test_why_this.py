""""Why this?" on photo-search results: computed only when asked, from the photo the page still holds; the panel
shows both pictures with their heat maps, the concepts and colours they share, in English and Chinese."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import demo_asset_bytes
from visualsearch.tests.fixtures import query_copy

pytestmark = pytest.mark.django_db


def _photo(data: bytes):
    return SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg")


def test_the_results_offer_why_this_and_computing_them_explains_nothing(client, catalogue):
    teapot = catalogue["Teapot"]
    with mock.patch("visualsearch.explanations.pair_explain") as explain:
        page = client.post("/search/photo/", {"image": _photo(query_copy(demo_asset_bytes("1fad6.webp")))}, follow=True)
    assert explain.call_count == 0  # no cost for a shopper who does not ask
    html = page.content.decode()
    image_id = teapot.images.get().id
    # hidden until the page's script knows it holds the photo (without it there is nothing to explain with)
    assert (f'<button type="button" class="why-this button secondary small" data-image="{image_id}" '
            f'aria-expanded="false" hidden>Why this?</button>') in html
    assert 'data-why-url="/search/photo/why/"' in html


def test_why_this_shows_both_heat_maps_and_what_the_pictures_share(client, catalogue):
    teapot = catalogue["Teapot"]
    response = client.post("/search/photo/why/", {
        "image": _photo(query_copy(demo_asset_bytes("1fad6.webp"))), "image_id": teapot.images.get().id})
    html = response.content.decode()
    assert response.status_code == 200
    pictures = re.findall(r'<img src="data:image/jpeg;base64,[A-Za-z0-9+/=]+" alt="([^"]+)"', html)
    assert pictures == ["Your photo, warm where it looks like the product", "Teapot, warm where it looks like your photo"]
    assert re.search(r'<strong>Both show:</strong> <span class="chip">teapot <small>\d+ %</small></span>', html)
    assert "Warm areas are where the two pictures look alike." in html


def test_why_this_in_chinese(client, catalogue):
    teapot = catalogue["Teapot"]
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    response = client.post("/search/photo/why/", {
        "image": _photo(query_copy(demo_asset_bytes("1fad6.webp"))), "image_id": teapot.images.get().id})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<strong>两者都有：</strong>" in html and '<span class="chip">茶壶 <small>' in html
    assert "暖色区域是两张图片相似的地方。" in html


def test_why_this_refuses_a_bad_photo_an_unknown_or_unpublished_picture_and_a_get(client, catalogue):
    teapot = catalogue["Teapot"]
    image_id = teapot.images.get().id
    bad = client.post("/search/photo/why/", {"image": _photo(b"GIF89a nope"), "image_id": image_id})
    assert bad.status_code == 400
    assert "This file is not a picture we can read." in bad.content.decode()
    missing = client.post("/search/photo/why/", {"image_id": image_id})
    assert missing.status_code == 400 and "No photo was sent." in missing.content.decode()
    unknown = client.post("/search/photo/why/", {"image": _photo(query_copy(demo_asset_bytes("1fad6.webp"))),
                                                 "image_id": 999999})
    assert unknown.status_code == 404
    teapot.is_published = False
    teapot.save(update_fields=["is_published"])
    hidden = client.post("/search/photo/why/", {"image": _photo(query_copy(demo_asset_bytes("1fad6.webp"))),
                                                "image_id": image_id})
    assert hidden.status_code == 404 and "This result cannot be explained." in hidden.content.decode()
    assert client.get("/search/photo/why/").status_code == 405


def test_staff_see_every_results_heat_maps_rank_model_and_threshold_on_identify(admin_client, catalogue):
    page = admin_client.post("/admin/identify/", {"photo": _photo(query_copy(demo_asset_bytes("1fad6.webp")))})
    html = page.content.decode()
    assert page.status_code == 200
    rows = re.findall(r"<tr>\s*<td>(\d+)</td>", html)
    assert rows == [str(n) for n in range(1, 9)]  # the eight products, ranked
    assert len(re.findall(r'<img class="heat" src="data:image/jpeg;base64,', html)) == 16
    assert 'alt="the photo, warm where it looks like Teapot"' in html
    assert "Model effnet-lite1-avg-240; close-match threshold 0.450" in html
