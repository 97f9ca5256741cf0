import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import demo_asset_bytes
from visualsearch.models import ModelVersion
from visualsearch.selectors import (
    CLOSE_MATCH_SIMILARITY,
    close_match_threshold,
    is_close_match,
    photo_embed,
    products_near_vector,
)

from .fixtures import query_copy

pytestmark = pytest.mark.django_db
DEFAULT = "effnet-lite1-avg-240"


def test_the_default_key_has_a_calibrated_threshold():
    assert 0.3 < CLOSE_MATCH_SIMILARITY[DEFAULT] < 0.95
    assert close_match_threshold(DEFAULT) == CLOSE_MATCH_SIMILARITY[DEFAULT]
    assert is_close_match(similarity=0.99, model_key=DEFAULT) is True
    assert is_close_match(similarity=0.05, model_key=DEFAULT) is False


def test_setting_overrides_and_a_trained_version_brings_its_own(settings):
    ModelVersion.objects.create(key="x@adapter-1", base_key=DEFAULT, metrics={"close_match_similarity": 0.42})
    assert close_match_threshold("x@adapter-1") == 0.42
    assert close_match_threshold("no-threshold-key") is None
    assert is_close_match(similarity=0.01, model_key="no-threshold-key") is True

    settings.VISUALSEARCH_CLOSE_MATCH_SIMILARITY = 0.9
    assert close_match_threshold("x@adapter-1") == 0.9


def test_a_near_copy_is_a_close_match(catalogue):
    key, vector = photo_embed(query_copy(demo_asset_bytes("1f3b8.webp")))

    first = products_near_vector(vector=vector, model_key=key, limit=3)[0]

    assert first.product == catalogue["Guitar"] and first.close is True


def test_search_page_says_no_close_match_and_still_shows_the_nearest(client, catalogue, settings):
    settings.VISUALSEARCH_CLOSE_MATCH_SIMILARITY = 0.999  # nothing is that close to a cropped copy
    upload = SimpleUploadedFile("q.jpg", query_copy(demo_asset_bytes("1f3b8.webp")), content_type="image/jpeg")

    response = client.post("/search/photo/", {"image": upload}, follow=True)

    html = response.content.decode()
    assert "No close match in the shop" in html
    assert "Guitar" in html
    # and the page does not contradict itself, nor show raw scores
    assert "look like your photo" not in html and "Close match" not in html and "match 0." not in html


def test_search_page_marks_close_matches_in_plain_words(client, catalogue):
    upload = SimpleUploadedFile("q.jpg", query_copy(demo_asset_bytes("1f3b8.webp")), content_type="image/jpeg")

    html = client.post("/search/photo/", {"image": upload}, follow=True).content.decode()

    assert "No close match in the shop" not in html and "look like your photo" in html
    assert html.count('class="badge close-match"') >= 1 and "match 0." not in html
