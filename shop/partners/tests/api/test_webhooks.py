"""Webhooks: partners register URLs; deliveries are signed, retried with backoff and logged.

Deliveries go to a real HTTP server on loopback. The end-to-end test runs the real Celery worker and model.
"""

import hashlib
import hmac
import json
import re
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from catalog.tests.factories import CategoryFactory
from conftest import demo_asset_bytes, outbox_drain, photo_bytes, wait_for
from shop.partners import webhooks
from shop.partners.models import WebhookDelivery, WebhookEndpoint
from shop.partners.tests.api.fixtures import UserFactory, api, key_for
from visualsearch.tests.fixtures import query_copy

EVENTS = ["product.created", "image.embedding_ready", "image.embedding_failed"]


def _verify(secret: str, received: dict) -> dict:
    """What a partner does: check the signature over "<t>.<body>" and the timestamp, then parse."""
    parts = dict(item.split("=", 1) for item in received["headers"]["X-Shop-Signature"].split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + received["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(time.time() - int(parts["t"])) < 300
    return json.loads(received["body"])


# --- endpoints in the API ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_partner_registers_an_endpoint_and_sees_the_secret_once(settings, partner, webhook_receiver):
    settings.SHOP_WEBHOOK_ALLOW_PRIVATE_URLS = True
    client = api(key_for(partner, "read", "write"))

    created = client.post("/api/v1/webhooks", {"url": webhook_receiver.url, "events": EVENTS}, format="json")

    assert created.status_code == 201, created.json()
    endpoint = WebhookEndpoint.objects.get()
    assert created.json()["secret"] == endpoint.secret and endpoint.secret.startswith("whsec_")
    assert (endpoint.owner, endpoint.url, endpoint.events) == (partner, webhook_receiver.url, sorted(EVENTS))
    shown = client.get(f"/api/v1/webhooks/{endpoint.id}").json()
    assert "secret" not in shown and shown["events"] == sorted(EVENTS)
    assert [e["id"] for e in client.get("/api/v1/webhooks").json()["results"]] == [endpoint.id]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url,field_message",
    [
        ("http://127.0.0.1:9/hooks", "The URL points to a private, loopback or reserved address."),
        ("http://10.1.2.3/hooks", "The URL points to a private, loopback or reserved address."),
        ("ftp://partner.example/hooks", "Use an http or https URL with a host name."),
    ],
)
def test_private_and_odd_urls_are_refused_in_production(partner, url, field_message):
    response = api(key_for(partner, "read", "write")).post(
        "/api/v1/webhooks", {"url": url, "events": ["product.created"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["details"] == {"url": [field_message]}
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.django_db
def test_unknown_events_and_read_keys_are_refused(partner):
    bad_event = api(key_for(partner, "read", "write")).post(
        "/api/v1/webhooks", {"url": "https://partner.example/h", "events": ["order.paid"]}, format="json"
    )
    read_only = api(key_for(partner, "read")).post(
        "/api/v1/webhooks", {"url": "https://partner.example/h", "events": ["product.created"]}, format="json"
    )

    assert bad_event.status_code == 400 and list(bad_event.json()["details"]) == ["events"]
    assert read_only.status_code == 403 and read_only.json()["code"] == "insufficient_scope"
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.django_db
def test_another_partners_endpoint_cannot_be_seen_or_deleted(partner, other_partner):
    theirs = WebhookEndpoint.objects.create(owner=other_partner, url="https://x.example/h", events=["product.created"])
    client = api(key_for(partner, "read", "write"))

    for response in (
        client.get(f"/api/v1/webhooks/{theirs.id}"),
        client.get(f"/api/v1/webhooks/{theirs.id}/deliveries"),
        client.delete(f"/api/v1/webhooks/{theirs.id}"),
    ):
        assert response.status_code == 403 and response.json()["code"] == "not_owner"
    assert client.get("/api/v1/webhooks").json()["count"] == 0
    assert WebhookEndpoint.objects.filter(id=theirs.id).exists()


@pytest.mark.django_db
def test_owner_deletes_an_endpoint_and_lists_its_deliveries(partner):
    endpoint = WebhookEndpoint.objects.create(owner=partner, url="https://p.example/h", events=["product.created"])
    WebhookDelivery.objects.create(endpoint=endpoint, event="product.created", payload={"id": 1}, attempts=2)
    client = api(key_for(partner, "read", "write"))

    deliveries = client.get(f"/api/v1/webhooks/{endpoint.id}/deliveries").json()
    deleted = client.delete(f"/api/v1/webhooks/{endpoint.id}")

    assert [(d["event"], d["status"], d["attempts"]) for d in deliveries["results"]] == [("product.created", "pending", 2)]
    assert deleted.status_code == 204
    assert (WebhookEndpoint.objects.count(), WebhookDelivery.objects.count()) == (0, 0)


# --- deliveries, without the worker --------------------------------------------------------------------


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    assert webhooks.webhook_signature(secret="whsec_test", timestamp=1700000000, body=b'{"a":1}') == (
        hmac.new(b"whsec_test", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    )


@pytest.mark.django_db
def test_a_delivery_is_signed_and_logged(partner, webhook_receiver):
    endpoint = WebhookEndpoint.objects.create(owner=partner, url=webhook_receiver.url, events=["product.created"])
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="product.created", payload={"id": 7})

    outcome = webhooks.webhook_delivery_attempt(delivery_id=delivery.id)

    assert (outcome.status, outcome.attempts, outcome.retry_in) == ("delivered", 1, None)
    [received] = webhook_receiver.received
    body = _verify(endpoint.secret, received)
    assert body == {"id": str(delivery.event_id), "event": "product.created", "created_at": body["created_at"], "data": {"id": 7}}
    assert received["headers"]["X-Shop-Event"] == "product.created"
    assert received["headers"]["X-Shop-Delivery"] == str(delivery.event_id)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status, delivery.last_error) == ("delivered", 1, 200, "")
    assert delivery.delivered_at is not None
    assert webhooks.webhook_delivery_attempt(delivery_id=delivery.id) is None  # never sent twice
    assert len(webhook_receiver.received) == 1


@pytest.mark.django_db
def test_failures_back_off_exponentially_then_give_up(settings, partner, webhook_receiver):
    settings.SHOP_WEBHOOK_BACKOFF_SECONDS = 30
    settings.SHOP_WEBHOOK_MAX_ATTEMPTS = 3
    webhook_receiver.statuses = [500, 503, 502]
    endpoint = WebhookEndpoint.objects.create(owner=partner, url=webhook_receiver.url, events=["product.created"])
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="product.created", payload={})

    outcomes = [webhooks.webhook_delivery_attempt(delivery_id=delivery.id) for _ in range(3)]

    assert [(o.status, o.attempts, o.retry_in) for o in outcomes] == [
        ("pending", 1, 30), ("pending", 2, 60), ("failed", 3, None)
    ]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_status, delivery.next_attempt_at) == ("failed", 502, None)
    assert delivery.last_error.startswith("HTTP 502")


@pytest.mark.django_db
def test_an_unreachable_receiver_is_recorded_and_retried(settings, partner):
    settings.SHOP_WEBHOOK_TIMEOUT_SECONDS = 2
    settings.SHOP_WEBHOOK_ALLOW_PRIVATE_URLS = True
    endpoint = WebhookEndpoint.objects.create(owner=partner, url="http://127.0.0.1:9/closed", events=["product.created"])
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="product.created", payload={})

    outcome = webhooks.webhook_delivery_attempt(delivery_id=delivery.id)

    delivery.refresh_from_db()
    assert (outcome.status, delivery.attempts, delivery.response_status) == ("pending", 1, None)
    assert delivery.last_error.startswith("ConnectionError")
    assert delivery.next_attempt_at > timezone.now()


@pytest.mark.django_db
def test_an_endpoint_that_now_resolves_to_a_private_address_is_not_called(partner, webhook_receiver, settings):
    # given an endpoint whose host points at a private address since it was registered (here: loopback)
    endpoint = WebhookEndpoint.objects.create(owner=partner, url=webhook_receiver.url, events=["product.created"])
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="product.created", payload={"id": 7})
    settings.SHOP_WEBHOOK_ALLOW_PRIVATE_URLS = False

    outcome = webhooks.webhook_delivery_attempt(delivery_id=delivery.id)

    # then the shop does not call it, records why, and retries later (the host may be fixed)
    delivery.refresh_from_db()
    assert webhook_receiver.received == []
    assert (outcome.status, delivery.attempts, delivery.response_status) == ("pending", 1, None)
    assert delivery.last_error == "not sent: The URL points to a private, loopback or reserved address."


@pytest.mark.django_db
def test_reconciler_resends_only_overdue_pending_deliveries(partner, django_capture_on_commit_callbacks, monkeypatch):
    endpoint = WebhookEndpoint.objects.create(owner=partner, url="https://p.example/h", events=["product.created"])
    long_ago = timezone.now() - timedelta(hours=1)
    overdue = WebhookDelivery.objects.create(endpoint=endpoint, event="product.created", payload={}, next_attempt_at=long_ago)
    WebhookDelivery.objects.create(endpoint=endpoint, event="product.created", payload={}, next_attempt_at=timezone.now())
    WebhookDelivery.objects.create(endpoint=endpoint, event="product.created", payload={}, status="delivered")
    sent: list[list[int]] = []
    monkeypatch.setattr(webhooks, "_deliveries_send", lambda ids, countdown=None: sent.append(ids))

    assert webhooks.webhook_deliveries_reconcile() == 1
    assert sent == [[overdue.id]]


@pytest.mark.django_db
def test_staff_see_deliveries_in_admin_and_send_failed_ones_again(admin_client, partner, django_capture_on_commit_callbacks, monkeypatch):
    endpoint = WebhookEndpoint.objects.create(owner=partner, url="https://p.example/h", events=["product.created"])
    failed = WebhookDelivery.objects.create(
        endpoint=endpoint, event="product.created", payload={}, status="failed", attempts=6, response_status=500
    )
    sent: list[list[int]] = []
    monkeypatch.setattr(webhooks, "_deliveries_send", lambda ids, countdown=None: sent.append(ids))

    listing = admin_client.get("/admin/partners/webhookdelivery/")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/partners/webhookdelivery/", {"action": "retry", "_selected_action": [failed.id]})

    assert listing.status_code == 200 and "product.created" in listing.content.decode()
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
    assert sent == [[failed.id]]


@pytest.mark.django_db
def test_embedding_outcomes_are_announced_to_the_owner_and_staff_only(partner, other_partner):
    from visualsearch.services import product_image_add
    from catalog.tests.factories import ProductFactory
    from shop.partners.models import PartnerProduct
    from visualsearch.models import ImageEmbedding
    from visualsearch.services import embeddings_compute

    events = ["image.embedding_ready", "image.embedding_failed"]
    mine = WebhookEndpoint.objects.create(owner=partner, url="https://p.example/h", events=events)
    staff = WebhookEndpoint.objects.create(owner=UserFactory(is_staff=True), url="https://s.example/h", events=events)
    WebhookEndpoint.objects.create(owner=other_partner, url="https://o.example/h", events=events)
    product = ProductFactory()
    PartnerProduct.objects.create(product=product, owner=partner)
    good, _ = product_image_add(product=product, data=photo_bytes(colour=(10, 200, 10)), enqueue=False)
    lost, _ = product_image_add(product=product, data=photo_bytes(colour=(10, 10, 200)), enqueue=False)
    lost.image.storage.delete(lost.image.name)  # its stored file is gone: embedding it fails

    embeddings_compute(embedding_ids=list(ImageEmbedding.objects.values_list("id", flat=True)))
    assert outbox_drain() == 2  # one event per outcome, dispatched to the webhook subscriber

    logged = sorted(
        (d.endpoint_id, d.event, d.payload["image_id"], d.payload["status"])
        for d in WebhookDelivery.objects.all()
    )
    assert logged == sorted(
        (endpoint.id, event, image.id, status)
        for endpoint in (mine, staff)
        for event, image, status in (
            ("image.embedding_ready", good, "ready"), ("image.embedding_failed", lost, "failed")
        )
    )
    failed = WebhookDelivery.objects.filter(event="image.embedding_failed").first()
    assert failed.payload["error"].startswith("cannot read the stored image")
    assert failed.payload["product_id"] == product.id


@pytest.mark.django_db
def test_an_image_the_reconciler_gives_up_on_is_announced_as_failed(settings, partner):
    from visualsearch.services import product_image_add
    from catalog.tests.factories import ProductFactory
    from shop.partners.models import PartnerProduct
    from visualsearch.models import ImageEmbedding
    from visualsearch.services import embeddings_reconcile

    settings.VISUALSEARCH_MAX_ATTEMPTS = 3
    endpoint = WebhookEndpoint.objects.create(owner=partner, url="https://p.example/h", events=["image.embedding_failed"])
    product = ProductFactory()
    PartnerProduct.objects.create(product=product, owner=partner)
    image, _ = product_image_add(product=product, data=photo_bytes(), enqueue=False)
    long_ago = timezone.now() - timedelta(hours=1)
    ImageEmbedding.objects.filter(image=image).update(attempts=3, claimed_at=long_ago, enqueued_at=long_ago)

    assert embeddings_reconcile()["gave_up"] == 1
    assert embeddings_reconcile()["gave_up"] == 0  # announced once
    assert outbox_drain() == 1

    delivery = WebhookDelivery.objects.get()
    assert (delivery.endpoint, delivery.event, delivery.payload["image_id"]) == (endpoint, "image.embedding_failed", image.id)
    assert delivery.payload["error"] == "gave up after 3 attempts (the worker died or timed out)"


# --- end to end: API -> worker -> model -> webhook -> search --------------------------------------------


@pytest.mark.e2e
def test_partner_uploads_a_product_hears_its_embedding_is_ready_and_finds_it_by_photo(
    celery_worker, settings, webhook_receiver, admin_client
):
    # given the docs, a key that staff made in admin, and a loopback server that fails its first answer
    settings.SHOP_WEBHOOK_ALLOW_PRIVATE_URLS = True
    assert admin_client.get("/api/v1/docs/").status_code == 200
    CategoryFactory(slug="kitchen", name="Kitchen")
    partner = UserFactory()
    made = admin_client.post(
        "/admin/partners/apikey/add/", {"name": "Partner", "owner": partner.id, "scopes": ["read", "write"]}, follow=True
    )
    raw_key = re.search(r"The API key for Partner is: (\S+)\. ", str(list(made.context["messages"])[0])).group(1)
    client = api(raw_key)
    webhook_receiver.statuses = [500]
    hook = client.post("/api/v1/webhooks", {"url": webhook_receiver.url, "events": EVENTS}, format="json").json()

    # when it creates a product and uploads its photo
    product = client.post(
        "/api/v1/products", {"sku": "TEA-9", "name": "Teapot", "category": "kitchen", "price": "35.00"}, format="json"
    ).json()
    upload = client.post(
        f"/api/v1/products/{product['id']}/images",
        {"image": SimpleUploadedFile("teapot.webp", demo_asset_bytes("1fad6.webp"), content_type="image/webp")},
    )
    assert upload.status_code == 201, upload.json()
    image_id = upload.json()["id"]

    # then the worker embeds it and the partner hears both events, signed (the failed one is retried)
    wait_for(lambda: webhook_receiver.events("image.embedding_ready"), timeout=120, what="image.embedding_ready")
    wait_for(
        lambda: [r for r in webhook_receiver.events("product.created") if r["answered"] == 200],
        timeout=30,
        what="the retried product.created",
    )
    ready = _verify(hook["secret"], webhook_receiver.events("image.embedding_ready")[0])
    assert ready["event"] == "image.embedding_ready"
    assert ready["data"] == {
        "image_id": image_id, "product_id": product["id"], "model_key": "effnet-lite1-avg-240", "status": "ready", "error": ""
    }
    created = [_verify(hook["secret"], r) for r in webhook_receiver.events("product.created")]
    assert [c["data"]["sku"] for c in created] == ["TEA-9", "TEA-9"] and created[0]["id"] == created[1]["id"]
    wait_for(
        lambda: WebhookDelivery.objects.filter(event="product.created", status="delivered").exists(), what="the log"
    )
    logged = WebhookDelivery.objects.get(event="product.created")
    assert (logged.attempts, logged.response_status) == (2, 200)
    detail = client.get(f"/api/v1/products/{product['id']}").json()
    assert detail["images"][0]["embedding"]["status"] == "ready"

    # and a shopper's photo of it finds it first through the API
    photo = query_copy(demo_asset_bytes("1fad6.webp"), crop=0.2, size=(260, 240), quality=60)
    found = api().post("/api/v1/search/image", {"image": SimpleUploadedFile("q.jpg", photo, content_type="image/jpeg")})
    assert found.json()["results"][0]["product_id"] == product["id"]
