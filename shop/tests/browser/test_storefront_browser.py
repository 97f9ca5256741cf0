"""A shopper in a real browser: finds a product by a cropped photo, buys it, and the order shows in the admin;
then the same shop on a phone, in Simplified Chinese. Full-page screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from catalog.models import Product
from conftest import demo_asset_bytes
from shop.orders.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.urls("shop.tests.browser.urls")]


def _two_products_photo(path, left: str, right: str) -> None:
    """A shopper's photo with two products side by side on a table-like background."""
    canvas = Image.new("RGB", (960, 480), (236, 230, 220))
    for x, asset in ((0, left), (480, right)):
        picture = Image.open(io.BytesIO(demo_asset_bytes(asset))).convert("RGBA").resize((400, 400))
        canvas.paste(picture, (x + 40, 40), picture)
    canvas.save(path, "JPEG", quality=90)


def _first_result(page) -> str:
    return page.locator("#results-area .card h3").first.inner_text()


def _draw_crop(page, *, left: float, top: float, right: float, bottom: float) -> None:
    # After a new photo the page scrolls its results into view (on a phone, past the photo): let that scroll
    # end, then bring the photo back as a shopper scrolling up would.
    page.wait_for_function("() => new Promise(done => { const y = scrollY; setTimeout(() => done(scrollY === y), 250); })")
    # centred, not just "in view": the sticky header would cover the photo's top edge where the drag starts
    page.locator("#query-preview").evaluate("el => el.scrollIntoView({block: 'center', behavior: 'instant'})")
    box = page.locator("#query-preview").bounding_box()
    page.mouse.move(box["x"] + box["width"] * left, box["y"] + box["height"] * top)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (left + right) / 2, box["y"] + box["height"] * (top + bottom) / 2, steps=4)
    page.mouse.move(box["x"] + box["width"] * right, box["y"] + box["height"] * bottom, steps=4)
    page.mouse.up()


def test_find_by_cropped_photo_buy_and_see_the_order_in_admin(
    desktop, catalogue, live_server, tmp_path, screenshot, django_user_model
):
    page = desktop
    guitar = catalogue["Guitar"]
    Product.objects.filter(id=guitar.id).update(stock_quantity=3)
    photo = tmp_path / "teapot-and-guitar.jpg"
    _two_products_photo(photo, left="1fad6.webp", right="1f3b8.webp")

    # the home page: departments and new arrivals
    page.goto("/")
    assert page.locator("h2", has_text="New arrivals").is_visible()
    assert page.locator(".card").count() == 8
    screenshot(page, "desktop-01-home")

    # a photo picked from disk is shown at once and searched
    page.goto("/search/photo/")
    screenshot(page, "desktop-02-photo-search-empty")
    page.set_input_files("#id_image", str(photo))
    page.wait_for_selector("#results-area .card")
    assert page.locator("#query-preview").is_visible()
    first_query = re.search(r"q=([\w-]+)", page.url).group(1)

    # both things in the photo are found: a numbered box on the photo and a chip for each
    page.wait_for_selector("#crop-stage .object-box")
    assert page.locator("#crop-stage .object-box").count() == 2
    assert page.locator(".found-objects .chip").count() == 2
    leading = _first_result(page)
    assert leading in {"Guitar", "Teapot"}
    screenshot(page, "desktop-02b-photo-search-two-objects")
    # a tap on the other box searches that one (no upload: its vector is remembered), and the box frames it
    page.locator("#crop-stage .object-box:not(.active)").click()
    other = ({"Guitar", "Teapot"} - {leading}).pop()
    page.wait_for_function(f"() => document.querySelector('#results-area .card h3')?.textContent === '{other}'")
    assert page.locator(".found-objects .chip.active").get_attribute("data-index") == "1"
    assert page.locator("#crop-box").evaluate("el => !el.classList.contains('whole')")
    screenshot(page, "desktop-02c-photo-search-other-object")
    # back to the whole photo: a new search of the whole upload
    page.click("#crop-reset")
    page.wait_for_function(f"() => !location.search.includes('object=') && !location.search.includes('{first_query}')")
    first_query = re.search(r"q=([\w-]+)", page.url).group(1)

    # a box drawn around the guitar: the results follow the box
    _draw_crop(page, left=0.52, top=0.04, right=0.97, bottom=0.96)
    page.wait_for_function("() => document.querySelector('#results-area .card h3')?.textContent === 'Guitar'")
    assert _first_result(page) == "Guitar"
    assert re.search(r"q=([\w-]+)", page.url).group(1) != first_query
    screenshot(page, "desktop-03-photo-search-crop-guitar")

    # the same photo, the box moved over the teapot
    _draw_crop(page, left=0.03, top=0.04, right=0.48, bottom=0.96)
    page.wait_for_function("() => document.querySelector('#results-area .card h3')?.textContent === 'Teapot'")
    assert _first_result(page) == "Teapot"

    # back on the same results later (reload): the photo and its box are still there, and the keyboard moves it
    page.reload()
    assert page.locator("#query-preview").is_visible()
    assert "whole" not in page.locator("#crop-box").get_attribute("class")
    before = page.url
    page.focus("#crop-box")
    page.keyboard.press("ArrowDown")
    page.wait_for_function("(before) => location.href !== before", arg=before)
    assert _first_result(page) == "Teapot"

    # a filter narrows the same photo's results without another upload
    page.select_option("#id_category", "music")
    page.wait_for_function("() => document.querySelector('#results-area .card h3')?.textContent === 'Guitar'")
    assert page.locator("#results-area .card").count() == 1
    assert "category=music" in page.url

    # open the result, add two to the cart
    page.locator("#results-area .card a").first.click()
    page.wait_for_url(re.compile(r"/p/"))
    assert page.locator("h1").inner_text() == "Guitar"
    assert page.locator(".gallery-main").get_attribute("alt") == "Guitar"
    screenshot(page, "desktop-04-product")
    page.fill("#id_quantity", "2")
    page.click("button:has-text('Add to cart')")
    page.wait_for_url(re.compile(r"/cart/$"))
    assert page.locator("[data-testid=cart-total]").inner_text() == "698.00 EUR"

    # change the quantity in the cart
    page.fill(f"#qty-{guitar.id}", "1")
    page.click("button:has-text('Update')")
    page.wait_for_function("() => document.querySelector('[data-testid=cart-total]').textContent === '349.00 EUR'")
    assert page.locator("[data-testid=cart-count]").inner_text() == "1"
    screenshot(page, "desktop-05-cart")

    # check out, paying on delivery
    page.click("text=Check out")
    page.fill("#id_full_name", "Grace Hopper")
    page.fill("#id_email", "grace@example.org")
    page.fill("#id_address", "1 Compiler Lane")
    page.fill("#id_postcode", "02139")
    page.fill("#id_city", "Cambridge")
    page.fill("#id_country", "USA")
    screenshot(page, "desktop-06-checkout")
    page.click("button:has-text('Place order')")
    page.wait_for_url(re.compile(r"/order/\w+/$"))
    reference = page.locator("[data-testid=order-reference]").inner_text()
    screenshot(page, "desktop-07-confirmation")
    order = Order.objects.get(reference=reference)
    assert [(line.product_name, line.quantity) for line in order.lines.all()] == [("Guitar", 1)]
    assert Product.objects.get(id=guitar.id).stock_quantity == 2

    # the shop owner sees the order in the admin
    django_user_model.objects.create_superuser("owner", "owner@example.org", "a-long-test-password")
    page.goto("/admin/login/?next=/admin/orders/order/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/orders/order/$"))
    page.click(f"text={reference}")
    screenshot(page, "desktop-08-admin-order")
    assert "Grace Hopper" in page.locator("#id_full_name").input_value()
    assert "Guitar" in page.locator("#lines-group").inner_text()


def test_phone_in_chinese_with_keyboard_and_category_pages(phone, desktop, catalogue, tmp_path, screenshot):
    page = phone
    photo = tmp_path / "teapot-and-guitar.jpg"
    _two_products_photo(photo, left="1fad6.webp", right="1f3b8.webp")

    # the first Tab reaches the skip link; Enter on the camera search button opens the photo search
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    screenshot(page, "phone-01-home-en")

    # switch to Simplified Chinese with the language form at the foot of the page
    page.select_option("#language", "zh-hans")
    page.click(".langswitch button")
    page.wait_for_selector("html[lang=zh-hans]")
    assert page.locator(".hero .button").inner_text().strip() == "以图搜物"
    assert page.locator("h2", has_text="新品上架").is_visible()
    screenshot(page, "phone-02-home-zh")

    # a category page with its filters, in Chinese
    page.goto(catalogue["Teapot"].category.parent.get_absolute_url() + "?sort=price")
    assert page.locator("label", has_text="仅显示有货").is_visible()
    screenshot(page, "phone-03-category-zh")

    # search by photo on the phone, with a crop
    page.goto("/search/photo/")
    page.set_input_files("#id_image", str(photo))
    page.wait_for_selector("#results-area .card")
    _draw_crop(page, left=0.52, top=0.04, right=0.97, bottom=0.96)
    page.wait_for_function("() => document.querySelector('#results-area .card h3')?.textContent === 'Guitar'")
    assert "与您的照片相似" in page.locator("#results-title").inner_text()
    screenshot(page, "phone-04-photo-search-zh")

    # the product page and the cart on a phone
    page.locator("#results-area .card a").first.click()
    page.wait_for_url(re.compile(r"/p/"))
    screenshot(page, "phone-05-product-zh")
    page.click("button:has-text('加入购物车')")
    page.wait_for_url(re.compile(r"/cart/$"))
    assert page.locator("h1").inner_text() == "购物车"
    screenshot(page, "phone-06-cart-zh")
    page.click("text=去结算")
    screenshot(page, "phone-07-checkout-zh")

    # the desktop text search and a category listing, in English, for the screenshots
    desktop.goto("/search/?q=apple")
    assert sorted(desktop.locator(".card h3").all_inner_texts()) == ["Green Apple", "Red Apple"]
    screenshot(desktop, "desktop-09-text-search")
    desktop.goto(catalogue["Athletic Shoe"].category.get_absolute_url())
    screenshot(desktop, "desktop-10-category")


def test_admin_product_list_and_page_fit_a_laptop_screen(desktop, catalogue, live_server, screenshot, django_user_model):
    page = desktop
    django_user_model.objects.create_superuser("staff", "staff@example.org", "a-long-test-password")
    page.goto("/admin/login/?next=/admin/catalog/product/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/catalog/product/$"))
    screenshot(page, "desktop-09-admin-products")
    assert page.locator("#result_list tbody tr").count() == 8
    assert page.locator("#result_list td.field-pictures", has_text="1 ready").count() == 8

    page.goto(f"/admin/catalog/product/{catalogue['Teapot'].id}/change/")
    screenshot(page, "desktop-10-admin-product")
    # the picture table used to push the page 380 px sideways at 1366 px
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("document.documentElement.clientWidth")
    assert "Category from the pictures" in page.content()
