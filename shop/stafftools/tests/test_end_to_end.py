"""A batch job on real parts: the admin page -> Redis -> the Celery worker process (the real model) -> the report."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import wait_for
from shop.stafftools.models import IdentifyJob

from .factories import delivery_photo, zip_of

pytestmark = pytest.mark.e2e


def test_a_real_worker_works_through_a_delivery_job(celery_worker, catalogue, admin_client):
    teapot, guitar = catalogue["Teapot"], catalogue["Guitar"]
    archive = zip_of({"box/teapot-1.jpg": delivery_photo("1fad6.webp"), "box/teapot-2.jpg": delivery_photo("1fad6.webp", n=1),
                      "box/guitar.jpg": delivery_photo("1f3b8.webp"), "box/broken.jpg": b"\xff\xd8\xff broken"})
    expected = SimpleUploadedFile("e.csv", f"sku,quantity\n{teapot.sku},2\n{guitar.sku},2\n".encode(), "text/csv")
    response = admin_client.post("/admin/identify/deliveries/", {
        "title": "Monday", "listing": expected, "photos": [SimpleUploadedFile("box.zip", archive, "application/zip")]})
    job = IdentifyJob.objects.get()
    assert response.status_code == 302 and job.enqueued_at is not None

    wait_for(lambda: IdentifyJob.objects.get(id=job.id).status == "done", timeout=180,
             what="the worker to finish the job")
    page = admin_client.get(f"/admin/identify/jobs/{job.id}/").content.decode()
    assert "3 photos matched, 1 refused" in page
    assert f"<td>{teapot.sku}</td><td>Teapot</td><td>2</td><td>2</td><td>0</td><td>as expected</td>" in page
    assert f"<td>{guitar.sku}</td><td>Guitar</td><td>2</td><td>1</td><td>-1</td><td>short</td>" in page
    assert list(job.photos.order_by("name").values_list("name", "status", "attempts")) == [
        ("box/broken.jpg", "refused", 0), ("box/guitar.jpg", "done", 1), ("box/teapot-1.jpg", "done", 1),
        ("box/teapot-2.jpg", "done", 1)]
    assert celery_worker.poll() is None
