"""Staff tools and "Why this?" in a real browser, at 1366x900 and on a 390x844 phone: a delivery's photos uploaded
on the batch identify page, its progress, then its report; the outside listings report; the photo-search results'
"Why this?" panel. Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest

from conftest import demo_asset_bytes, photo_bytes
from shop.stafftools.batches import job_photos_read, listings_read
from shop.stafftools.models import IdentifyJob
from shop.stafftools.services import identify_job_create, identify_job_process
from shop.stafftools.tests.factories import delivery_photo, recoloured, second_picture, zip_of
from visualsearch.models import ImageEmbedding
from visualsearch.services import embeddings_compute, product_image_add
from visualsearch.tests.fixtures import query_copy

from .conftest import SCREENSHOTS  # noqa: F401  (the folder the screenshot fixture writes to)

pytestmark = [pytest.mark.browser, pytest.mark.urls("shop.tests.browser.urls")]

PASSWORD = "staff-pass-42"


@pytest.fixture
def wide(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB", base_url=live_server.url)
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser(username="staff", email="staff@example.org", password=PASSWORD)


@pytest.fixture(autouse=True)
def _no_broker():
    """The test runs the jobs itself: a Celery worker left running by an earlier end-to-end test (on its own media
    folder) must not take them first."""
    from unittest import mock

    with mock.patch("celery.current_app.send_task"):
        yield


def _log_in(page, next_url: str) -> None:
    page.goto(f"/admin/login/?next={next_url}")
    page.fill("#id_username", "staff")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_url) + "$"))


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_delivery_is_uploaded_watched_and_reported(wide, phone, staff, catalogue, tmp_path, screenshot):
    teapot, guitar = catalogue["Teapot"], catalogue["Guitar"]
    product_image_add(product=teapot, data=second_picture("1fad6.webp"), enqueue=False)
    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.filter(status="pending").values_list("id", flat=True)))
    files = []
    for name, data in [("teapot-1.jpg", delivery_photo("1fad6.webp")), ("teapot-2.jpg", delivery_photo("1fad6.webp", n=1)),
                       ("blue-teapot.jpg", recoloured("1fad6.webp")), ("boot.jpg", delivery_photo("1f97e.webp"))]:
        (tmp_path / name).write_bytes(data)
        files.append(str(tmp_path / name))
    (tmp_path / "more.zip").write_bytes(zip_of({"crate/guitar.jpg": delivery_photo("1f3b8.webp"),
                                                "crate/circle.jpg": photo_bytes(), "crate/bad.jpg": b"\xff\xd8\xff bad"}))
    files.append(str(tmp_path / "more.zip"))
    (tmp_path / "expected.csv").write_text(f"sku,quantity\n{teapot.sku},3\n{guitar.sku},2\n")

    # staff choose the photos and a zip, and the expected list, and start the job
    page = wide
    _log_in(page, "/admin/identify/deliveries/")
    page.fill("#id_title", "Monday's delivery")
    page.set_input_files("#id_photos", files)
    page.set_input_files("#id_listing", str(tmp_path / "expected.csv"))
    screenshot(page, "staff-01-delivery-form-desktop")
    page.click("#job-form input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/identify/jobs/\d+/$"))
    job = IdentifyJob.objects.get()

    # the page shows the progress (the refused zip member is settled already)
    assert page.locator("#job-progress progress").get_attribute("value") == "1"
    assert page.locator("#job-progress strong").inner_text() == "1 of 7 photos"
    screenshot(page, "staff-02-delivery-progress-desktop")

    # a worker does the job; the page, refreshing itself, turns into the report
    identify_job_process(job_id=job.id)
    page.wait_for_selector("#job-progress[data-status=done]", timeout=15_000)
    counts = page.locator("#counts tbody tr")
    assert [counts.nth(n).locator("td").all_inner_texts() for n in range(counts.count())] == [
        [teapot.sku, "Teapot", "3", "3", "0", "as expected"], [guitar.sku, "Guitar", "2", "1", "-1", "short"],
        [catalogue["Hiking Boot"].sku, "Hiking Boot", "0", "1", "+1", "not expected"],
    ]
    assert page.locator("#unmatched tbody tr").count() == 1 and page.locator("#unlike tbody tr").count() == 1
    assert page.locator("#unlike td", has_text="blue-teapot.jpg").count() == 1
    assert page.locator("#unlike img.job-thumb").evaluate("img => img.naturalWidth") > 0  # the staff-only photo view
    assert page.locator("#refused td", has_text="crate/bad.jpg").count() == 1
    _fits(page, 1366)
    screenshot(page, "staff-03-delivery-report-desktop")

    # and on a phone the report fits the screen (wide tables scroll in their own box)
    _log_in(phone, f"/admin/identify/jobs/{job.id}/")
    assert phone.locator("#counts tbody tr").count() == 3
    _fits(phone, 390)
    screenshot(phone, "staff-04-delivery-report-phone")


def test_the_outside_listings_report(wide, phone, staff, catalogue, screenshot):
    archive = zip_of({"shop-b/teapot.jpg": delivery_photo("1fad6.webp"), "shop-b/cup.jpg": delivery_photo("2615.webp"),
                      "shop-b/runner.jpg": delivery_photo("1f45f.webp"), "shop-b/heel.jpg": delivery_photo("1f460.webp"),
                      "shop-b/lamp.jpg": photo_bytes(colour=(30, 90, 200), shape="square")})
    listings = listings_read("file,title,price,url\nshop-b/teapot.jpg,Stoneware teapot,29.50,https://example.org/t\n"
                             "shop-b/cup.jpg,Latte cup,14.00,\nshop-b/runner.jpg,Trail runner,99.00,\n"
                             "shop-b/lamp.jpg,Blue lamp,45.00,https://example.org/lamp\n")
    job = identify_job_create(kind="outside", photos=job_photos_read(files=[("b.zip", archive)]), listings=listings,
                              title="Shop B, spring")
    identify_job_process(job_id=job.id)

    for page, width, name in ((wide, 1366, "desktop"), (phone, 390, "phone")):
        _log_in(page, f"/admin/identify/jobs/{job.id}/")
        # the runner and the heel, and the lamp (nothing close: its nearest product is a shoe); the teapot and cup
        rows = page.locator("#categories tbody tr")
        assert [rows.nth(n).locator("td").all_inner_texts() for n in range(rows.count())] == [
            ["Shoes", "3", "2", "+10.00"], ["Kitchen", "2", "2", "-1.75"]]
        assert page.locator("#gaps tbody tr").count() == 1
        assert page.locator("#gaps a", has_text="Blue lamp").get_attribute("href") == "https://example.org/lamp"
        assert page.locator("#listings tbody tr").count() == 5
        _fits(page, width)
        screenshot(page, f"staff-05-outside-report-{name}")


def test_why_this_opens_a_panel_with_both_heat_maps(wide, phone, catalogue, tmp_path, screenshot):
    photo = tmp_path / "teapot.jpg"
    photo.write_bytes(query_copy(demo_asset_bytes("1fad6.webp"), size=(480, 400)))
    for page, width, name in ((wide, 1366, "desktop"), (phone, 390, "phone")):
        page.goto("/search/photo/")
        page.set_input_files("#id_image", str(photo))
        page.wait_for_selector("#results-area .card .why-this:not([hidden])")
        first = page.locator("#results-area .card").first
        assert first.locator("h3").inner_text() == "Teapot"
        first.locator(".why-this").click()
        panel = page.locator("#results-area .why-panel:not(.loading)")
        panel.wait_for(timeout=30_000)
        assert panel.locator(".why-pictures img").count() == 2
        assert panel.locator("figcaption").all_inner_texts() == ["Your photo", "Teapot"]
        assert panel.locator(".why-concepts .chip").first.inner_text().startswith("teapot")
        assert first.locator(".why-this").get_attribute("aria-expanded") == "true"
        _fits(page, width)
        page.evaluate("window.scrollTo(0, 0)")  # the sticky header would sit in the middle of a full-page shot
        screenshot(page, f"why-this-{name}")
        first.locator(".why-this").click()  # a second press closes it
        assert page.locator("#results-area .why-panel").count() == 0
