"""Recommendations from behaviour: bought-together counts from the orders' events, the "bought together" list,
and suggestions that blend what a shopper did with what looks like it."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

import pytest

from catalog.tests.factories import ProductFactory
from conftest import photo_bytes
from recommendations.models import Action, ActionKind, CoPurchase, CoPurchaseOrder, ProductOrders, Shown, ShownKind
from recommendations.selectors import (
    POPULAR_WEIGHT,
    SuggestionBasis,
    bought_together,
    popularity_among,
    suggestions_for_shopper,
)
from recommendations.services import OrderProducts, copurchases_for_event, copurchases_record
from shop.orders.services import CustomerData, order_place
from shop.outbox.models import Event, EventHandled
from shop.outbox.services import events_dispatch
from visualsearch.selectors import products_near_products
from visualsearch.services import product_image_add

pytestmark = pytest.mark.django_db

CUSTOMER = CustomerData(full_name="Ada Lovelace", email="ada@example.org", address="12 Analytical Row",
                        postcode="10115", city="Berlin", country="Germany")


def _pairs() -> dict[tuple[int, int], int]:
    return {(row.product_id, row.other_id): row.orders for row in CoPurchase.objects.all()}


def _product_orders() -> dict[int, int]:
    return dict(ProductOrders.objects.values_list("product_id", "orders"))


def _pictured(**fields):
    product = ProductFactory(**fields)
    product_image_add(product=product, data=photo_bytes(colour=(product.id * 37 % 255, 90, 160)), enqueue=False)
    return product


def _bought_together_times(product, other, times: int, start: int = 0) -> None:
    for n in range(times):
        copurchases_record(order=OrderProducts(reference=f"T{product.id}-{other.id}-{start + n}",
                                               product_ids=[product.id, other.id]))


# --- the outbox subscriber ------------------------------------------------------------------------------------


def test_an_order_placed_counts_each_pair_once_even_when_its_event_is_delivered_twice():
    # given two orders: a lamp, a shade and a bulb; then the lamp and the shade again
    lamp, shade, bulb = (ProductFactory(stock_quantity=9) for _ in range(3))
    order_place(quantities={lamp.id: 1, shade.id: 2, bulb.id: 1}, customer=CUSTOMER)
    order_place(quantities={lamp.id: 1, shade.id: 1}, customer=CUSTOMER)
    event_ids = list(Event.objects.filter(topic="order.placed").values_list("id", flat=True))
    # when each event is dispatched twice (a message delivered again)
    first = events_dispatch(event_ids=event_ids)
    again = events_dispatch(event_ids=event_ids)
    # then every pair counts each order once, in both directions
    assert (first.dispatched, again.skipped) == (2, 2)
    assert _pairs() == {
        (lamp.id, shade.id): 2, (shade.id, lamp.id): 2,
        (lamp.id, bulb.id): 1, (bulb.id, lamp.id): 1,
        (shade.id, bulb.id): 1, (bulb.id, shade.id): 1,
    }
    assert EventHandled.objects.filter(subscriber="recommendations.copurchases").count() == 2
    # and each product counts the orders that held it, once each
    assert _product_orders() == {lamp.id: 2, shade.id: 2, bulb.id: 1}


def test_the_handler_called_again_with_the_same_event_adds_nothing():
    # given an order whose event was handled
    lamp, shade = ProductFactory(stock_quantity=9), ProductFactory(stock_quantity=9)
    order = order_place(quantities={lamp.id: 1, shade.id: 1}, customer=CUSTOMER)
    event = Event.objects.get(topic="order.placed")
    events_dispatch(event_ids=[event.id])
    # when the handler sees the same event again, outside the dispatcher (a replay by hand)
    copurchases_for_event(event)
    # then the order still counts once
    assert _pairs() == {(lamp.id, shade.id): 1, (shade.id, lamp.id): 1}
    assert list(CoPurchaseOrder.objects.values_list("reference", flat=True)) == [order.reference]


def test_an_order_of_one_product_or_of_a_deleted_product_writes_no_pair():
    # given an order of one product, and an event naming a product deleted since
    lamp = ProductFactory(stock_quantity=9)
    order_place(quantities={lamp.id: 3}, customer=CUSTOMER)
    gone = ProductFactory()
    gone_id = gone.id
    gone.delete()
    # when both are counted
    events_dispatch(event_ids=list(Event.objects.values_list("id", flat=True)))
    counted = copurchases_record(order=OrderProducts(reference="GONE1", product_ids=[lamp.id, gone_id]))
    # then both orders are noted and no pair is written; the lamp counts both orders, the deleted product none
    assert counted is True
    assert _pairs() == {}
    assert CoPurchaseOrder.objects.count() == 2
    assert _product_orders() == {lamp.id: 2}


# --- bought together ------------------------------------------------------------------------------------------


def test_bought_together_lists_published_pictured_products_in_stock_first_then_by_orders():
    # given a product bought with five others, in different numbers of orders
    lamp = _pictured()
    often = _pictured(stock_quantity=0)          # 5 orders, out of stock
    shade = _pictured()                          # 3 orders
    bulb = _pictured()                           # 1 order
    hidden = _pictured(is_published=False)       # 4 orders, unpublished
    bare = ProductFactory()                      # 2 orders, no picture
    for other, times in ((often, 5), (shade, 3), (bulb, 1), (hidden, 4), (bare, 2)):
        _bought_together_times(lamp, other, times)
    _bought_together_times(shade, bulb, 7)  # a pair without the lamp changes nothing for it
    # when its list is read
    together = bought_together(product=lamp)
    # then in-stock products come first, by orders, then the out-of-stock one; never the product itself
    assert [(t.product.id, t.orders) for t in together] == [(shade.id, 3), (bulb.id, 1), (often.id, 5)]
    assert [t.image.product_id for t in together] == [shade.id, bulb.id, often.id]
    assert [t.product.id for t in bought_together(product=lamp, limit=2)] == [shade.id, bulb.id]


def test_bought_together_of_a_product_never_ordered_with_another_is_empty():
    assert bought_together(product=_pictured()) == []


# --- suggestions ----------------------------------------------------------------------------------------------


def test_a_new_shopper_gets_no_suggestions_and_costs_no_query():
    with CaptureQueriesContext(connection) as queries:
        suggestions = suggestions_for_shopper()
        two_views = suggestions_for_shopper(viewed=[1, 2])
    assert (suggestions.items, suggestions.basis) == ([], SuggestionBasis.NONE)
    assert (two_views.items, two_views.basis) == ([], SuggestionBasis.NONE)
    assert len(queries.captured_queries) == 0


def test_suggestions_prefer_what_others_bought_with_the_shoppers_choice(catalogue):
    # given a shopper who put the teapot in the cart; others bought the teapot with the guitar three times
    teapot, guitar = catalogue["Teapot"], catalogue["Guitar"]
    _bought_together_times(teapot, guitar, 3)
    visual = [m.product.name for m in products_near_products(product_ids=[teapot.id], limit=7)]
    assert visual[0] == "Hot Beverage" and visual.index("Guitar") > 0  # the picture alone puts the guitar lower
    # when the shopper's suggestions are read
    suggestions = suggestions_for_shopper(carted=[teapot.id])
    # then the guitar comes first, with its evidence 3 / (3 + 1); the rest follow the picture; never the teapot
    names = [s.product.name for s in suggestions]
    assert suggestions.basis == SuggestionBasis.BEHAVIOUR
    assert names[0] == "Guitar" and suggestions.items[0].bought_with == 0.75
    assert names[1:] == [name for name in visual if name != "Guitar"]
    assert "Teapot" not in names and len(names) == 7


def test_suggestions_in_a_shop_without_orders_are_the_visual_ranking(catalogue):
    apple = catalogue["Red Apple"]
    # when a shopper who carted the red apple gets suggestions in a shop nobody bought from yet
    suggestions = suggestions_for_shopper(carted=[apple.id])
    # then they are the products nearest the apple's picture, in that order, with no evidence
    visual = products_near_products(product_ids=[apple.id], limit=8)
    assert [s.product.id for s in suggestions] == [m.product.id for m in visual]
    assert [s.similarity for s in suggestions] == pytest.approx([m.similarity for m in visual])
    assert [s.score for s in suggestions] == pytest.approx([m.similarity for m in visual])
    assert {s.bought_with for s in suggestions} == {0.0}
    assert suggestions.items[0].product.name == "Green Apple"


def test_among_lookalikes_the_more_bought_rise_by_their_popularity(catalogue):
    # given orders elsewhere in the shop, none with the red apple: the teapot with the guitar three times, the
    # green apple once on its own
    apple, green = catalogue["Red Apple"], catalogue["Green Apple"]
    teapot, guitar = catalogue["Teapot"], catalogue["Guitar"]
    _bought_together_times(teapot, guitar, 3)
    copurchases_record(order=OrderProducts(reference="G1", product_ids=[green.id]))
    # when a shopper who carted the red apple gets suggestions
    suggestions = suggestions_for_shopper(carted=[apple.id])
    # then each scores its similarity plus POPULAR_WEIGHT x log(1 + orders) / log(1 + 3), no bought-with evidence
    popular = {teapot.id: 1.0, guitar.id: 1.0, green.id: 0.5}
    assert popularity_among(product_ids=[s.product.id for s in suggestions]) == pytest.approx(popular)
    assert [s.score for s in suggestions] == pytest.approx(
        [s.similarity + POPULAR_WEIGHT * popular.get(s.product.id, 0.0) for s in suggestions])
    assert [s.score for s in suggestions] == sorted((s.score for s in suggestions), reverse=True)
    assert {s.bought_with for s in suggestions} == {0.0}
    # and the products nobody bought keep their visual order among themselves
    visual = [m.product.id for m in products_near_products(product_ids=[apple.id], limit=8)]
    unbought = [s.product.id for s in suggestions if s.product.id not in popular]
    assert unbought == [pid for pid in visual if pid not in popular]


def test_the_logged_carts_and_purchases_of_the_visitor_count(catalogue):
    # given a visitor whose log says they bought the teapot from a list they were shown (and nothing in session)
    teapot, guitar = catalogue["Teapot"], catalogue["Guitar"]
    _bought_together_times(teapot, guitar, 1)
    shown = Shown.objects.create(visitor="v-1", kind=ShownKind.SIMILAR, product_ids=[teapot.id])
    Action.objects.create(shown=shown, product=teapot, rank=1, kind=ActionKind.BUY)
    # when the visitor's suggestions are read
    suggestions = suggestions_for_shopper(visitor="v-1")
    someone_else = suggestions_for_shopper(visitor="v-2")
    # then the purchase counts as theirs: behaviour-based, the teapot left out, its partner first
    assert suggestions.basis == SuggestionBasis.BEHAVIOUR
    assert suggestions.items[0].product.id == guitar.id and suggestions.items[0].bought_with == 0.5
    assert teapot.id not in [s.product.id for s in suggestions]
    assert (someone_else.items, someone_else.basis) == ([], SuggestionBasis.NONE)


def test_a_bought_together_product_without_a_vector_is_still_suggested_on_its_evidence(catalogue):
    # given the teapot bought twice with a new product whose picture is not embedded yet
    teapot = catalogue["Teapot"]
    fresh = _pictured(name="New Kettle")
    _bought_together_times(teapot, fresh, 2)
    # when a shopper who bought the teapot gets suggestions
    suggestions = suggestions_for_shopper(bought=[teapot.id])
    # then the new product is among them, scored on its evidence (2 / 3 x 0.5) and its popularity (the most bought
    # of the candidates: 1.0 x POPULAR_WEIGHT), no similarity
    kettle = next(s for s in suggestions if s.product.id == fresh.id)
    assert (kettle.similarity, kettle.bought_with, round(kettle.score, 4)) == (None, 0.6667, 0.7333)


def test_a_second_home_page_view_serves_the_cached_suggestions_in_one_query(catalogue):
    # given a shopper's suggestions computed once
    teapot, guitar = catalogue["Teapot"], catalogue["Guitar"]
    _bought_together_times(teapot, guitar, 3)
    first = suggestions_for_shopper(carted=[teapot.id])
    # when they are asked again, after the guitar was unpublished
    guitar.is_published = False
    guitar.save()
    with CaptureQueriesContext(connection) as queries:
        second = suggestions_for_shopper(carted=[teapot.id])
    # then the same ranking comes back from one query, without the guitar
    assert [s.product.id for s in second] == [s.product.id for s in first if s.product.id != guitar.id]
    assert [s.score for s in second] == [s.score for s in first][1:]
    assert len(queries.captured_queries) == 1
