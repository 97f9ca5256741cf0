"""The hostile corpus, sent to every door a photo comes in by: each file is refused with a 4xx and a clear
message, or (a real photo in a hostile wrapper) stored as a clean re-encoded JPEG; never a 5xx.

One test per door walks the whole corpus and lists every wrong answer at once, so a regression shows all
the files it affects.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
from django.conf import settings
from django.test import Client

from catalog.models import Product, ProductImage
from catalog.services import category_get_or_create_path
from conftest import media_files
from visualsearch.errors import ErrorCode
from visualsearch.models import ImageEmbedding

from .corpus import Outcome, Specimen, corpus
from .upload import MALFORMED_PAGE_TEXT, code_of_message, multipart, stored_file_problems


@pytest.fixture(scope="module")
def specimens() -> list[Specimen]:
    return corpus(max_pixels=settings.VISUALSEARCH_MAX_PIXELS)


class _CountingEmbedder:
    """Stands in for the model in the search-door tests, which are about what reaches it, not about vectors.

    Everything that passes intake is a plain decoded RGB picture; the real model meets those pictures in
    ``test_accepted_specimens_are_embedded_by_a_real_worker``. (The real model here made these two tests
    take a minute each on a shared 2-core machine.)
    """

    network = None
    """No head to read, so no recognised regions (as for a downloaded torchvision key): each object's crop is
    embedded here, and these tests see every picture the model would."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.sizes: list[tuple[int, int]] = []
        self.photos = 0
        """Calls: one per photo that reached the model (its batch holds the photo and any objects' crops)."""

    def embed(self, pictures):
        self.photos += 1
        self.sizes += [picture.size for picture in pictures]
        vectors = np.ones((len(pictures), self.dimension), dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def fake_embedder(monkeypatch):
    from visualsearch import selectors
    from visualsearch.embedding import spec_for

    embedder = _CountingEmbedder(spec_for(settings.VISUALSEARCH_MODEL).dimension)
    monkeypatch.setattr(selectors, "embedder_for", lambda key, device: embedder)
    return embedder


def _judge(specimen: Specimen, *, accepted: bool, status: int, message: str | None) -> str | None:
    """None when the answer is right for this specimen, else what is wrong with it."""
    if status >= 500:
        return f"{specimen.label}: HTTP {status}"
    if accepted:
        return None if specimen.outcome in (Outcome.ACCEPT, Outcome.EITHER) else f"{specimen.label}: accepted"
    code = code_of_message(message or "")
    if not 400 <= status < 500:
        return f"{specimen.label}: refused with HTTP {status}"
    if code is None:
        return f"{specimen.label}: refused without a clear message ({message!r})"
    if specimen.outcome is Outcome.ACCEPT or code not in specimen.codes:
        return f"{specimen.label}: refused as {code.value} ({message!r})"
    return None


def test_corpus_is_large_and_covers_every_family(specimens):
    families = {s.family.split("-")[0] for s in specimens}
    assert len(specimens) >= 250  # after duplicates are dropped
    assert {"truncated", "bitflip", "bomb", "other", "not", "empty", "one", "metadata", "huge", "appended",
            "animated", "absurd"} <= families
    assert len({(s.name, s.data) for s in specimens}) == len(specimens)  # no accidental duplicates


@pytest.mark.django_db
def test_search_page_answers_every_hostile_file(specimens, _media_root, fake_embedder):
    client = Client(raise_request_exception=False)
    wrong = []
    for specimen in specimens:
        body, content_type = multipart(fields={}, file_field="image", file_name=specimen.name, data=specimen.data,
                                       content_type=specimen.content_type)
        response = client.post("/search/photo/", body, content_type=content_type)
        error = response.context.get("error") if response.status_code == 400 and response.context is not None else None
        if response.status_code == 400 and error is None and MALFORMED_PAGE_TEXT in response.content.decode():
            error = MALFORMED_PAGE_TEXT
        verdict = _judge(specimen, accepted=response.status_code == 302, status=response.status_code, message=error)
        if verdict:
            wrong.append(verdict)
        elif response.status_code == 400:
            assert html.escape(error) in response.content.decode()  # the shopper sees the message
    assert wrong == [], "\n".join(wrong)
    assert media_files(_media_root) == []
    assert ProductImage.objects.count() == 0
    _assert_model_saw_only_bounded_pictures(fake_embedder, specimens)


@pytest.mark.django_db
def test_search_api_answers_every_hostile_file(specimens, _media_root, fake_embedder):
    client = Client(raise_request_exception=False)
    wrong = []
    for specimen in specimens:
        body, content_type = multipart(fields={"limit": "3"}, file_field="image", file_name=specimen.name,
                                       data=specimen.data, content_type=specimen.content_type)
        response = client.post("/api/v1/search/image", body, content_type=content_type)
        payload = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        message = payload.get("message")
        if payload.get("code") == "invalid":  # a field the serializer refused: the reason is in the details
            message = payload["details"]["image"][0]
        verdict = _judge(specimen, accepted=response.status_code == 200, status=response.status_code, message=message)
        ours = {code.value for code in ErrorCode}
        if verdict is None and payload.get("code") in ours and payload["code"] != code_of_message(message):
            verdict = f"{specimen.label}: code {payload['code']} with the message of another code"
        if verdict:
            wrong.append(verdict)
    assert wrong == [], "\n".join(wrong)
    assert media_files(_media_root) == []
    assert ProductImage.objects.count() == 0
    _assert_model_saw_only_bounded_pictures(fake_embedder, specimens)


def _assert_model_saw_only_bounded_pictures(embedder: _CountingEmbedder, specimens: list[Specimen]) -> None:
    must_accept = sum(1 for s in specimens if s.outcome is Outcome.ACCEPT)
    # Photos, not pictures: the object step may add a crop or two per photo (how many depends on the salient-object
    # model's borderline calls on these synthetic pictures).
    assert must_accept <= embedder.photos <= must_accept + sum(1 for s in specimens if s.outcome is Outcome.EITHER)
    assert max(max(size) for size in embedder.sizes) <= settings.VISUALSEARCH_STORED_MAX_SIDE


_ERRORLIST = re.compile(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', re.S)


def _admin_errors(content: str) -> list[str]:
    return [html.unescape(item) for block in _ERRORLIST.findall(content) for item in re.findall(r"<li>(.*?)</li>", block)]


@pytest.mark.django_db
def test_admin_upload_answers_every_hostile_file_and_stores_only_clean_jpegs(specimens, admin_user, _media_root):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    category = category_get_or_create_path(path="Hostile")
    wrong, accepted = [], 0
    for n, specimen in enumerate(specimens):
        images_before = ProductImage.objects.count()
        files_before = media_files(_media_root)
        fields = {
            "sku": f"H-{n}", "name": f"Hostile {n}", "slug": f"hostile-{n}", "description": "", "price": "9.99",
            "currency": "EUR", "stock_quantity": "1", "is_published": "on", "category": str(category.id),
            "images-TOTAL_FORMS": "1", "images-INITIAL_FORMS": "0", "images-MIN_NUM_FORMS": "0",
            "images-MAX_NUM_FORMS": "1000", "images-0-position": "0", "images-0-alt_text": "hostile",
            "variants-TOTAL_FORMS": "0", "variants-INITIAL_FORMS": "0", "variants-MIN_NUM_FORMS": "0",
            "variants-MAX_NUM_FORMS": "1000",
            "images-0-kind": "catalogue",
        }
        body, content_type = multipart(fields=fields, file_field="images-0-upload", file_name=specimen.name,
                                       data=specimen.data, content_type=specimen.content_type)
        response = client.post("/admin/catalog/product/add/", body, content_type=content_type)
        if response.status_code == 302:
            accepted += 1
            product = Product.objects.get(sku=f"H-{n}")
            image = product.images.get()
            wrong += [f"{specimen.label}: {p}" for p in stored_file_problems(_media_root / image.image.name)]
            wrong += [f"{specimen.label}: thumbnail {p}" for p in stored_file_problems(_media_root / image.thumbnail.name)]
            assert ImageEmbedding.objects.filter(image=image, status="pending").count() == 1
            verdict = _judge(specimen, accepted=True, status=302, message=None)
        else:
            errors = _admin_errors(response.content.decode())
            if response.status_code == 400 and MALFORMED_PAGE_TEXT in response.content.decode():
                errors = [MALFORMED_PAGE_TEXT]
            # The refusal is the form coming back with HTTP 400, our message on the photo, and nothing saved.
            verdict = _judge(
                specimen, accepted=False, status=response.status_code, message=errors[0] if errors else None
            )
            if ProductImage.objects.count() != images_before or media_files(_media_root) != files_before:
                wrong.append(f"{specimen.label}: refused but something was stored")
            if Product.objects.filter(sku=f"H-{n}").exists():
                wrong.append(f"{specimen.label}: refused but the product was saved without its photo")
        if verdict:
            wrong.append(verdict)
    assert wrong == [], "\n".join(wrong)
    must_accept = sum(1 for s in specimens if s.outcome is Outcome.ACCEPT)
    assert accepted >= must_accept
    _assert_stored_under_hash_names(_media_root)


def _assert_stored_under_hash_names(media_root) -> None:
    """Two files (picture, thumbnail) per stored image, named by content hash, never by the client's name
    (the storage adds a random suffix when another product already holds the same picture)."""
    stored = media_files(media_root)
    assert len(stored) == 2 * ProductImage.objects.count()
    assert [p.name for p in stored if not _HASH_NAME.fullmatch(p.name)] == []


_HASH_NAME = re.compile(r"[0-9a-f]{64}(-thumb)?(_[A-Za-z0-9]{7})?\.jpg")


@pytest.mark.django_db
def test_partner_image_api_answers_every_hostile_file_and_stores_only_clean_jpegs(specimens, _media_root):
    from catalog.tests.factories import ProductFactory
    from shop.partners.tests.api.fixtures import UserFactory, key_for

    key = key_for(UserFactory(is_staff=True), "read", "write")  # staff keys may add photos to shop products
    client = Client(raise_request_exception=False, HTTP_X_API_KEY=key)
    wrong, accepted = [], 0
    for specimen in specimens:
        product = ProductFactory()
        files_before = media_files(_media_root)
        body, content_type = multipart(fields={"alt_text": "hostile"}, file_field="image", file_name=specimen.name,
                                       data=specimen.data, content_type=specimen.content_type)
        response = client.post(f"/api/v1/products/{product.id}/images", body, content_type=content_type)
        payload = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        if response.status_code == 201:
            accepted += 1
            image = product.images.get()
            assert payload["id"] == image.id
            wrong += [f"{specimen.label}: {p}" for p in stored_file_problems(_media_root / image.image.name)]
            wrong += [f"{specimen.label}: thumbnail {p}" for p in stored_file_problems(_media_root / image.thumbnail.name)]
            verdict = _judge(specimen, accepted=True, status=201, message=None)
        else:
            message = payload.get("message")
            if payload.get("code") == "invalid":
                message = payload["details"]["image"][0]
            verdict = _judge(specimen, accepted=False, status=response.status_code, message=message)
            if product.images.exists() or media_files(_media_root) != files_before:
                wrong.append(f"{specimen.label}: refused but something was stored")
        if verdict:
            wrong.append(verdict)
    assert wrong == [], "\n".join(wrong)
    assert accepted >= sum(1 for s in specimens if s.outcome is Outcome.ACCEPT)
    _assert_stored_under_hash_names(_media_root)


def test_messages_map_back_to_their_codes():
    from visualsearch.errors import ImageRejected

    assert code_of_message(ImageRejected(ErrorCode.IMAGE_FORMAT_REFUSED, format="TIFF").message) is (
        ErrorCode.IMAGE_FORMAT_REFUSED)
    assert code_of_message(ImageRejected(ErrorCode.IMAGE_TOO_LARGE, limit_mb=25).message) is ErrorCode.IMAGE_TOO_LARGE
    assert code_of_message("Something went wrong") is None



@pytest.mark.e2e
def test_accepted_specimens_are_embedded_by_a_real_worker(specimens, celery_worker):
    """What intake lets through reaches the real model in the real worker process, which embeds it and lives."""
    from visualsearch.services import product_image_add
    from catalog.tests.factories import ProductFactory
    from conftest import wait_for

    distinct = {s.data: s for s in specimens if s.outcome is Outcome.ACCEPT}.values()
    for specimen in distinct:
        product_image_add(product=ProductFactory(), data=specimen.data)

    wait_for(lambda: not ImageEmbedding.objects.filter(status="pending").exists(), timeout=240,
             what="the worker to embed the accepted specimens")
    assert ImageEmbedding.objects.filter(status="ready").count() == len(distinct) == ProductImage.objects.count()
    assert celery_worker.poll() is None


# --- the staff tools' batch jobs: the delivery page, the jobs API, and a zip of the whole corpus ---------------


def _job_files_problems(label: str, media_root) -> list[str]:
    from shop.stafftools.models import IdentifyJobPhoto

    problems = []
    for photo in IdentifyJobPhoto.objects.exclude(file=""):
        problems += [f"{label}: {p}" for p in stored_file_problems(media_root / photo.file.name)]
    return problems


@pytest.mark.django_db
def test_batch_job_page_answers_every_hostile_file_and_stores_only_clean_jpegs(specimens, admin_user, _media_root):
    from shop.stafftools.models import IdentifyJob, IdentifyJobPhoto

    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    wrong, accepted = [], 0
    for specimen in specimens:
        jobs_before, files_before = IdentifyJob.objects.count(), media_files(_media_root)
        body, content_type = multipart(fields={"title": "hostile"}, file_field="photos", file_name=specimen.name,
                                       data=specimen.data, content_type=specimen.content_type)
        response = client.post("/admin/identify/deliveries/", body, content_type=content_type)
        if response.status_code == 302:
            accepted += 1
            verdict = _judge(specimen, accepted=True, status=302, message=None)
            job = IdentifyJob.objects.latest("id")
            if list(job.photos.values_list("status", flat=True)) != ["pending"]:
                wrong.append(f"{specimen.label}: accepted but its job holds {list(job.photos.values('status'))}")
        else:
            errors = _admin_errors(response.content.decode())
            if response.status_code == 400 and MALFORMED_PAGE_TEXT in response.content.decode():
                errors = [MALFORMED_PAGE_TEXT]
            verdict = _judge(specimen, accepted=False, status=response.status_code, message=errors[0] if errors else None)
            if IdentifyJob.objects.count() != jobs_before or media_files(_media_root) != files_before:
                wrong.append(f"{specimen.label}: refused but something was stored")
        if verdict:
            wrong.append(verdict)
    wrong += _job_files_problems("job photo", _media_root)
    assert wrong == [], "\n".join(wrong)
    assert accepted >= sum(1 for s in specimens if s.outcome is Outcome.ACCEPT)
    assert IdentifyJobPhoto.objects.count() == accepted == len(media_files(_media_root))


@pytest.mark.django_db
def test_batch_job_api_answers_every_hostile_file(specimens, _media_root):
    from shop.partners.tests.api.fixtures import UserFactory, key_for
    from shop.stafftools.models import IdentifyJob

    client = Client(raise_request_exception=False, HTTP_X_API_KEY=key_for(UserFactory(), "read", "write"))
    wrong = []
    for specimen in specimens:
        jobs_before, files_before = IdentifyJob.objects.count(), media_files(_media_root)
        body, content_type = multipart(fields={"kind": "outside"}, file_field="photos", file_name=specimen.name,
                                       data=specimen.data, content_type=specimen.content_type)
        response = client.post("/api/v1/identify/jobs", body, content_type=content_type)
        payload = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        message = payload.get("message")
        if payload.get("code") == "invalid" and "photos" in payload.get("details", {}):
            details = payload["details"]["photos"]
            message = details[0] if isinstance(details, list) else next(iter(details.values()))[0]
        verdict = _judge(specimen, accepted=response.status_code == 202, status=response.status_code, message=message)
        if response.status_code != 202 and (IdentifyJob.objects.count() != jobs_before
                                            or media_files(_media_root) != files_before):
            wrong.append(f"{specimen.label}: refused but something was stored")
        if verdict:
            wrong.append(verdict)
    wrong += _job_files_problems("job photo", _media_root)
    assert wrong == [], "\n".join(wrong)


@pytest.mark.django_db
def test_a_zip_of_the_whole_corpus_lists_each_refused_member_with_its_reason(specimens, _media_root, admin_user):
    """One zip holding every specimen (as n.jpg: zip members are read as photos by their name): each refused
    member is listed with a code that is a right answer for it, the rest are stored as clean JPEGs."""
    import io
    import zipfile

    from shop.stafftools.models import IdentifyJob

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for n, specimen in enumerate(specimens):
            z.writestr(f"{n:04d}.jpg", specimen.data)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    body, content_type = multipart(fields={}, file_field="photos", file_name="corpus.zip", data=archive.getvalue(),
                                   content_type="application/zip")
    response = client.post("/admin/identify/deliveries/", body, content_type=content_type)
    assert response.status_code == 302
    photos = {p.name: p for p in IdentifyJob.objects.get().photos.all()}
    wrong = []
    for n, specimen in enumerate(specimens):
        photo = photos.get(f"{n:04d}.jpg")
        if photo is None:
            wrong.append(f"{specimen.label}: not listed")
            continue
        if photo.status == "pending":
            verdict = _judge(specimen, accepted=True, status=302, message=None)
        else:
            verdict = _judge(specimen, accepted=False, status=400, message=photo.error)
            if photo.file or code_of_message(photo.error) != ErrorCode(photo.error_code):
                wrong.append(f"{specimen.label}: refused as {photo.error_code} with a file or another code's message")
        if verdict:
            wrong.append(verdict)
    wrong += _job_files_problems("job photo", _media_root)
    assert wrong == [], "\n".join(wrong)
    assert len(photos) == len(specimens)
