"""The partner API's searches are logged like the shop's, and partner apps report what their users did."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import demo_asset_bytes
from recommendations.models import Action, Shown
from shop.partners.models import ApiKey
from shop.partners.tests.api.fixtures import api, key_for
from visualsearch.tests.fixtures import query_copy

pytestmark = pytest.mark.django_db


def _photo():
    return SimpleUploadedFile("q.jpg", query_copy(demo_asset_bytes("1f3b8.webp")), content_type="image/jpeg")


def test_a_photo_search_through_the_api_is_logged_and_its_actions_are_recorded(catalogue, partner, partner_reader):
    body = partner_reader.post("/api/v1/search/image", {"image": _photo(), "limit": 3}, format="multipart").json()
    # the list still waits in the log's buffer when the partner reports the purchase: the action finds it anyway
    assert Shown.objects.count() == 0
    second = body["results"][1]["product_id"]

    response = partner_reader.post("/api/v1/search/actions",
                                   {"search_id": body["search_id"], "product_id": second, "action": "buy"},
                                   format="json")

    assert response.status_code == 201
    assert response.json() == {"search_id": body["search_id"], "product_id": second, "action": "buy", "rank": 2}
    assert list(Action.objects.values_list("kind", "product_id", "rank")) == [("buy", second, 2)]
    shown = Shown.objects.get()
    assert body["search_id"] == shown.id
    assert (shown.kind, shown.channel, shown.visitor) == ("photo", "api", f"api:{ApiKey.objects.get(owner=partner).prefix}")
    assert shown.product_ids == [r["product_id"] for r in body["results"]]
    assert shown.vector_key == "effnet-lite1-avg-240" and len(shown.query_vector) == 1280


def test_actions_on_another_keys_search_or_a_product_it_did_not_show_are_404_and_record_nothing(
    catalogue, partner, other_partner, partner_reader
):
    body = partner_reader.get("/api/v1/search", {"q": "guitar"}).json()
    search_id, shown_product = body["search_id"], body["results"][0]["product_id"]
    other = api(key_for(other_partner, "read"))
    not_shown = catalogue["Teapot"].id

    answers = [
        other.post("/api/v1/search/actions", {"search_id": search_id, "product_id": shown_product, "action": "open"},
                   format="json"),
        partner_reader.post("/api/v1/search/actions", {"search_id": search_id, "product_id": not_shown,
                                                       "action": "open"}, format="json"),
        partner_reader.post("/api/v1/search/actions", {"search_id": search_id, "product_id": shown_product,
                                                       "action": "stare"}, format="json"),
        api().post("/api/v1/search/actions", {"search_id": search_id, "product_id": shown_product, "action": "open"},
                   format="json"),
    ]

    assert [(a.status_code, a.json()["code"]) for a in answers] == [
        (404, "not_found"), (404, "not_found"), (400, "invalid"), (401, "not_authenticated")]
    assert Action.objects.count() == 0
