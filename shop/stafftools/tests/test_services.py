"""Batch identify jobs: made from uploads through the intake, worked through one photo at a time, reconciled,
reported and deleted with their photos. The real model and the real database throughout; the broker only where
a test is about what is sent."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from conftest import demo_asset_bytes, media_files, photo_bytes
from shop.stafftools.batches import ExpectedLine, expected_read, job_photos_read, listings_read
from shop.stafftools.errors import ErrorCode, JobRejected
from shop.stafftools.models import IdentifyJob, IdentifyJobPhoto, JobKind, JobStatus, PhotoStatus
from shop.stafftools.selectors import delivery_report, outside_report, report_csv
from shop.stafftools.services import (
    identify_job_create,
    identify_job_delete,
    identify_job_process,
    identify_jobs_reconcile,
    photo_likeness,
)
from visualsearch.errors import ErrorCode as ImageErrorCode
from visualsearch.errors import ImageRejected
from visualsearch.models import ImageEmbedding
from visualsearch.services import embeddings_compute, product_image_add

from .factories import delivery_photo, recoloured, second_picture, zip_of

pytestmark = pytest.mark.django_db


def _private_files(root):
    return [p.relative_to(root).as_posix() for p in media_files(root) if "private/stafftools" in p.as_posix()]


def test_photo_likeness_is_the_best_cosine_against_the_lowest_among_the_pictures():
    references = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.6, 0.0, 0.8]], dtype=np.float32)
    likeness, spread = photo_likeness(vector=np.array([0.0, 0.0, 2.0], dtype=np.float32), references=references)
    # 0.8 with the third picture; the pictures agree at 0.8, 0.6 and 0.48 (second and third) among themselves
    assert (round(likeness, 4), round(spread, 4)) == (0.8, 0.48)
    assert photo_likeness(vector=np.ones(3, dtype=np.float32), references=references[:1])[1] is None
    assert photo_likeness(vector=np.ones(3, dtype=np.float32), references=np.zeros((0, 3))) == (None, None)


def test_expected_and_listings_csv_are_read_and_wrong_lines_named():
    assert expected_read("sku,quantity\nA-1,2\nB-2,1\nA-1,3\n") == [ExpectedLine("A-1", 5), ExpectedLine("B-2", 1)]
    with pytest.raises(JobRejected) as missing:
        expected_read("sku,count\nA-1,2\n")
    assert missing.value.code is ErrorCode.CSV_INVALID and "missing: quantity" in missing.value.message
    with pytest.raises(JobRejected) as zero:
        expected_read("sku,quantity\nA-1,2\nB-2,0\n")
    assert zero.value.message == "Line 3 of the expected list needs a SKU and a quantity of at least 1."
    listings = listings_read("file,title,price,url\na.jpg,Pot,29.50,https://example.org/a\nb.jpg,,cheap,\n")
    assert (listings["a.jpg"].price, listings["a.jpg"].url, listings["b.jpg"].price) == (
        Decimal("29.50"), "https://example.org/a", None)


def test_a_zip_member_the_intake_refuses_is_listed_and_the_rest_proceeds():
    archive = zip_of({"box/teapot.jpg": delivery_photo("1fad6.webp"), "box/broken.jpg": b"\xff\xd8\xff not really",
                      "box/notes.txt": b"three boxes", "__MACOSX/box/._teapot.jpg": b"junk"})
    photos = job_photos_read(files=[("delivery.zip", archive), ("guitar.jpg", delivery_photo("1f3b8.webp"))])
    assert [p.name for p in photos.accepted] == ["box/teapot.jpg", "guitar.jpg"]
    assert [(r.name, r.code, r.message) for r in photos.refused] == [
        ("box/broken.jpg", "image_truncated", "The picture is damaged or incomplete. Try another photo.")]
    assert all(p.jpeg.startswith(b"\xff\xd8\xff") for p in photos.accepted)


def test_a_lone_refused_file_gets_the_intakes_answer_and_nothing_acceptable_is_refused_whole():
    with pytest.raises(ImageRejected) as lone:
        job_photos_read(files=[("x.gif", b"GIF89a not a photo")])
    assert lone.value.code is ImageErrorCode.IMAGE_UNREADABLE
    with pytest.raises(JobRejected) as none:
        job_photos_read(files=[("a.jpg", b""), ("b.jpg", b"nope")])
    assert none.value.code is ErrorCode.JOB_NO_PHOTOS
    assert none.value.message == ("No photo to work on (a.jpg: The file is empty.; b.jpg: This file is not a picture "
                                  "we can read. Use a JPEG, PNG, WebP, HEIC or AVIF photo.).")
    with pytest.raises(ImageRejected) as bad_zip:  # not a zip that can be read, so judged as a photo
        job_photos_read(files=[("d.zip", b"PK\x03\x04 truncated")])
    assert bad_zip.value.code is ImageErrorCode.IMAGE_UNREADABLE


def test_too_many_photos_are_refused(settings):
    settings.STAFFTOOLS_MAX_PHOTOS = 2
    with pytest.raises(JobRejected) as error:
        job_photos_read(files=[(f"{n}.jpg", photo_bytes()) for n in range(3)])
    assert error.value.code is ErrorCode.JOB_TOO_MANY_PHOTOS


def test_an_unknown_expected_sku_writes_nothing(catalogue, _media_root):
    photos = job_photos_read(files=[("t.jpg", delivery_photo("1fad6.webp"))])
    with pytest.raises(JobRejected) as error:
        identify_job_create(kind=JobKind.DELIVERY, photos=photos,
                            expected=[ExpectedLine(catalogue["Teapot"].sku, 1), ExpectedLine("NO-SUCH", 2)])
    assert error.value.code is ErrorCode.SKU_UNKNOWN and "NO-SUCH" in error.value.message
    assert IdentifyJob.objects.count() == IdentifyJobPhoto.objects.count() == 0
    assert _private_files(_media_root) == []


def test_a_delivery_is_counted_against_its_expected_list(catalogue, _media_root, admin_user):
    # given a teapot with two pictures of its own, and a delivery: two teapots, a guitar, a hiking boot nobody
    # ordered, a teapot in another colour, a thing the shop does not sell and a damaged file, in one zip
    teapot, guitar, apple, boot = (catalogue[n] for n in ("Teapot", "Guitar", "Red Apple", "Hiking Boot"))
    product_image_add(product=teapot, data=second_picture("1fad6.webp"), enqueue=False)
    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.filter(status="pending").values_list("id", flat=True)))
    archive = zip_of({
        "01-teapot.jpg": delivery_photo("1fad6.webp"), "02-teapot.jpg": delivery_photo("1fad6.webp", n=1),
        "03-guitar.jpg": delivery_photo("1f3b8.webp"), "04-boot.jpg": delivery_photo("1f97e.webp"),
        "05-blue-teapot.jpg": recoloured("1fad6.webp"), "06-circle.jpg": photo_bytes(), "07-broken.jpg": b"\xff\xd8\xffx",
    })
    expected = expected_read(f"sku,quantity\n{teapot.sku},3\n{guitar.sku},1\n{apple.sku},1\n")

    # when staff make the job and a worker works through it
    job = identify_job_create(kind=JobKind.DELIVERY, photos=job_photos_read(files=[("d.zip", archive)]),
                              expected=expected, title="Delivery 42", created_by=admin_user)
    assert len(_private_files(_media_root)) == 6 and job.photos.filter(status="pending").count() == 6
    assert identify_job_process(job_id=job.id) == {"matched": 6, "failed": 0}

    # then the report counts per SKU against the list (the blue teapot counts as a teapot, and is flagged)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.finished_at is not None
    report = delivery_report(job=job)
    assert [(c.sku, c.expected, c.counted, c.verdict) for c in report.counts] == [
        (teapot.sku, 3, 3, "as expected"), (guitar.sku, 1, 1, "as expected"), (apple.sku, 1, 0, "short"),
        (boot.sku, 0, 1, "not expected"),
    ]
    assert [(c.sku, c.difference) for c in report.off] == [(apple.sku, -1), (boot.sku, 1)]
    assert [p.name for p in report.unmatched] == ["06-circle.jpg"]
    assert [p.name for p in report.unlike] == ["05-blue-teapot.jpg"]
    blue = report.unlike[0]
    assert blue.likeness < blue.reference_spread and blue.first["sku"] == teapot.sku
    genuine = job.photos.get(name="01-teapot.jpg")
    assert genuine.likeness > genuine.reference_spread and genuine.unlike is False
    assert [(p.name, p.error_code) for p in report.refused] == [("07-broken.jpg", "image_truncated")]
    assert report.progress.percent == 100 and report.progress.total == 7

    # and the CSV export says the same
    assert report_csv(job=job, table="counts").splitlines() == [
        "sku,name,expected,counted,difference,verdict",
        f"{teapot.sku},Teapot,3,3,0,as expected", f"{guitar.sku},Guitar,1,1,0,as expected",
        f"{apple.sku},Red Apple,1,0,-1,short", f"{boot.sku},Hiking Boot,0,1,1,not expected",
    ]
    photos_csv = report_csv(job=job, table="photos").splitlines()
    assert len(photos_csv) == 8 and photos_csv[5].startswith(f"05-blue-teapot.jpg,done,{teapot.sku},Teapot,")
    blue_row = photos_csv[5].split(",")
    assert (blue_row[5], blue_row[6], blue_row[7], blue_row[8], blue_row[9]) == (
        "True", str(blue.likeness), str(blue.reference_spread), "True", "")  # close, alike, spread, unlike, no error
    with pytest.raises(ValueError):
        report_csv(job=job, table="categories")

    # and a second run finds nothing left to do
    assert identify_job_process(job_id=job.id) == {"matched": 0, "failed": 0}


def test_outside_listings_report_coverage_gaps_and_price_position(catalogue):
    archive = zip_of({"a/teapot.jpg": delivery_photo("1fad6.webp"), "a/kettle.jpg": delivery_photo("2615.webp"),
                      "a/shoe.jpg": delivery_photo("1f45f.webp"), "a/circle.jpg": photo_bytes(colour=(30, 90, 200))})
    listings = listings_read("file,title,price,url\na/teapot.jpg,Their teapot,29.50,https://example.org/t\n"
                             "a/kettle.jpg,Cup,14.00,\na/shoe.jpg,Runner,99.00,\n")
    job = identify_job_create(kind=JobKind.OUTSIDE, photos=job_photos_read(files=[("l.zip", archive)]),
                              listings=listings)
    identify_job_process(job_id=job.id)

    report = outside_report(job=IdentifyJob.objects.get(id=job.id))
    by_name = {item.photo.name: item for item in report.items}
    assert by_name["a/teapot.jpg"].first["sku"] == catalogue["Teapot"].sku
    assert by_name["a/teapot.jpg"].price_difference == Decimal("-5.50")  # 29.50 against our 35.00
    assert by_name["a/kettle.jpg"].price_difference == Decimal("2.00")  # 14.00 against 12.00
    assert [item.photo.name for item in report.gaps] == ["a/circle.jpg"]
    kitchen = next(c for c in report.categories if c.category == "Kitchen")
    assert (kitchen.items, kitchen.covered, kitchen.median_price_difference) == (2, 2, Decimal("-1.75"))
    shoes = next(c for c in report.categories if c.category == "Shoes")
    assert (shoes.items, shoes.covered, shoes.median_price_difference) == (1, 1, Decimal("10.00"))
    rows = report_csv(job=job, table="listings").splitlines()
    assert rows[0].startswith("file,title,price,url,close,sku") and len(rows) == 5
    assert "Kitchen,2,2,-1.75" in report_csv(job=job, table="categories")


def test_a_photo_whose_worker_died_is_taken_again_and_one_that_always_kills_it_is_given_up(catalogue, settings):
    settings.STAFFTOOLS_MAX_ATTEMPTS = 2
    photos = job_photos_read(files=[("a.jpg", delivery_photo("1fad6.webp")), ("b.jpg", delivery_photo("1f3b8.webp"))])
    with mock.patch("celery.current_app.send_task") as send:
        job = identify_job_create(kind=JobKind.DELIVERY, photos=photos)
        long_ago = timezone.now() - timedelta(hours=1)
        a, b = job.photos.order_by("id")
        # a worker took a, and died (its claim is old); b's message was lost (sent long ago, never taken)
        IdentifyJobPhoto.objects.filter(id=a.id).update(attempts=1, claimed_at=long_ago)
        IdentifyJob.objects.filter(id=job.id).update(enqueued_at=long_ago)

        assert identify_jobs_reconcile() == {"resent": 1, "gave_up": 0, "finished": 0}
        assert send.call_args.args == ("shop.stafftools.tasks.identify_job_run_task",) and send.call_args.kwargs == {
            "args": (job.id,)}
        # just re-sent (its message may wait in the queue), then a worker on it now: nothing to re-send
        assert identify_jobs_reconcile()["resent"] == 0
        IdentifyJob.objects.filter(id=job.id).update(enqueued_at=long_ago)
        IdentifyJobPhoto.objects.filter(id=b.id).update(claimed_at=timezone.now())
        assert identify_jobs_reconcile()["resent"] == 0
        IdentifyJobPhoto.objects.filter(id=b.id).update(claimed_at=None)

        # a died a second time: its attempts are used up, so it is given up on; b is still left, the job re-sent
        IdentifyJobPhoto.objects.filter(id=a.id).update(attempts=2, claimed_at=long_ago)
        assert identify_jobs_reconcile() == {"resent": 1, "gave_up": 1, "finished": 0}
    a.refresh_from_db()
    assert (a.status, a.error) == ("failed", "gave up after 2 attempts (the worker died or timed out)")

    # the job's next run does b only, and finishes the job
    assert identify_job_process(job_id=job.id) == {"matched": 1, "failed": 0}
    assert IdentifyJob.objects.get(id=job.id).status == JobStatus.DONE
    assert delivery_report(job=job).failed == [a]


def test_a_job_made_while_the_broker_is_down_is_left_to_the_reconciler(django_capture_on_commit_callbacks):
    from kombu.exceptions import OperationalError

    photos = job_photos_read(files=[("a.jpg", photo_bytes())])
    with mock.patch("celery.current_app.send_task", side_effect=OperationalError("down")) as send:
        with django_capture_on_commit_callbacks(execute=True):
            job = identify_job_create(kind=JobKind.OUTSIDE, photos=photos)
    assert send.call_count == 1
    job.refresh_from_db()
    assert job.enqueued_at is not None and job.photos.get().status == PhotoStatus.PENDING


def test_deleting_a_job_deletes_its_photos(catalogue, _media_root, django_capture_on_commit_callbacks):
    photos = job_photos_read(files=[("a.jpg", delivery_photo("1fad6.webp")), ("b.jpg", b"nope"),
                                    ("c.jpg", delivery_photo("1f3b8.webp"))])
    job = identify_job_create(kind=JobKind.OUTSIDE, photos=photos)
    other = identify_job_create(kind=JobKind.OUTSIDE, photos=job_photos_read(files=[("d.jpg", photo_bytes())]))
    names = list(job.photos.exclude(file="").values_list("file", flat=True))
    assert len(names) == 2 and all(default_storage.exists(n) for n in names)
    assert len(_private_files(_media_root)) == 3

    with django_capture_on_commit_callbacks(execute=True):
        assert identify_job_delete(job=job) == 2

    assert not any(default_storage.exists(n) for n in names)
    assert not (_media_root / f"private/stafftools/job-{job.id}").exists()
    assert _private_files(_media_root) == [other.photos.get().file.name]
    assert IdentifyJobPhoto.objects.filter(job_id=job.id).count() == 0


def test_a_delivery_of_variants_is_counted_per_variant_sku(catalogue, _media_root):
    # given a cushion sold in two colours, each with its own picture, among the catalogue
    from catalog.services import VariantData, product_variant_create
    from catalog.tests.factories import ProductFactory

    cushion = ProductFactory(name="Heart Cushion", sku="HEART")
    for colour, asset in [("Red", "2764-fe0f.webp"), ("Blue", "1f499.webp")]:
        variant = product_variant_create(product=cushion, data=VariantData(sku=f"HEART-{colour.upper()}", name=colour))
        product_image_add(product=cushion, data=demo_asset_bytes(asset), variant=variant, enqueue=False)
    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.filter(status="pending").values_list("id", flat=True)))
    photos = job_photos_read(files=[("red.jpg", delivery_photo("2764-fe0f.webp")),
                                    ("blue-1.jpg", delivery_photo("1f499.webp")),
                                    ("blue-2.jpg", delivery_photo("1f499.webp", n=1))])

    # when the delivery is checked against a list of variant SKUs
    job = identify_job_create(kind=JobKind.DELIVERY, photos=photos,
                              expected=expected_read("sku,quantity\nHEART-RED,1\nHEART-BLUE,1\n"))
    identify_job_process(job_id=job.id)

    # then each colour is counted by its own SKU and named with its colour
    report = delivery_report(job=job)
    assert [(c.sku, c.name, c.expected, c.counted, c.verdict) for c in report.counts] == [
        ("HEART-RED", "Heart Cushion, Red", 1, 1, "as expected"),
        ("HEART-BLUE", "Heart Cushion, Blue", 1, 2, "over"),
    ]
