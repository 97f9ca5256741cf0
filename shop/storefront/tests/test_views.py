"""Listings with filters and sorting, text search with filters, photo search narrowed by words,
"Inspired by what you viewed" and the language switch."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.tests.factories import CategoryFactory, ProductFactory
from catalog.services import _search_vector_refresh
from conftest import demo_asset_bytes, photo_bytes
from visualsearch.services import product_image_add
from visualsearch.tests.fixtures import query_copy

pytestmark = pytest.mark.django_db


@pytest.fixture
def lamps():
    home = CategoryFactory(name="Home", slug="home")
    lighting = CategoryFactory(name="Lighting", slug="lighting", parent=home)
    other = CategoryFactory(name="Garden", slug="garden")
    made = {
        "Desk lamp": ProductFactory(name="Desk lamp", category=lighting, price=Decimal("30.00"), stock_quantity=4),
        "Floor lamp": ProductFactory(name="Floor lamp", category=lighting, price=Decimal("120.00"), stock_quantity=0),
        "Vase": ProductFactory(name="Vase", category=home, price=Decimal("15.00"), stock_quantity=2),
        "Garden lamp": ProductFactory(name="Garden lamp", category=other, price=Decimal("45.00"), stock_quantity=9),
        "Hidden lamp": ProductFactory(name="Hidden lamp", category=lighting, is_published=False),
    }
    for n, product in enumerate(made.values()):
        _search_vector_refresh(product.id)
        # listings show products with a picture; each gets its own (one hash per product)
        product_image_add(product=product, data=photo_bytes(colour=(40 * n, 90, 160)), enqueue=False)
    return made


def _names(response):
    return [p.name for p in response.context["page"]]


def test_category_page_includes_subcategories_and_filters_by_price_and_stock(client, lamps):
    assert sorted(_names(client.get("/c/home/"))) == ["Desk lamp", "Floor lamp", "Vase"]
    assert sorted(_names(client.get("/c/home/?min_price=20&max_price=150"))) == ["Desk lamp", "Floor lamp"]
    assert _names(client.get("/c/home/?min_price=20&in_stock=on")) == ["Desk lamp"]


def test_category_page_sorts(client, lamps):
    assert _names(client.get("/c/home/?sort=price")) == ["Vase", "Desk lamp", "Floor lamp"]
    assert _names(client.get("/c/home/?sort=-price")) == ["Floor lamp", "Desk lamp", "Vase"]
    assert _names(client.get("/c/home/?sort=name")) == ["Desk lamp", "Floor lamp", "Vase"]


def test_category_page_with_bad_filters_shows_everything_and_says_why(client, lamps):
    response = client.get("/c/home/?min_price=100&max_price=10&sort=nonsense")
    assert response.status_code == 200
    assert sorted(_names(response)) == ["Desk lamp", "Floor lamp", "Vase"]
    assert "The minimum price is above the maximum price." in response.content.decode()


def test_a_price_that_is_not_a_number_is_explained_and_the_other_filters_still_apply(client, lamps):
    response = client.get("/c/home/?min_price=abc&max_price=50")

    assert response.status_code == 200
    assert sorted(_names(response)) == ["Desk lamp", "Vase"]  # max_price still applies
    assert "Min price: Enter the price as a number, for example 25 or 19.99." in response.content.decode()
    assert 'class="has-error"' in response.content.decode()


def test_a_price_that_is_not_a_number_is_explained_in_chinese(client, lamps):
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})

    page = client.get("/search/?q=lamp&min_price=abc").content.decode()

    assert "最低价：请以数字输入价格，例如 25 或 19.99。" in page


def test_category_page_lists_newest_first_and_offers_no_relevance(client, lamps):
    response = client.get("/c/home/")

    assert _names(response) == ["Vase", "Floor lamp", "Desk lamp"]  # created last, shown first
    choices = [value for value, _ in response.context["form"].fields["sort"].choices]
    assert choices == ["new", "price", "-price", "name"]
    assert "Relevance" not in response.content.decode()


def test_text_search_offers_relevance_first(client, lamps):
    response = client.get("/search/?q=lamp")

    choices = [value for value, _ in response.context["form"].fields["sort"].choices]
    assert choices == ["", "new", "price", "-price", "name"]
    assert '<option value="" selected>Relevance</option>' in response.content.decode()


def test_category_address_in_other_letter_case_redirects_to_the_page(client, lamps):
    response = client.get("/c/Home/?sort=price")

    assert response.status_code == 301 and response["Location"] == "/c/home/?sort=price"
    assert client.get("/c/nope/").status_code == 404


def test_breadcrumbs_show_the_whole_path(client, lamps):
    page = client.get(lamps["Desk lamp"].get_absolute_url()).content.decode()
    crumbs = page[page.index('class="crumbs"'):page.index("</nav>", page.index('class="crumbs"'))]

    assert crumbs.count("<a ") == 3
    assert '<a href="/c/home/">Home</a> / <a href="/c/lighting/">Lighting</a> / <span aria-current="page">Desk lamp' in crumbs


def test_category_menus_list_the_tree(client, lamps):
    photo = client.get("/search/photo/").content.decode()
    text = client.get("/search/?q=lamp").content.decode()

    for page in (photo, text):
        menu = page[page.index('<select name="category"'):page.index("</select>", page.index('<select name="category"'))]
        assert [label for label in __import__("re").findall(r">([^<]+)</option>", menu)] == [
            "All categories", "Garden", "Home", "\u00a0" * 4 + "Lighting"
        ]


def test_products_without_a_picture_are_not_listed(client, lamps):
    bare = ProductFactory(name="Bare lamp", category=lamps["Desk lamp"].category)
    _search_vector_refresh(bare.id)

    assert "Bare lamp" not in _names(client.get("/c/home/"))
    assert "Bare lamp" not in _names(client.get("/search/?q=lamp"))
    assert "Bare lamp" not in [p.name for p in client.get("/").context["new_arrivals"]]
    # its own address still answers (a link or a cart may hold it), with a placeholder and no promise
    page = client.get(bare.get_absolute_url()).content.decode()
    assert "No picture yet" in page
    assert "Similar items appear" not in page and "Visually similar" not in page


def test_text_search_combines_with_category_price_and_stock_filters(client, lamps):
    assert sorted(_names(client.get("/search/?q=lamp"))) == ["Desk lamp", "Floor lamp", "Garden lamp"]
    assert sorted(_names(client.get("/search/?q=lamp&category=home"))) == ["Desk lamp", "Floor lamp"]
    assert _names(client.get("/search/?q=lamp&max_price=50&sort=-price")) == ["Garden lamp", "Desk lamp"]
    assert sorted(_names(client.get("/search/?q=lamp&in_stock=on"))) == ["Desk lamp", "Garden lamp"]


def test_pager_keeps_the_filters(client):
    category = CategoryFactory(slug="many")
    for n, product in enumerate(ProductFactory.create_batch(30, category=category, price=Decimal("5.00"))):
        product_image_add(product=product, data=photo_bytes(colour=(n * 8, 40, 40)), enqueue=False)
    page = client.get("/c/many/?sort=price&in_stock=on").content.decode()
    assert 'href="?sort=price&amp;in_stock=on&amp;page=2"' in page


def test_photo_search_narrowed_by_words_without_uploading_again(client, catalogue):
    upload = SimpleUploadedFile("q.jpg", query_copy(demo_asset_bytes("1f45f.webp")), content_type="image/jpeg")
    location = client.post("/search/photo/", {"image": upload})["Location"]

    from catalog.services import product_update

    product_update(product=catalogue["Hiking Boot"], description="Waterproof leather.")
    everything = [m.product.name for m in client.get(location).context["results"]]
    # a word that names no kind of thing narrows by the products' text, inside the k-NN query
    waterproof = [m.product.name for m in client.get(location + "&words=waterproof").context["results"]]
    # colour words keep the pictures of that colour
    green = [m.product.name for m in client.get(location + "&words=green").context["results"]]

    assert everything[0] == "Athletic Shoe" and len(everything) == 8
    assert waterproof == ["Hiking Boot"]
    assert "Green Apple" in green and "Red Apple" not in green


def test_photo_search_form_posted_again_with_the_query_id_only_changes_filters(client, catalogue):
    upload = SimpleUploadedFile("q.jpg", query_copy(demo_asset_bytes("1fad6.webp")), content_type="image/jpeg")
    location = client.post("/search/photo/", {"image": upload})["Location"]
    query_id = location.split("q=")[1]

    response = client.post("/search/photo/", {"q": query_id, "category": "kitchen", "max_price": "20"})

    assert response.status_code == 302
    assert response["Location"] == f"/search/photo/?q={query_id}&category=kitchen&max_price=20"
    names = [m.product.name for m in client.get(response["Location"]).context["results"]]
    assert names == ["Hot Beverage"]


def test_photo_results_show_stock_badges(client, catalogue):
    from catalog.models import Product

    Product.objects.filter(name="Teapot").update(stock_quantity=0)
    Product.objects.filter(name="Hot Beverage").update(stock_quantity=2)
    upload = SimpleUploadedFile("q.jpg", query_copy(demo_asset_bytes("1fad6.webp")), content_type="image/jpeg")
    page = client.get(client.post("/search/photo/", {"image": upload})["Location"]).content.decode()
    teapot_card = page[page.index("<h3>Teapot</h3>"):][:600]
    beverage_card = page[page.index("<h3>Hot Beverage</h3>"):][:600]
    assert "Out of stock" in teapot_card
    assert "Only 2 left" in beverage_card


def test_inspired_by_what_you_viewed_appears_after_three_views(client, catalogue):
    # given a session that looked at two shoes: not enough to say what it likes
    for name in ["Athletic Shoe", "Hiking Boot"]:
        client.get(catalogue[name].get_absolute_url())
    assert client.get("/").context["suggestions"].items == []

    # when it looks at a third one
    client.get(catalogue["High Heel"].get_absolute_url())
    inspired = [m.product.name for m in client.get("/").context["suggestions"]]

    # then the home page suggests other products, never the ones already viewed
    assert len(inspired) == 5
    assert not {"Athletic Shoe", "Hiking Boot", "High Heel"} & set(inspired)
    assert "Inspired by what you viewed" in client.get("/").content.decode()


def test_inspired_follows_the_taste_of_the_views(client, catalogue):
    for name in ["Red Apple", "Teapot", "Hot Beverage"]:
        client.get(catalogue[name].get_absolute_url())
    inspired = [m.product.name for m in client.get("/").context["suggestions"]]
    assert inspired[0] == "Green Apple"


def test_language_switch_to_simplified_chinese_and_back(client, catalogue):
    english = client.get("/").content.decode()
    assert "Search by photo" in english and 'lang="en"' in english

    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/cart/"})
    assert response["Location"] == "/cart/"
    chinese = client.get("/").content.decode()
    assert 'lang="zh-hans"' in chinese
    assert "以图搜物" in chinese and "Search by photo" not in chinese
    assert "购物车是空的" in client.get("/cart/").content.decode()

    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Search by photo" in client.get("/").content.decode()


def test_header_search_finds_by_pictures_says_how_it_read_the_words_and_facets_colours(client, catalogue):
    response = client.get("/search/", {"q": "coffee mug"})
    names = [p.name for p in response.context["page"]]
    page = response.content.decode()
    assert names[0] == "Hot Beverage"  # no product's text says "coffee mug": its picture shows one
    assert "Also found by what the pictures show: coffee mug." in page
    assert 'class="colour-facets"' in page

    # "green apple" is one term (a kind of apple); in "red apple" the colour is read as a colour filter
    red = client.get("/search/", {"q": "red apple"})
    assert [p.name for p in red.context["page"]] == ["Red Apple"]
    assert "Colour: red." in red.content.decode()

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    chinese = client.get("/search/", {"q": "马克杯"})
    assert [p.name for p in chinese.context["page"]][0] == "Hot Beverage"
    assert "也按图片内容查找：马克杯。" in chinese.content.decode()


def test_product_page_offers_similar_items_in_another_colour(client, catalogue):
    page = client.get(catalogue["Red Apple"].get_absolute_url())
    others = [m.product.name for m in page.context["other_colours"]]
    assert others[0] == "Green Apple" and "Similar, in another colour" in page.content.decode()
    assert all("red" not in m.image.colour_keys for m in page.context["other_colours"])
