"""manage.py copurchases_rebuild: bought-together counts from every order, once each."""

from io import StringIO

import pytest
from django.core.management import call_command

from catalog.tests.factories import ProductFactory
from recommendations.models import CoPurchase, CoPurchaseOrder
from shop.orders.services import CustomerData, order_place
from shop.outbox.models import Event
from shop.outbox.services import events_dispatch

pytestmark = pytest.mark.django_db

CUSTOMER = CustomerData(full_name="Ada Lovelace", email="ada@example.org", address="12 Analytical Row",
                        postcode="10115", city="Berlin", country="Germany")


def _pairs() -> dict[tuple[int, int], int]:
    return {(row.product_id, row.other_id): row.orders for row in CoPurchase.objects.all()}


def test_rebuild_counts_every_order_and_a_pending_event_afterwards_adds_nothing():
    # given three orders whose events were never dispatched (a shop from before bought together), and a wrong count
    lamp, shade, bulb = (ProductFactory(stock_quantity=9) for _ in range(3))
    order_place(quantities={lamp.id: 1, shade.id: 1}, customer=CUSTOMER)
    order_place(quantities={lamp.id: 2, shade.id: 1, bulb.id: 1}, customer=CUSTOMER)
    order_place(quantities={bulb.id: 1}, customer=CUSTOMER)
    CoPurchase.objects.create(product=shade, other=bulb, orders=40)
    out = StringIO()
    # when the command runs, twice, and then the pending events are dispatched
    call_command("copurchases_rebuild", stdout=out)
    call_command("copurchases_rebuild", stdout=out)
    events_dispatch(event_ids=list(Event.objects.filter(topic="order.placed").values_list("id", flat=True)))
    # then each order counts once
    assert _pairs() == {
        (lamp.id, shade.id): 2, (shade.id, lamp.id): 2,
        (lamp.id, bulb.id): 1, (bulb.id, lamp.id): 1,
        (shade.id, bulb.id): 1, (bulb.id, shade.id): 1,
    }
    assert CoPurchaseOrder.objects.count() == 3
    assert out.getvalue().splitlines() == ["3 orders counted, 6 pair rows written"] * 2
