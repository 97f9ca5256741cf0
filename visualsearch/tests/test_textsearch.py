"""Words and pictures: concepts from the classifier head, colours, two-language full text, photo + words."""

from decimal import Decimal

import numpy as np
import pytest
from PIL import Image

from catalog.models import ProductImage
from catalog.services import product_update
from conftest import demo_asset_bytes
from visualsearch.colours import picture_colours
from visualsearch.concepts import query_parse, vocabulary
from visualsearch.models import ImageEmbedding
from visualsearch.querycache import query_vector_remember
from visualsearch.selectors import SearchFilters, photo_query, products_near_photo
from visualsearch.textsearch import photo_refined_by_words, products_for_text

from .fixtures import query_copy

pytestmark = pytest.mark.django_db


def _names(result, catalogue):
    by_id = {p.id: name for name, p in catalogue.items()}
    return [by_id[hit.product_id] for hit in result.hits]


def test_the_vocabulary_names_every_imagenet_class_in_both_languages():
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    concepts = vocabulary().concepts
    assert [c.english for c in concepts] == list(_IMAGENET_CATEGORIES)
    assert all(c.chinese for c in concepts)
    assert concepts[770].english == "running shoe"


def test_a_query_splits_into_concepts_colours_and_words():
    shoes = query_parse("red running shoes")
    assert (sorted(shoes.concepts), shoes.colours, shoes.words) == ([770], ("red",), "")
    assert shoes.concept_terms == ("running shoes",)

    chinese = query_parse("我想要红色运动鞋")
    assert 770 in chinese.concepts and chinese.colours == ("red",) and chinese.words == ""

    # the longest term wins: red wine is a drink, not the colour red
    wine = query_parse("红酒")
    assert wine.colours == () and wine.concept_terms == ("红酒",)

    typo = query_parse("a guitr like this but blue")
    assert (typo.concepts, typo.colours, typo.words) == ({}, ("blue",), "guitr")


def test_embedding_stores_the_pictures_concepts_for_its_key(catalogue):
    row = ImageEmbedding.objects.get(image__product=catalogue["Hot Beverage"], model_key="effnet-lite1-avg-240")
    found = dict(zip(row.concepts.indices(), row.concepts.values(), strict=True))
    assert len(found) == 32
    # indexed: the concepts shown with at least 1 %, and the three likeliest whatever their share
    likeliest = sorted(found, key=found.get, reverse=True)
    assert row.concept_ids == sorted({i for i in found if found[i] >= 0.01} | set(likeliest[:3]))
    top = max(found, key=found.get)
    assert vocabulary().concepts[top].english in {"coffee mug", "cup"}
    assert 0.5 < sum(found.values()) <= 1.0  # the 32 likeliest of 1,000 classes


def test_words_no_name_holds_find_products_by_their_pictures(catalogue):
    # "coffee mug" and 马克杯 are in no product's text: the picture of the hot beverage shows one
    for text in ["coffee mug", "马克杯"]:
        result = products_for_text(text=text)
        assert _names(result, catalogue)[0] == "Hot Beverage"
        assert result.hits[0].by_pictures and not result.hits[0].by_words


def test_full_text_stems_reads_categories_and_tolerates_typos(catalogue):
    apples = products_for_text(text="apples")
    assert set(_names(apples, catalogue)[:2]) == {"Red Apple", "Green Apple"}
    assert all(hit.by_words for hit in apples.hits[:2])
    # the high heel's name has no "shoe": its category (Fashion/Shoes) has
    shoes = [name for name, hit in zip(_names(products_for_text(text="shoes"), catalogue), products_for_text(text="shoes").hits) if hit.by_words]
    assert set(shoes) == {"Athletic Shoe", "Hiking Boot", "High Heel"}
    assert _names(products_for_text(text="guitr"), catalogue) == ["Guitar"]


def test_chinese_names_are_searchable_by_word_and_by_character(catalogue):
    product_update(product=catalogue["Hiking Boot"], name_zh="登山靴", description_zh="防水的徒步靴子")
    for text in ["登山靴", "靴", "防水"]:
        result = products_for_text(text=text)
        assert _names(result, catalogue)[0] == "Hiking Boot", text
        assert result.hits[0].by_words


def test_colours_are_measured_on_the_product_pixels(catalogue):
    red = ProductImage.objects.get(product=catalogue["Red Apple"])
    green = ProductImage.objects.get(product=catalogue["Green Apple"])
    assert red.colour_keys[0] == "red" and green.colour_keys[0] == "green"
    assert red.colours[0]["share"] >= 0.5 and red.colours[0]["hex"].startswith("#")

    # a picture on a plain white background: the background is not a colour of the product
    flat = Image.new("RGB", (200, 200), (255, 255, 255))
    flat.paste((20, 60, 200), (60, 60, 140, 140))
    assert [c.key for c in picture_colours(flat)] == ["blue"]


def test_each_colour_value_is_named_once_per_process_and_always_the_same(monkeypatch):
    from visualsearch import colours

    monkeypatch.setattr(colours, "_named", None)
    converted = []
    real = colours._names_of
    monkeypatch.setattr(colours, "_names_of", lambda rgb: converted.append(len(rgb)) or real(rgb))
    pixels = np.random.default_rng(3).integers(0, 256, (5000, 3), dtype=np.uint8)
    distinct = len(np.unique(pixels, axis=0))

    first = colours.colour_names(pixels)
    again = colours.colour_names(np.concatenate([pixels[::-1], [[20, 60, 200]]]))

    # the second call converts only the one value it had not seen, and names the rest as the first did
    assert converted == [distinct, 1]
    assert np.array_equal(again[:-1], first[::-1])
    assert colours.PALETTE[again[-1]].key == "blue"
    assert np.array_equal(first, real(pixels))  # the table holds what naming each pixel afresh gives


def test_colour_words_filter_text_search(catalogue):
    assert _names(products_for_text(text="green apple"), catalogue)[0] == "Green Apple"
    result = products_for_text(text="apple", filters=SearchFilters(colours=("red",)))
    assert "Green Apple" not in _names(result, catalogue) and "Red Apple" in _names(result, catalogue)
    only_colour = products_for_text(text="green")
    assert "Green Apple" in _names(only_colour, catalogue) and "Red Apple" not in _names(only_colour, catalogue)


def test_a_word_filter_and_a_price_filter_never_drop_a_product_that_matches_both(catalogue):
    # The bug: words narrowed the visual neighbours after the k-NN query, so a photo with "shoe" showed
    # 3 products and adding min_price=100 showed 4. Now the words are a condition inside the query.
    for name in ["Athletic Shoe", "Hiking Boot", "Guitar"]:
        product_update(product=catalogue[name], description="Waterproof and light.")
    query = photo_query(query_copy(demo_asset_bytes("1f45f.webp")), find_objects=False)
    vector, narrowed, parsed = photo_refined_by_words(
        vector=query.vector, model_key=query.model_key, words="waterproof", filters=SearchFilters()
    )
    assert parsed.words == "waterproof" and np.allclose(vector, query.vector)

    words_only = [m.product.name for m in products_near_photo(vector=vector, model_key=query.model_key, filters=narrowed, limit=2)]
    with_price = [
        m.product.name
        for m in products_near_photo(
            vector=vector, model_key=query.model_key, filters=SearchFilters(words="waterproof", min_price=Decimal("100")), limit=2
        )
    ]
    assert words_only == ["Athletic Shoe", "Hiking Boot"]  # limit 2, and both are found: nothing narrowed away
    assert with_price == ["Hiking Boot", "Guitar"]


def test_concept_words_pull_a_photo_toward_what_they_name(catalogue):
    query = photo_query(query_copy(demo_asset_bytes("1fad6.webp")), find_objects=False)  # the teapot
    plain = {m.product.name: m.similarity for m in products_near_photo(vector=query.vector, model_key=query.model_key, limit=8)}
    vector, filters, parsed = photo_refined_by_words(
        vector=query.vector, model_key=query.model_key, words="guitar", filters=SearchFilters()
    )
    pulled = {
        m.product.name: m.similarity
        for m in products_near_photo(vector=vector, model_key=query.model_key, filters=filters, limit=8)
    }
    assert parsed.concept_terms == ("guitar",) and filters.words == ""  # a concept word narrows nothing
    assert len(plain) == len(pulled) == 8
    gains = {name: pulled[name] - plain[name] for name in plain}
    assert max(gains, key=gains.get) == "Guitar"


def test_search_api_answers_like_the_image_search(client, catalogue):
    body = client.get("/api/v1/search", {"q": "coffee mug", "limit": 3}).json()
    first = body["results"][0]
    beverage = catalogue["Hot Beverage"]
    assert body["model_key"] == "effnet-lite1-avg-240"
    assert body["query"] == {"concepts": ["coffee mug"], "colours": [], "words": ""}
    assert first["product_id"] == beverage.id and first["name"] == "Hot Beverage" and first["price"] == "12.00"
    assert first["found_by"] == ["pictures"]
    assert first["url"] == f"http://testserver/p/{beverage.slug}/"
    assert first["image_url"].startswith("http://testserver/media/products/")
    assert len(body["results"]) <= 3


def test_search_api_refuses_bad_input_with_clear_errors(client, catalogue):
    missing = client.get("/api/v1/search")
    assert missing.status_code == 400 and missing.json()["code"] == "invalid" and "q" in missing.json()["details"]
    colour = client.get("/api/v1/search", {"q": "shoe", "color": "sparkly"})
    assert colour.status_code == 400 and "color" in colour.json()["details"]


def test_image_search_api_takes_words_and_a_colour(client, catalogue):
    from django.core.files.uploadedfile import SimpleUploadedFile

    photo = query_copy(demo_asset_bytes("1f34e.webp"))  # the red apple
    body = client.post(
        "/api/v1/search/image",
        {"image": SimpleUploadedFile("q.jpg", photo, content_type="image/jpeg"), "color": "green", "limit": 3},
    ).json()
    assert [r["name"] for r in body["results"]][0] == "Green Apple"
    assert all("green" in r["colours"] for r in body["results"])


def test_a_picture_suggests_its_category_from_the_catalogue(client, catalogue):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from visualsearch.categories import product_category_suggestions

    # the high heel, left out of the vote, is among shoes: its neighbours say so
    suggestions = product_category_suggestions(product=catalogue["High Heel"])
    assert suggestions[0].category.name == "Shoes" and suggestions[0].score > 0.4
    assert abs(sum(s.score for s in suggestions) - 1.0) < 0.01 or len(suggestions) == 3

    photo = query_copy(demo_asset_bytes("1f97e.webp"))  # a hiking boot
    body = client.post(
        "/api/v1/categories/suggest", {"image": SimpleUploadedFile("q.jpg", photo, content_type="image/jpeg")}
    ).json()
    assert body["suggestions"][0]["slug"] == catalogue["Hiking Boot"].category.slug
    assert body["model_key"] == "effnet-lite1-avg-240"
    refused = client.post("/api/v1/categories/suggest", {"image": SimpleUploadedFile("q.jpg", b"not a photo")})
    assert refused.status_code == 400


def test_similar_in_another_colour_leaves_out_the_products_own_colour(catalogue):
    from recommendations.selectors import similar_in_other_colours

    others = similar_in_other_colours(product=catalogue["Red Apple"], limit=3)
    assert others[0].product.name == "Green Apple"
    assert all("red" not in m.image.colour_keys for m in others)
