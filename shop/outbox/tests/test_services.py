"""The outbox without workers: recorded with the writer's transaction, dispatched once per subscriber."""

from decimal import Decimal

import pytest
from django.db import transaction

from catalog.services import ProductData, category_get_or_create_path, product_create
from shop.outbox import services, subscribers
from shop.outbox.models import Event, EventHandled

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """Two subscribers of product.created that note what they were handed; the second fails on demand."""
    calls: dict[str, list[int]] = {"a": [], "b": []}
    failing = {"b": False}

    def a(event):
        calls["a"].append(event.payload["id"])

    def b(event):
        if failing["b"]:
            raise RuntimeError("b is down")
        calls["b"].append(event.payload["id"])

    subscribers.subscribe(name="test.a", topics=["product.created"], handler=a)
    subscribers.subscribe(name="test.b", topics=["product.created"], handler=b)
    yield calls, failing
    subscribers.unsubscribe(name="test.a")
    subscribers.unsubscribe(name="test.b")


def _product(sku: str = "OUT-1"):
    category = category_get_or_create_path(path="Outbox/Tests")
    return product_create(data=ProductData(sku=sku, name="Outbox mug", category=category, price=Decimal("4.00")))


def test_a_write_records_its_event_in_its_own_transaction(django_capture_on_commit_callbacks, settings):
    settings.OUTBOX_SEND_ON_COMMIT = True
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        product = _product()

    event = Event.objects.get(topic="product.created")
    assert (event.status, event.payload["id"], event.payload["sku"], event.payload["price"]) == (
        "pending", product.id, "OUT-1", "4.00"
    )
    # one message to the dispatcher, after commit (beside the catalogue's change marks for cached pages)
    assert [c.__module__ for c in callbacks if c.__module__ != "catalog.changes"] == ["shop.outbox.services"]


def test_a_rolled_back_write_leaves_no_event():
    with pytest.raises(RuntimeError), transaction.atomic():
        _product()
        raise RuntimeError("the change fails after the event was recorded")

    assert Event.objects.count() == 0


def test_each_subscriber_handles_an_event_once_however_often_it_is_dispatched(heard):
    calls, _ = heard
    product = _product()
    event = Event.objects.get()

    first = services.events_dispatch(event_ids=[event.id])
    again = services.events_dispatch(event_ids=[event.id, event.id])

    assert (first.dispatched, again.dispatched, again.skipped) == (1, 0, 1)
    assert calls == {"a": [product.id], "b": [product.id]}
    assert sorted(EventHandled.objects.values_list("subscriber", flat=True)) == ["partners.webhooks", "test.a", "test.b"]
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("dispatched", 1)


def test_a_failing_subscriber_is_retried_alone_and_the_others_are_not_called_twice(heard, settings):
    calls, failing = heard
    failing["b"] = True
    product = _product()
    event = Event.objects.get()

    services.events_dispatch(event_ids=[event.id])
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == ("pending", 1, "test.b: RuntimeError: b is down")
    failing["b"] = False
    services.events_dispatch(event_ids=[event.id])

    assert calls == {"a": [product.id], "b": [product.id]}
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == ("dispatched", 2, "")


def test_an_event_that_keeps_failing_is_given_up_and_staff_can_retry_it(heard, settings, django_capture_on_commit_callbacks):
    calls, failing = heard
    settings.OUTBOX_MAX_ATTEMPTS = 2
    failing["b"] = True
    _product()
    event = Event.objects.get()

    outcomes = [services.events_dispatch(event_ids=[event.id]) for _ in range(3)]

    assert [(o.failed, o.skipped) for o in outcomes] == [(0, 0), (1, 0), (0, 1)]
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("failed", 2)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.events_retry(event_ids=[event.id]) == 1
    event.refresh_from_db()
    assert (event.status, event.attempts, len(callbacks)) == ("pending", 0, 1)


def test_the_reconciler_resends_stale_pending_events_and_purges_old_dispatched_ones(settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    sent: list[list[int]] = []
    monkeypatch.setattr(services, "events_enqueue", lambda *, event_ids: sent.append(event_ids))
    long_ago = timezone.now() - timedelta(days=30)
    stale, fresh, old_done, recent_done = (Event.objects.create(topic="product.created", payload={}) for _ in range(4))
    Event.objects.filter(id=stale.id).update(created_at=long_ago)
    Event.objects.filter(id=old_done.id).update(status="dispatched", dispatched_at=long_ago, created_at=long_ago)
    Event.objects.filter(id=recent_done.id).update(status="dispatched", dispatched_at=timezone.now())

    assert services.events_reconcile() == 1

    assert sent == [[stale.id]]
    assert sorted(Event.objects.values_list("id", flat=True)) == sorted([stale.id, fresh.id, recent_done.id])


def test_broker_down_at_commit_keeps_the_event_pending(monkeypatch, django_capture_on_commit_callbacks, caplog, settings):
    settings.OUTBOX_SEND_ON_COMMIT = True
    from kombu.exceptions import OperationalError

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis")

    monkeypatch.setattr(services.current_app, "send_task", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        product = _product()

    assert Event.objects.get().status == "pending" and Event.objects.get().payload["id"] == product.id
    assert "1 event(s) left to the reconciler" in caplog.text
