"""API keys: made in admin and shown once, stored hashed, scoped, revocable; every refusal has its code."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import Product
from catalog.tests.factories import CategoryFactory
from shop.partners.models import ApiKey
from shop.partners.tests.api.fixtures import UserFactory, api, key_for

pytestmark = pytest.mark.django_db

NEW = {"sku": "K-1", "name": "Key Mug", "category": "mugs", "price": "3.00"}


@pytest.fixture(autouse=True)
def _mugs(db):
    CategoryFactory(slug="mugs")


def _create(client):
    return client.post("/api/v1/products", NEW, format="json")


@pytest.mark.parametrize("header", ["X-Api-Key", "Authorization"])
def test_a_write_key_in_either_header_may_write(partner, header):
    response = _create(api(key_for(partner, "read", "write"), header=header))

    assert response.status_code == 201
    assert Product.objects.get().sku == "K-1"


@pytest.mark.parametrize(
    "key,status,code",
    [
        (None, 401, "not_authenticated"),
        ("nonsense", 401, "api_key_invalid"),
        ("abcdefgh.wrong-secret-wrong-secret-wrong", 401, "api_key_invalid"),
    ],
)
def test_writes_without_a_valid_key_are_refused(key, status, code):
    response = _create(api(key))

    assert response.status_code == status
    assert response.json()["code"] == code
    assert response["WWW-Authenticate"] == 'Api-Key realm="api"'
    assert Product.objects.count() == 0


def test_a_key_with_a_wrong_secret_but_a_real_prefix_is_refused(partner):
    real = key_for(partner, "read", "write")
    prefix, secret = real.split(".")
    forged = f"{prefix}.{'y' if secret[0] == 'x' else 'x'}{secret[1:]}"  # one character off, never the real one

    response = _create(api(forged))

    assert response.status_code == 401 and response.json()["code"] == "api_key_invalid"
    assert Product.objects.count() == 0


def test_revoked_and_expired_keys_are_refused_even_for_reads(partner):
    revoked = key_for(partner, "read", "write", revoked=True)
    expired = key_for(partner, "read", "write", expiry_date=timezone.now() - timedelta(minutes=1))

    for key, code in ((revoked, "api_key_revoked"), (expired, "api_key_expired")):
        write, read = _create(api(key)), api(key).get("/api/v1/products")
        assert (write.status_code, write.json()["code"]) == (401, code)
        assert (read.status_code, read.json()["code"]) == (401, code)
    assert Product.objects.count() == 0


def test_a_key_of_a_deactivated_user_is_refused(partner):
    key = key_for(partner, "read", "write")
    partner.is_active = False
    partner.save()

    assert api(key).get("/api/v1/products").json()["code"] == "api_key_invalid"


def test_a_read_key_cannot_write(partner):
    response = _create(api(key_for(partner, "read")))

    assert response.status_code == 403
    assert response.json() == {
        "code": "insufficient_scope",
        "message": "This API key lacks the 'write' scope.",
        "details": {"required_scope": "write"},
    }
    assert Product.objects.count() == 0


def test_a_write_only_key_cannot_read(partner):
    response = api(key_for(partner, "write")).get("/api/v1/products")

    assert response.status_code == 403
    assert response.json()["details"] == {"required_scope": "read"}


def test_anonymous_callers_read_the_catalogue_but_not_webhooks():
    assert api().get("/api/v1/products").status_code == 200
    assert api().get("/api/v1/categories").status_code == 200
    refused = api().get("/api/v1/webhooks")
    assert refused.status_code == 401 and refused.json()["code"] == "not_authenticated"


def test_keys_are_stored_hashed_and_record_their_last_use(partner):
    raw = key_for(partner, "read")
    stored = ApiKey.objects.get()
    assert stored.last_used_at is None

    api(raw).get("/api/v1/products")

    stored.refresh_from_db()
    secret = raw.split(".")[1]
    assert secret not in stored.hashed_key and secret not in stored.id
    assert stored.hashed_key.startswith("sha512$$")
    assert stored.last_used_at is not None


def test_staff_create_a_key_in_admin_see_it_once_and_revoke_it(admin_client):
    owner = UserFactory(username="marketplace")

    created = admin_client.post(
        "/admin/partners/apikey/add/",
        {"name": "Marketplace", "owner": owner.id, "scopes": ["read", "write"]},
        follow=True,
    )

    assert created.status_code == 200
    shown = [str(m) for m in created.context["messages"]]
    raw = re.search(r"The API key for Marketplace is: (\S+)\. ", shown[0]).group(1)
    key = ApiKey.objects.get()
    assert (key.owner, key.scopes, key.prefix) == (owner, ["read", "write"], raw.split(".")[0])
    assert _create(api(raw)).status_code == 201
    listing = admin_client.get("/admin/partners/apikey/")
    assert raw.split(".")[1] not in listing.content.decode()  # never shown again

    admin_client.post("/admin/partners/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True)

    key.refresh_from_db()
    assert key.revoked is True
    assert api(raw).get("/api/v1/products").json()["code"] == "api_key_revoked"
