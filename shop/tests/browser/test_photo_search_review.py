"""Search by photo after the review (issue 12) in a real browser: on a phone the results come into view, the
large camera button and "Search the whole photo" step aside when they have nothing to do, Back across two
searches brings back the earlier photo, a GIF is refused as the API refuses it; the no-results line spans the
grid. Screenshots at 1366x900 and 390x844 go to test-artifacts/screenshots/."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from conftest import demo_asset_bytes, photo_bytes

pytestmark = [pytest.mark.browser, pytest.mark.urls("shop.tests.browser.urls")]


@pytest.fixture
def wide(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB", base_url=live_server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


def _photo(path, asset: str) -> str:
    picture = Image.open(io.BytesIO(demo_asset_bytes(asset))).convert("RGBA").resize((600, 600))
    canvas = Image.new("RGB", (800, 700), (236, 230, 220))
    canvas.paste(picture, (100, 50), picture)
    canvas.save(path, "JPEG", quality=90)
    return str(path)


def _first_result(page) -> str:
    return page.locator("#results-area .card h3").first.inner_text()


def _results_top(page) -> float:
    return page.evaluate("document.getElementById('results-area').getBoundingClientRect().top")


def test_on_a_phone_the_results_come_into_view_and_idle_buttons_step_aside(phone, catalogue, tmp_path, screenshot):
    page = phone
    page.goto("/search/photo/")
    assert page.locator(".camera-big").is_visible()
    screenshot(page, "review-phone-01-photo-search-empty")

    page.set_input_files("#id_image", _photo(tmp_path / "teapot.jpg", "1fad6.webp"))
    page.wait_for_selector("#results-area .card")
    # the scroll is smooth: wait until it has brought the results up under the sticky header
    header = page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height")
    page.wait_for_function("(h) => Math.abs(document.getElementById('results-area').getBoundingClientRect().top - h"
                           " - 8) < 2", arg=header)
    assert page.evaluate("window.scrollY") > 500  # it started ~1,000 px down
    assert page.locator("#results-area .card").first.is_visible()
    assert _first_result(page) == "Teapot"
    assert not page.locator(".camera-big").is_visible()  # collapsed once a photo is searched
    assert page.locator(".camera-small").is_visible()  # a small one by the photo instead
    assert not page.locator("#crop-reset").is_visible()  # the whole photo is what is searched
    _viewport_shot(page, "review-phone-02-results-in-view")

    # framing a part brings "Search the whole photo" back; using it hides it again
    page.evaluate("window.scrollTo(0, 0)")
    box = page.locator("#query-preview").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.7, steps=5)
    page.mouse.up()
    page.wait_for_selector("#crop-reset", state="visible")
    _viewport_shot(page, "review-phone-03-crop")
    page.click("#crop-reset")
    page.wait_for_selector("#crop-reset", state="hidden")
    screenshot(page, "review-phone-04-full-page")


def _viewport_shot(page, name: str) -> None:
    from shop.tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_back_across_two_photo_searches_brings_back_the_earlier_photo(wide, catalogue, tmp_path):
    page = wide
    page.goto("/search/photo/")
    page.set_input_files("#id_image", _photo(tmp_path / "teapot.jpg", "1fad6.webp"))
    page.wait_for_function("() => document.querySelector('#results-area .card h3')?.textContent === 'Teapot'")
    first_url, first_photo = page.url, page.locator("#query-preview").get_attribute("src")

    page.set_input_files("#id_image", _photo(tmp_path / "guitar.jpg", "1f3b8.webp"))
    page.wait_for_function("() => document.querySelector('#results-area .card h3')?.textContent === 'Guitar'")
    second_photo = page.locator("#query-preview").get_attribute("src")
    assert page.url != first_url and second_photo != first_photo
    _viewport_shot(page, "review-desktop-01-second-search")

    page.go_back()
    page.wait_for_url(first_url)
    page.wait_for_function("(src) => document.getElementById('query-preview').getAttribute('src') === src",
                           arg=first_photo)
    assert _first_result(page) == "Teapot"
    assert page.locator("#query-preview").is_visible()

    page.go_forward()
    page.wait_for_function("(src) => document.getElementById('query-preview').getAttribute('src') === src",
                           arg=second_photo)
    assert _first_result(page) == "Guitar"


def test_a_gif_is_refused_by_the_page_as_by_the_api(wide, catalogue, tmp_path):
    page = wide
    gif = tmp_path / "spinner.gif"
    gif.write_bytes(photo_bytes(fmt="GIF"))
    page.goto("/search/photo/")

    page.set_input_files("#id_image", str(gif))

    page.wait_for_selector("#results-area .error")
    assert page.locator("#results-area .error").inner_text() == (
        "GIF files are not accepted. Use a JPEG, PNG, WebP, HEIC or AVIF photo."
    )
    assert page.locator("#results-area .card").count() == 0
    assert not page.locator("#query-preview").is_visible()
    _viewport_shot(page, "review-desktop-02-gif-refused")


@pytest.mark.parametrize("size", [(1366, 900), (390, 844)])
def test_the_no_results_line_spans_the_grid(chromium, live_server, catalogue, size):
    context = chromium.new_context(viewport={"width": size[0], "height": size[1]}, base_url=live_server.url)
    page = context.new_page()
    category = catalogue["Teapot"].category.parent

    page.goto(category.get_absolute_url() + "?min_price=9000")

    line = page.locator(".grid > p")
    assert line.inner_text() == "No product matches these filters."
    grid_width = page.locator(".grid").bounding_box()["width"]
    assert line.bounding_box()["width"] == pytest.approx(grid_width, abs=1)
    _viewport_shot(page, f"review-{size[0]}-no-results")
    page.goto(catalogue["Teapot"].get_absolute_url())
    assert re.sub(r"\s+", " ", page.locator(".crumbs").inner_text()) == "Home / Home / Kitchen / Teapot"
    _viewport_shot(page, f"review-{size[0]}-product")
    context.close()


@pytest.mark.parametrize("size", [(1366, 900), (390, 844)])
def test_a_wrong_price_and_a_product_without_pictures_as_a_shopper_sees_them(chromium, live_server, catalogue, size):
    from catalog.tests.factories import ProductFactory

    context = chromium.new_context(viewport={"width": size[0], "height": size[1]}, base_url=live_server.url)
    page = context.new_page()
    kitchen = catalogue["Teapot"].category
    bare = ProductFactory(name="Enamel Kettle", category=kitchen)

    page.goto(kitchen.get_absolute_url() + "?min_price=abc")
    assert page.locator(".listing-filters .error").inner_text() == (
        "Min price: Enter the price as a number, for example 25 or 19.99."
    )
    assert page.locator(".card").count() == 2 and "Enamel Kettle" not in page.locator(".grid").inner_text()
    _viewport_shot(page, f"review-{size[0]}-wrong-price")

    page.goto(bare.get_absolute_url())
    assert page.locator(".gallery-main.empty").inner_text() == "No picture yet"
    assert page.locator("#similar-title").count() == 0
    _viewport_shot(page, f"review-{size[0]}-no-picture")
    context.close()
