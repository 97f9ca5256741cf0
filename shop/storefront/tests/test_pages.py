import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import demo_asset_bytes, media_files, photo_bytes
from visualsearch.tests.fixtures import query_copy

pytestmark = pytest.mark.django_db


def test_home_category_and_product_pages(client, catalogue):
    shoe = catalogue["Athletic Shoe"]

    home = client.get("/")
    assert home.status_code == 200 and "Athletic Shoe" in home.content.decode()

    page = client.get(shoe.category.get_absolute_url()).content.decode()
    assert "Hiking Boot" in page and "Teapot" not in page

    product = client.get(shoe.get_absolute_url())
    assert product.status_code == 200
    similar = [m.product.name for m in product.context["similar"]]
    assert len(similar) == 7 and "Athletic Shoe" not in similar
    assert 'alt="Athletic Shoe"' in product.content.decode()


def test_photo_search_page_post_redirects_to_results_and_keeps_no_photo(client, catalogue, _media_root):
    upload = SimpleUploadedFile("q.jpg", query_copy(demo_asset_bytes("1fad6.webp")), content_type="image/jpeg")

    response = client.post("/search/photo/", {"image": upload})

    assert response.status_code == 302
    assert response["Location"].startswith("/search/photo/?q=")
    assert media_files(_media_root) == [p for p in media_files(_media_root) if "products/" in str(p)]
    files_before = len(media_files(_media_root))

    results = client.get(response["Location"])
    assert results.status_code == 200
    assert results.context["results"][0].product.name == "Teapot"
    assert len(media_files(_media_root)) == files_before

    # the same query, narrowed by price, without uploading again
    narrowed = client.get(response["Location"] + "&max_price=20")
    names = [m.product.name for m in narrowed.context["results"]]
    assert names[0] == "Hot Beverage" and "Teapot" not in names


def test_photo_search_page_explains_a_bad_file(client, catalogue):
    response = client.post("/search/photo/", {"image": SimpleUploadedFile("x.jpg", b"hello", content_type="image/jpeg")})
    assert response.status_code == 400
    assert "not a picture we can read" in response.content.decode()


def test_photo_search_page_without_a_photo(client, catalogue):
    response = client.post("/search/photo/", {})
    assert response.status_code == 400
    assert "No photo was sent" in response.content.decode()


def test_expired_query_asks_for_the_photo_again(client, db):
    response = client.get("/search/photo/?q=doesnotexist")
    assert response.status_code == 200
    assert "expired" in response.content.decode()


def test_text_search(client, catalogue):
    response = client.get("/search/?q=apple")
    names = sorted(p.name for p in response.context["page"])
    assert names == ["Green Apple", "Red Apple"]


def test_photo_with_two_things_shows_a_chip_for_each_and_a_tap_searches_the_other(client, catalogue):
    import re

    from django.core.files.uploadedfile import SimpleUploadedFile

    from visualsearch.tests.fixtures import two_things_photo

    photo, _, _ = two_things_photo()
    page = client.post("/search/photo/", {"image": SimpleUploadedFile("p.jpg", photo, content_type="image/jpeg")}, follow=True)

    html = page.content.decode()
    assert html.count('class="chip') == 2 and 'aria-current="true" data-index="0"' in html
    link = re.search(r'href="\?([^"]+)&amp;object=1"', html).group(1).replace("&amp;", "&")

    def first_card(page_html: str) -> str:
        return re.search(r"<h3>([^<]+)</h3>", page_html.split('class="grid results"', 1)[1]).group(1)

    leads = {first_card(client.get(f"/search/photo/?{link}&object={n}").content.decode()) for n in (0, 1)}
    assert leads == {"Guitar", "Teapot"}  # each chip searches its own thing
    assert 'aria-current="true" data-index="1"' in client.get(f"/search/photo/?{link}&object=1").content.decode()


def test_a_framed_part_of_the_photo_gets_no_chips(client, catalogue):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from visualsearch.tests.fixtures import two_things_photo

    photo, _, _ = two_things_photo()
    page = client.post(
        "/search/photo/", {"image": SimpleUploadedFile("p.jpg", photo, content_type="image/jpeg"), "cropped": "1"}, follow=True
    )

    assert page.status_code == 200 and 'class="chip' not in page.content.decode()


def _in_chinese(client):
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})


def test_a_too_large_photo_is_explained_in_chinese_with_its_limit(client, db, settings):
    settings.VISUALSEARCH_MAX_UPLOAD_BYTES = 2 * 1024 * 1024
    _in_chinese(client)
    upload = SimpleUploadedFile("big.jpg", b"\xff\xd8\xff" + b"0" * (3 * 1024 * 1024), content_type="image/jpeg")

    response = client.post("/search/photo/", {"image": upload})

    assert response.status_code == 400
    assert "文件过大（最大 2 MB）。" in response.content.decode()
    assert "too large" not in response.content.decode()


def test_a_refused_format_is_named_in_chinese(client, db):
    _in_chinese(client)
    upload = SimpleUploadedFile("a.gif", photo_bytes(fmt="GIF"), content_type="image/gif")

    page = client.post("/search/photo/", {"image": upload}).content.decode()

    assert "不接受 GIF 文件。请使用 JPEG、PNG、WebP、HEIC 或 AVIF 照片。" in page


def test_every_photo_message_is_marked_for_translation_and_translated():
    from django.utils import translation

    from shop.storefront.messages import PAGE_MESSAGES
    from visualsearch.errors import MESSAGES

    assert PAGE_MESSAGES == list(MESSAGES.values())
    with translation.override("zh-hans"):
        untranslated = [text for text in PAGE_MESSAGES if translation.gettext(text) == text]
    assert untranslated == []


def test_the_page_re_encodes_only_the_types_the_intake_accepts(client, db):
    from visualsearch.intake import ALLOWED_FORMATS, ALLOWED_MEDIA_TYPES

    page = client.get("/search/photo/").content.decode()

    assert set(ALLOWED_MEDIA_TYPES.values()) <= set(ALLOWED_FORMATS)
    assert f'data-accepted-types="{" ".join(ALLOWED_MEDIA_TYPES)}"' in page
    assert "image/gif" not in ALLOWED_MEDIA_TYPES and "GIF" not in ALLOWED_FORMATS


def test_photo_search_with_a_price_that_is_not_a_number_says_which_box(client, db):
    response = client.get("/search/photo/?q=some-query&min_price=abc")

    assert response.status_code == 400
    assert response.context["error"] == "Min price: Enter the price as a number, for example 25 or 19.99."


def test_with_only_recognised_regions_no_chip_claims_the_first_search(client, catalogue, monkeypatch):
    import re

    from django.core.files.uploadedfile import SimpleUploadedFile

    import visualsearch.selectors as selectors
    from visualsearch.tests.fixtures import two_things_photo

    photo, _, _ = two_things_photo()
    monkeypatch.setattr(selectors, "_objects_in", lambda picture: ([], None))  # nothing salient: regions only
    page = client.post("/search/photo/", {"image": SimpleUploadedFile("p.jpg", photo, content_type="image/jpeg")}, follow=True)

    html = page.content.decode()
    assert html.count('class="chip') == 2 and 'aria-current="true"' not in html  # the whole photo leads
    link = re.search(r'href="\?([^"]+)&amp;object=1"', html).group(1).replace("&amp;", "&")
    assert 'aria-current="true" data-index="1"' in client.get(f"/search/photo/?{link}&object=1").content.decode()
