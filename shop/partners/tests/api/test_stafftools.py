from decimal import Decimal
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import demo_asset_bytes
from shop.orders.services import CustomerData, order_place
from visualsearch.tests.fixtures import query_copy

pytestmark = pytest.mark.django_db


def _photo(data: bytes):
    return SimpleUploadedFile("item.jpg", data, content_type="image/jpeg")


def test_identify_returns_the_product_with_stock_price_and_latest_orders(partner_writer, catalogue):
    guitar = catalogue["Guitar"]
    customer = CustomerData(full_name="Ada", email="ada@example.org", address="1 Row", postcode="1", city="B", country="D")
    with mock.patch("celery.current_app.send_task"):
        order = order_place(quantities={guitar.id: 1}, customer=customer)
    guitar.refresh_from_db()
    guitar.is_published = False  # sold out of the shop window: staff still see it
    guitar.save(update_fields=["is_published"])

    body = partner_writer.post("/api/v1/identify", {"image": _photo(query_copy(demo_asset_bytes("1f3b8.webp"))), "limit": 3},
                               format="multipart").json()
    first = body["results"][0]
    assert body["close"] is True and len(body["results"]) == 3
    assert (first["sku"], first["name"], first["price"], first["is_published"]) == (guitar.sku, "Guitar", "349.00", False)
    guitar.refresh_from_db()
    assert first["stock_quantity"] == guitar.stock_quantity
    assert [(o["reference"], o["quantity"], o["status"]) for o in first["recent_orders"]] == [(order.reference, 1, "placed")]


def test_identify_needs_the_write_scope_and_refuses_a_bad_file(partner_reader, partner_writer, catalogue):
    photo = query_copy(demo_asset_bytes("1f3b8.webp"))
    denied = partner_reader.post("/api/v1/identify", {"image": _photo(photo)}, format="multipart")
    assert denied.status_code == 403 and denied.json()["details"] == {"required_scope": "write"}
    bad = partner_writer.post("/api/v1/identify", {"image": _photo(b"GIF89a not a photo")}, format="multipart")
    assert bad.status_code == 400 and bad.json()["code"].startswith("image_")


def test_the_admin_identify_page_is_staff_only_and_shows_the_match(admin_client, client, catalogue):
    assert client.get("/admin/identify/").status_code == 302
    page = admin_client.post("/admin/identify/", {"photo": _photo(query_copy(demo_asset_bytes("1fad6.webp")))})
    html = page.content.decode()
    assert page.status_code == 200 and "Very likely: Teapot" in html and catalogue["Teapot"].sku in html
    refused = admin_client.post("/admin/identify/", {"photo": _photo(b"\x89PNG\r\n\x1a\n broken")})
    assert refused.status_code == 400 and 'class="errorlist' in refused.content.decode()


def test_match_outside_lists_each_photo_of_a_zip_with_its_matches_price_difference_and_errors(tmp_path, catalogue):
    import json
    import zipfile

    from django.core.management import call_command

    archive = tmp_path / "listings.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("shop-a/teapot.jpg", query_copy(demo_asset_bytes("1fad6.webp")))
        z.writestr("shop-a/broken.jpg", b"\xff\xd8\xff not really")
        z.writestr("notes.txt", "ignored")
    listing_csv = tmp_path / "listings.csv"
    listing_csv.write_text("file,title,price,url\nshop-a/teapot.jpg,Ceramic teapot,29.50,https://example.org/t\n")
    out = tmp_path / "out.json"
    call_command("match_outside", str(archive), csv=listing_csv, json=out, limit=2)

    rows = json.loads(out.read_text())
    assert [r["file"] for r in rows] == ["shop-a/broken.jpg", "shop-a/teapot.jpg"]
    assert rows[0]["matches"] == [] and rows[0]["close"] is False and rows[0]["error"]
    teapot = rows[1]
    assert teapot["close"] is True and teapot["matches"][0]["sku"] == catalogue["Teapot"].sku
    assert set(teapot["matches"][0]) == {"product_id", "sku", "name", "similarity"} and len(teapot["matches"]) == 2
    assert (teapot["title"], teapot["price"], teapot["price_difference"]) == ("Ceramic teapot", "29.50", "-5.50")


def test_a_batch_job_is_made_and_read_through_the_api_by_its_owner_only(partner_writer, partner_reader, catalogue,
                                                                        other_partner):
    from shop.partners.tests.api.fixtures import api, key_for
    from shop.stafftools.models import IdentifyJob
    from shop.stafftools.services import identify_job_process

    teapot = catalogue["Teapot"]
    pot = query_copy(demo_asset_bytes("1fad6.webp"))
    photos = [SimpleUploadedFile("pot.jpg", pot, content_type="image/jpeg"),
              SimpleUploadedFile("odd.jpg", b"not a photo", content_type="image/jpeg")]
    listing = SimpleUploadedFile("l.csv", b"file,title,price,url\npot.jpg,Their pot,40.00,\n", content_type="text/csv")
    denied = partner_reader.post("/api/v1/identify/jobs", {"kind": "outside", "photos": [_photo(pot)]},
                                 format="multipart")
    assert denied.status_code == 403 and IdentifyJob.objects.count() == 0

    made = partner_writer.post("/api/v1/identify/jobs", {"kind": "outside", "photos": photos, "listing": listing},
                               format="multipart")
    assert made.status_code == 202
    body = made.json()
    assert (body["status"], body["total"], body["pending"]) == ("pending", 2, 1)
    assert [(p["name"], p["status"], p["error_code"]) for p in body["photos"]] == [
        ("pot.jpg", "pending", ""), ("odd.jpg", "refused", "image_unreadable")]

    identify_job_process(job_id=body["id"])
    report = partner_writer.get(f"/api/v1/identify/jobs/{body['id']}").json()
    first = report["photos"][0]
    assert report["status"] == "done" and first["close"] is True and first["matches"][0]["sku"] == teapot.sku
    assert (first["title"], first["price"]) == ("Their pot", "40.00")
    assert report["categories"] == [{"category": "Kitchen", "items": 1, "covered": 1, "median_price_difference": "5.00"}]
    stranger = api(key_for(other_partner, "read", "write")).get(f"/api/v1/identify/jobs/{body['id']}")
    assert stranger.status_code == 404 and stranger.json()["code"] == "not_found"


def test_a_batch_job_the_api_cannot_make_is_refused_with_nothing_written(partner_writer, catalogue):
    from shop.stafftools.models import IdentifyJob, IdentifyJobPhoto

    lone = partner_writer.post("/api/v1/identify/jobs", {"kind": "delivery", "photos": [_photo(b"GIF89a no")]},
                               format="multipart")
    assert lone.status_code == 400 and lone.json()["code"] == "image_unreadable"
    expected = SimpleUploadedFile("e.csv", b"sku,quantity\nNO-SUCH,2\n", content_type="text/csv")
    unknown = partner_writer.post("/api/v1/identify/jobs", {"kind": "delivery", "listing": expected,
                                  "photos": [_photo(query_copy(demo_asset_bytes("1fad6.webp")))]}, format="multipart")
    assert unknown.status_code == 400
    assert unknown.json()["details"] == {"listing": ["The expected list names SKUs the catalogue does not have: NO-SUCH."],
                                         "reason": "sku_unknown"}
    assert IdentifyJob.objects.count() == IdentifyJobPhoto.objects.count() == 0
