"""The batch identify pages (/admin/identify/deliveries/, /admin/identify/outside/, a job's page): staff only,
uploads through the intake, progress, the report, CSV, the stored photos behind the staff view, delete."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import photo_bytes
from shop.stafftools.models import IdentifyJob, IdentifyJobPhoto
from shop.stafftools.services import identify_job_process
from shop.stafftools.tests.factories import delivery_photo, zip_of

pytestmark = pytest.mark.django_db


def _file(name: str, data: bytes, content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def a_job(db):
    from shop.stafftools.batches import job_photos_read
    from shop.stafftools.services import identify_job_create

    return identify_job_create(kind="outside", photos=job_photos_read(files=[("a.jpg", photo_bytes())]))


def test_every_job_page_and_operation_is_for_staff_only(client, django_user_model, a_job):
    photo = a_job.photos.get()
    urls = ["/admin/identify/deliveries/", "/admin/identify/outside/", f"/admin/identify/jobs/{a_job.id}/",
            f"/admin/identify/jobs/{a_job.id}/?export=listings", f"/admin/identify/photos/{photo.id}/"]
    shopper = django_user_model.objects.create_user(username="shopper", password="pass-pass-42")
    for who in (None, shopper):
        if who is not None:
            client.force_login(who)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), (who, url)
        posted = client.post("/admin/identify/outside/", {"photos": _file("b.jpg", photo_bytes())})
        deleted = client.post(f"/admin/identify/jobs/{a_job.id}/delete/")
        assert posted.status_code == deleted.status_code == 302
    assert list(IdentifyJob.objects.values_list("id", flat=True)) == [a_job.id]  # nothing made, nothing deleted
    assert IdentifyJobPhoto.objects.count() == 1


def test_staff_start_a_delivery_job_watch_it_and_read_its_report(admin_client, catalogue, _media_root):
    teapot = catalogue["Teapot"]
    # when staff upload two photos and a zip with one more photo and a damaged one, and the expected list
    expected = _file("expected.csv", f"sku,quantity\n{teapot.sku},2\n".encode(), "text/csv")
    archive = zip_of({"box/guitar.jpg": delivery_photo("1f3b8.webp"), "box/bad.jpg": b"\xff\xd8\xff oops"})
    response = admin_client.post("/admin/identify/deliveries/", {
        "title": "Delivery 7", "listing": expected,
        "photos": [_file("t1.jpg", delivery_photo("1fad6.webp")), _file("t2.jpg", delivery_photo("1fad6.webp", n=1)),
                   _file("box.zip", archive, "application/zip")],
    })
    job = IdentifyJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/identify/jobs/{job.id}/"
    assert job.expected == [{"sku": teapot.sku, "quantity": 2}] and job.title == "Delivery 7"

    # then its page shows the progress and reloads itself while photos are left
    page = admin_client.get(f"/admin/identify/jobs/{job.id}/").content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page
    assert '<progress max="4" value="1">' in page and "1 of 4 photos" in page  # the refused member is settled

    # and once a worker is done, the report: counts, the unexpected guitar, the refused member, exports
    identify_job_process(job_id=job.id)
    page = admin_client.get(f"/admin/identify/jobs/{job.id}/").content.decode()
    assert "http-equiv" not in page and "3 photos matched, 1 refused" in page
    assert f"<td>{teapot.sku}</td><td>Teapot</td><td>2</td><td>2</td><td>0</td><td>as expected</td>" in page
    assert f"<td>{catalogue['Guitar'].sku}</td><td>Guitar</td><td>0</td><td>1</td><td>+1</td><td>not expected</td>" in page
    assert "<td>box/bad.jpg</td><td>refused</td><td>The picture is damaged or incomplete. Try another photo.</td>" in page
    csv = admin_client.get(f"/admin/identify/jobs/{job.id}/?export=counts")
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    assert csv["Content-Disposition"] == f'attachment; filename="delivery-{job.id}-counts.csv"'
    assert csv.content.decode().splitlines()[1] == f"{teapot.sku},Teapot,2,2,0,as expected"
    unknown = admin_client.get(f"/admin/identify/jobs/{job.id}/?export=categories")
    assert unknown.status_code == 400 and unknown.content.decode().endswith("the tables are: counts, photos.")


def test_job_photos_are_shown_to_staff_and_never_served_as_media(admin_client, client, a_job):
    photo = a_job.photos.get()
    shown = admin_client.get(f"/admin/identify/photos/{photo.id}/")
    assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
    assert b"".join(shown.streaming_content) == photo.file.open("rb").read()
    assert photo.file.name.startswith(f"private/stafftools/job-{a_job.id}/")
    assert client.get(f"/media/{photo.file.name}").status_code == 404


@pytest.mark.parametrize(("files", "listing", "message"), [
    ([("x.gif", b"GIF89a not a photo", "image/gif")], None,
     "This file is not a picture we can read. Use a JPEG, PNG, WebP, HEIC or AVIF photo."),
    ([("a.jpg", b"nope", "image/jpeg"), ("b.jpg", b"nope", "image/jpeg")], None,
     "No photo to work on (a.jpg: This file is not a picture we can read. Use a JPEG, PNG, WebP, HEIC or AVIF photo.; "
     "b.jpg: This file is not a picture we can read. Use a JPEG, PNG, WebP, HEIC or AVIF photo.)."),
    ([("a.jpg", None, "image/jpeg")], "sku,quantity\nNO-SUCH,1\n",
     "The expected list names SKUs the catalogue does not have: NO-SUCH."),
    ([("a.jpg", None, "image/jpeg")], "sku\nA,1\n",
     "The expected list needs the columns quantity, sku in its first line (missing: quantity)."),
])
def test_a_refused_upload_answers_400_with_the_reason_and_stores_nothing(admin_client, _media_root, files, listing,
                                                                          message):
    data = {"photos": [_file(name, content if content is not None else photo_bytes(), kind) for name, content, kind in files]}
    if listing is not None:
        data["listing"] = _file("expected.csv", listing.encode(), "text/csv")
    response = admin_client.post("/admin/identify/deliveries/", data)
    assert response.status_code == 400
    assert message in [str(e) for errors in response.context["form"].errors.values() for e in errors]
    assert IdentifyJob.objects.count() == IdentifyJobPhoto.objects.count() == 0
    assert [p for p in _media_root.rglob("*") if p.is_file()] == []


def test_deleting_a_job_from_its_page_deletes_its_photos(admin_client, a_job, _media_root,
                                                         django_capture_on_commit_callbacks):
    stored = _media_root / a_job.photos.get().file.name
    assert stored.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/identify/jobs/{a_job.id}/delete/")
    assert response.status_code == 302 and response["Location"] == "/admin/identify/outside/"
    assert not stored.exists() and IdentifyJob.objects.count() == 0
    assert admin_client.get(f"/admin/identify/jobs/{a_job.id}/").status_code == 404
