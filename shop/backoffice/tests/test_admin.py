import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Product, ProductImage
from visualsearch.services import product_image_add
from conftest import media_files, photo_bytes
from visualsearch.models import ImageEmbedding

from catalog.tests.factories import CategoryFactory, ProductFactory
from visualsearch.tests.fixtures import catalogue  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def _add_form(category, upload):
    return {
        "sku": "ADM-1", "name": "Admin Lamp", "slug": "admin-lamp", "description": "", "price": "20.00",
        "currency": "EUR", "stock_quantity": "3", "is_published": "on", "category": str(category.id),
        "images-TOTAL_FORMS": "1", "images-INITIAL_FORMS": "0", "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000", "images-0-position": "0", "images-0-alt_text": "Lamp, front",
        "images-0-upload": upload,
        "variants-TOTAL_FORMS": "0", "variants-INITIAL_FORMS": "0", "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
    }


def test_admin_add_product_with_photo_goes_through_the_intake_service(admin_client, _media_root):
    category = CategoryFactory()
    upload = SimpleUploadedFile("lamp.png", photo_bytes(fmt="PNG"), content_type="image/png")

    response = admin_client.post("/admin/catalog/product/add/", _add_form(category, upload))

    assert response.status_code == 302, response.content.decode()[:3000]
    image = ProductImage.objects.get(product__sku="ADM-1")
    assert (image.alt_text, image.width, image.height) == ("Lamp, front", 320, 240)
    assert image.image.name.endswith(".jpg")
    assert ImageEmbedding.objects.get(image=image).status == "pending"


def test_admin_adds_variants_and_a_picture_of_one_through_the_services(admin_client, _media_root):
    category = CategoryFactory()
    upload = SimpleUploadedFile("lamp.png", photo_bytes(fmt="PNG"), content_type="image/png")
    form = {
        **_add_form(category, upload),
        "variants-TOTAL_FORMS": "2",
        "variants-0-name": "Brass", "variants-0-sku": "ADM-1-BRASS", "variants-0-stock_quantity": "2",
        "variants-0-position": "0", "variants-0-price": "",
        "variants-1-name": "Black", "variants-1-sku": "ADM-1-BLACK", "variants-1-stock_quantity": "4",
        "variants-1-position": "1", "variants-1-price": "24.00",
    }

    response = admin_client.post("/admin/catalog/product/add/", form)

    assert response.status_code == 302, response.content.decode()[:3000]
    lamp = Product.objects.get(sku="ADM-1")
    assert [(v.name, v.sku, v.price, v.stock_quantity) for v in lamp.variants.all()] == [
        ("Brass", "ADM-1-BRASS", None, 2), ("Black", "ADM-1-BLACK", Decimal("24.00"), 4)]
    assert lamp.stock_quantity == 6  # the variants' sum, not the form's 3

    # then the picture is given to a variant on the change page, whose menu offers this product's variants only
    page = admin_client.get(f"/admin/catalog/product/{lamp.id}/change/").content.decode()
    image = lamp.images.get()
    black = lamp.variants.get(name="Black")
    assert f'<option value="{black.id}">' in page and "ADM-1-BRASS" in page
    change = {
        "sku": "ADM-1", "name": "Admin Lamp", "slug": "admin-lamp", "description": "", "price": "20.00",
        "currency": "EUR", "is_published": "on", "category": str(category.id),
        "variants-TOTAL_FORMS": "2", "variants-INITIAL_FORMS": "2", "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        **{f"variants-{n}-{field}": value for n, v in enumerate(lamp.variants.all()) for field, value in [
            ("id", str(v.id)), ("product", str(lamp.id)), ("name", v.name), ("sku", v.sku),
            ("stock_quantity", str(v.stock_quantity)), ("position", str(v.position)),
            ("price", "" if v.price is None else str(v.price))]},
        "variants-0-stock_quantity": "5",
        "images-TOTAL_FORMS": "1", "images-INITIAL_FORMS": "1", "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000", "images-0-id": str(image.id), "images-0-product": str(lamp.id),
        "images-0-position": "0", "images-0-kind": "catalogue", "images-0-alt_text": "Lamp, black",
        "images-0-variant": str(black.id),
    }
    response = admin_client.post(f"/admin/catalog/product/{lamp.id}/change/", change)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert ProductImage.objects.get(id=image.id).variant == black
    assert Product.objects.get(id=lamp.id).stock_quantity == 9


def test_admin_refuses_a_broken_photo_and_writes_nothing(admin_client, _media_root):
    category = CategoryFactory()
    upload = SimpleUploadedFile("lamp.jpg", b"\xff\xd8\xff\xe0 truncated", content_type="image/jpeg")

    response = admin_client.post("/admin/catalog/product/add/", _add_form(category, upload))

    assert response.status_code == 400
    assert "The picture is damaged or incomplete" in response.content.decode()
    assert Product.objects.count() == 0 and ProductImage.objects.count() == 0
    assert media_files(_media_root) == []


def test_admin_shows_thumbnail_and_embedding_status(admin_client):
    product = ProductFactory()
    image, _ = product_image_add(product=product, data=photo_bytes())
    ImageEmbedding.objects.filter(image=image).update(status="failed", error="the model failed: out of memory")

    page = admin_client.get(f"/admin/catalog/product/{product.id}/change/").content.decode()
    assert image.thumbnail.url in page
    assert "failed: the model failed: out of memory" in page

    listing = admin_client.get("/admin/catalog/productimage/").content.decode()
    assert "failed: the model failed" in listing


def test_admin_requeue_action(admin_client):
    image, _ = product_image_add(product=ProductFactory(), data=photo_bytes())
    ImageEmbedding.objects.filter(image=image).update(status="failed", error="boom", attempts=3)

    response = admin_client.post(
        "/admin/catalog/productimage/", {"action": "requeue_embedding", "_selected_action": [image.id]}, follow=True
    )

    assert "1 image queued for embedding." in response.content.decode()
    row = ImageEmbedding.objects.get(image=image)
    assert (row.status, row.attempts, row.error) == ("pending", 0, "")


def test_admin_shows_the_category_the_pictures_suggest_and_moves_products_to_it(admin_client, catalogue):
    from catalog.services import category_get_or_create_path, product_update

    boot = catalogue["Hiking Boot"]
    shoes = boot.category
    product_update(product=boot, category=category_get_or_create_path(path="Uncategorised"))

    page = admin_client.get(f"/admin/catalog/product/{boot.id}/change/").content.decode()
    assert "Category from the pictures" in page and "Shoes (" in page

    response = admin_client.post(
        "/admin/catalog/product/",
        {"action": "category_apply_suggested", "_selected_action": [boot.id, catalogue["Guitar"].id]},
    )
    assert response.status_code == 302
    boot.refresh_from_db()
    assert boot.category == shoes
    # the guitar is the shop's only instrument: no category wins half its neighbours' vote, so it stays
    guitar = Product.objects.select_related("category").get(id=catalogue["Guitar"].id)
    assert guitar.category.name == "Music"
    assert "1 product(s) moved; 1 left where they are" in admin_client.get("/admin/catalog/product/").content.decode()


def test_admin_category_menu_and_filter_list_the_tree(admin_client):
    home = CategoryFactory(name="Home & Living", slug="home-living")
    CategoryFactory(name="Kitchen", slug="kitchen", parent=home)
    CategoryFactory(name="Garden", slug="garden", parent=home)
    CategoryFactory(name="Books", slug="books")
    indent = "\u00a0" * 4

    form = admin_client.get("/admin/catalog/product/add/").content.decode()
    menu = form[form.index('name="category"'):form.index("</select>", form.index('name="category"'))]
    listing = admin_client.get("/admin/catalog/product/").content.decode()

    assert re.findall(r">([^<]+)</option>", menu) == [
        "---------", "Books", "Home &amp; Living", indent + "Garden", indent + "Kitchen"
    ]
    by_category = listing[listing.index("By category"):]
    assert [name for name in ("Books", "Home &amp; Living", indent + "Garden", indent + "Kitchen")
            if name in by_category] == ["Books", "Home &amp; Living", indent + "Garden", indent + "Kitchen"]
    assert by_category.index("Books") < by_category.index("Home &amp;") < by_category.index(indent + "Garden")


def test_admin_explains_a_too_large_photo_in_the_staff_members_language(admin_client, settings, _media_root):
    settings.VISUALSEARCH_MAX_UPLOAD_BYTES = 1024 * 1024
    admin_client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/admin/"})
    upload = SimpleUploadedFile("lamp.jpg", b"\xff\xd8\xff" + b"0" * (2 * 1024 * 1024), content_type="image/jpeg")

    response = admin_client.post("/admin/catalog/product/add/", _add_form(CategoryFactory(), upload))

    assert response.status_code == 400
    assert "文件过大（最大 1 MB）。" in response.content.decode()
    assert Product.objects.count() == 0 and media_files(_media_root) == []


def test_product_list_shows_thumbnails_and_picture_states_and_filters_failed_ones(admin_client, catalogue):
    failed = catalogue["Guitar"]
    ImageEmbedding.objects.filter(image__product=failed).update(status="failed", vector=None, error="model failed")
    ProductFactory(name="Bare Lamp")  # no picture

    listing = admin_client.get("/admin/catalog/product/").content.decode()
    assert listing.count('style="height:40px;width:40px;object-fit:contain"') == 8
    assert ">1 ready</span>" in listing and ">1 failed</span>" in listing and ">none</span>" in listing

    only_failed = admin_client.get("/admin/catalog/product/", {"pictures": "failed"})
    assert [p.name for p in only_failed.context["cl"].result_list] == ["Guitar"]
    none = admin_client.get("/admin/catalog/product/", {"pictures": "none"})
    assert [p.name for p in none.context["cl"].result_list] == ["Bare Lamp"]
    ready = admin_client.get("/admin/catalog/product/", {"pictures": "ready"})
    assert len(ready.context["cl"].result_list) == 7


def test_bulk_actions_publish_move_and_reprice_through_the_catalogue_service(admin_client, catalogue):
    from catalog.models import Category
    from shop.outbox.models import Event

    shoes = [catalogue[n].id for n in ("Athletic Shoe", "Hiking Boot", "High Heel")]
    events_before = Event.objects.filter(topic="product.updated").count()

    admin_client.post("/admin/catalog/product/", {"action": "unpublish", "_selected_action": shoes})
    assert list(Product.objects.filter(id__in=shoes).values_list("is_published", flat=True)) == [False] * 3

    # the price step asks first; a bad percentage is refused and changes nothing
    asked = admin_client.post("/admin/catalog/product/", {"action": "price_change", "_selected_action": shoes})
    assert asked.status_code == 200 and "Change by (%)" in asked.content.decode()
    refused = admin_client.post(
        "/admin/catalog/product/", {"action": "price_change", "_selected_action": shoes, "apply": "1", "percent": "-95"}
    )
    assert refused.status_code == 200 and "Ensure this value is greater than or equal to -90" in refused.content.decode()
    assert sorted(Product.objects.filter(id__in=shoes).values_list("price", flat=True)) == [
        Decimal("59.00"), Decimal("89.00"), Decimal("129.00")
    ]
    admin_client.post(
        "/admin/catalog/product/", {"action": "price_change", "_selected_action": shoes, "apply": "1", "percent": "-15"}
    )
    assert sorted(Product.objects.filter(id__in=shoes).values_list("price", flat=True)) == [
        Decimal("50.15"), Decimal("75.65"), Decimal("109.65")
    ]

    sale = Category.objects.create(name="Sale", slug="sale")
    admin_client.post(
        "/admin/catalog/product/",
        {"action": "category_move", "_selected_action": shoes, "apply": "1", "category": str(sale.id)},
    )
    assert set(Product.objects.filter(id__in=shoes).values_list("category__slug", flat=True)) == {"sale"}
    # each change went through product_update: one product.updated event per product and step (3 steps)
    assert Event.objects.filter(topic="product.updated").count() - events_before == 9


def test_dashboard_lists_a_variant_running_out_although_its_product_has_plenty(admin_client):
    from catalog.services import VariantData, product_variant_create

    shirt = ProductFactory(name="T-Shirt", stock_quantity=0)
    for size, stock in [("M", 1), ("L", 30)]:
        product_variant_create(product=shirt, data=VariantData(sku=f"TEE-{size}", name=size, stock_quantity=stock))

    board = admin_client.get("/admin/dashboard/").context["board"]

    assert [(row.name, row.sku, row.stock) for row in board.low_stock] == [("T-Shirt, M", "TEE-M", 1)]


def test_dashboard_shows_todays_orders_stock_running_out_pictures_and_searches(admin_client, client, catalogue):
    from unittest import mock

    from django.core.cache import cache

    from shop.orders.services import CustomerData, order_place

    cache.clear()
    customer = CustomerData(full_name="Ada", email="ada@example.org", address="1 Row", postcode="1", city="B", country="D")
    with mock.patch("celery.current_app.send_task"):
        order_place(quantities={catalogue["Teapot"].id: 2}, customer=customer)
        order_place(quantities={catalogue["Guitar"].id: 1}, customer=customer)
    Product.objects.filter(id=catalogue["Red Apple"].id).update(stock_quantity=1)
    ImageEmbedding.objects.filter(image__product=catalogue["Guitar"]).update(status="failed", vector=None, error="x")
    upload = SimpleUploadedFile("q.jpg", photo_bytes(), content_type="image/jpeg")
    client.post("/search/photo/", {"image": upload})
    client.get("/search/", {"q": "teapot"})

    assert admin_client.get("/admin/").content.decode().count('href="/admin/dashboard/"') == 1
    page = admin_client.get("/admin/dashboard/")
    board = page.context["board"]
    assert board.orders_today == 2 and board.revenue_today == [("EUR", Decimal("419.00"))]
    assert board.orders_per_day[-1].value == 2 and board.orders_per_day[-1].height == 100.0
    assert [p.name for p in board.low_stock][0] == "Red Apple"
    assert (board.pictures_failed, board.pictures_pending) == (1, 0)
    assert (board.photo_searches_today, board.text_searches_today) == (1, 1)
    assert 'id="orders-today">2<' in page.content.decode()

    # staff only
    assert client.get("/admin/dashboard/").status_code == 302
