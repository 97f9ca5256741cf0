"""Partners, their keys and an API client that sends a key; shared by every app's API tests.

A test folder uses them with ``from shop.partners.tests.api.fixtures import *`` in its conftest.py.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import factory
import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from shop.partners.models import ApiKey

__all__ = [
    "ApiKeyFactory",
    "UserFactory",
    "WebhookReceiver",
    "api",
    "key_for",
    "other_partner",
    "partner",
    "partner_reader",
    "partner_writer",
    "staff_writer",
    "webhook_receiver",
]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"partner{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """Creates the key through the library's manager; ``raw_key`` holds the clear key (shown once in admin)."""

    class Meta:
        model = ApiKey

    name = factory.Sequence(lambda n: f"key {n}")
    owner = factory.SubFactory(UserFactory)
    scopes = ["read", "write"]

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        key, raw = model_class.objects.create_key(**kwargs)
        key.raw_key = raw
        return key


def key_for(user, *scopes: str, **fields) -> str:
    return ApiKeyFactory(owner=user, scopes=list(scopes), **fields).raw_key


def api(key: str | None = None, *, header: str = "X-Api-Key") -> APIClient:
    client = APIClient()
    if key is not None:
        if header == "Authorization":
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        else:
            client.credentials(HTTP_X_API_KEY=key)
    return client


@pytest.fixture
def partner(db):
    return UserFactory()


@pytest.fixture
def other_partner(db):
    return UserFactory()


@pytest.fixture
def partner_reader(partner) -> APIClient:
    return api(key_for(partner, "read"))


@pytest.fixture
def partner_writer(partner) -> APIClient:
    return api(key_for(partner, "read", "write"))


@pytest.fixture
def staff_writer(db) -> APIClient:
    return api(key_for(UserFactory(is_staff=True), "read", "write"))


@dataclass
class WebhookReceiver:
    """A real HTTP server on loopback that records what it is sent; ``statuses`` are answered in turn."""

    url: str = ""
    received: list[dict] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, name: str) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["headers"].get("X-Shop-Event") == name]


@pytest.fixture
def webhook_receiver(settings):
    settings.SHOP_WEBHOOK_ALLOW_PRIVATE_URLS = True  # it listens on loopback
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body, "answered": status}
                )
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield receiver
    server.shutdown()
    server.server_close()
