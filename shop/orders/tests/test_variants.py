"""Orders of variants: the chosen colour or size is what is bought, its stock is taken and given back, and a
product sold in variants cannot be bought without choosing one."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from catalog.models import Product, ProductVariant
from catalog.services import VariantData, product_variant_create
from catalog.tests.factories import ProductFactory
from shop.orders.errors import CheckoutRejected, ShopErrorCode
from shop.orders.models import Order, OrderLine
from shop.orders.services import CustomerData, order_place, order_status_set

CUSTOMER = CustomerData(full_name="Ada Lovelace", email="ada@example.org", address="12 Analytical Row",
                        postcode="10115", city="Berlin", country="Germany")


def _shirt():
    shirt = ProductFactory(name="T-Shirt", sku="TEE", price=Decimal("14.90"), stock_quantity=0)
    sizes = {
        size: product_variant_create(product=shirt, data=VariantData(sku=f"TEE-{size}", name=size, stock_quantity=n,
                                                                      price=price))
        for size, n, price in [("M", 2, None), ("XL", 5, Decimal("16.90"))]
    }
    return shirt, sizes


@pytest.mark.django_db
def test_an_order_of_two_sizes_takes_each_sizes_stock_at_its_own_price():
    shirt, sizes = _shirt()
    mug = ProductFactory(name="Mug", price=Decimal("8.50"), stock_quantity=10)

    order = order_place(quantities={mug.id: 1}, variant_quantities={sizes["M"].id: 2, sizes["XL"].id: 1},
                        customer=CUSTOMER)

    lines = [(l.sku, l.product_name, l.variant_name, l.unit_price, l.quantity, l.item_name) for l in order.lines.all()]
    assert lines == [
        (mug.sku, "Mug", "", Decimal("8.50"), 1, "Mug"),
        ("TEE-M", "T-Shirt", "M", Decimal("14.90"), 2, "T-Shirt, M"),
        ("TEE-XL", "T-Shirt", "XL", Decimal("16.90"), 1, "T-Shirt, XL"),
    ]
    assert order.total == Decimal("8.50") + 2 * Decimal("14.90") + Decimal("16.90")
    assert dict(ProductVariant.objects.values_list("sku", "stock_quantity")) == {"TEE-M": 0, "TEE-XL": 4}
    assert Product.objects.get(id=shirt.id).stock_quantity == 4
    assert Product.objects.get(id=mug.id).stock_quantity == 9


@pytest.mark.django_db
def test_one_size_short_rejects_the_whole_order_and_nothing_is_taken():
    shirt, sizes = _shirt()
    mug = ProductFactory(name="Mug", stock_quantity=10)

    with pytest.raises(CheckoutRejected) as rejected:
        order_place(quantities={mug.id: 1}, variant_quantities={sizes["M"].id: 3, sizes["XL"].id: 1},
                    customer=CUSTOMER)

    assert rejected.value.code == ShopErrorCode.OUT_OF_STOCK
    assert rejected.value.product_ids == [shirt.id] and rejected.value.names == ["T-Shirt"]
    assert (Order.objects.count(), OrderLine.objects.count()) == (0, 0)
    assert dict(ProductVariant.objects.values_list("sku", "stock_quantity")) == {"TEE-M": 2, "TEE-XL": 5}
    assert Product.objects.get(id=mug.id).stock_quantity == 10
    assert Product.objects.get(id=shirt.id).stock_quantity == 7


@pytest.mark.django_db
def test_a_product_sold_in_variants_cannot_be_ordered_without_choosing_one():
    shirt, _ = _shirt()

    with pytest.raises(CheckoutRejected) as rejected:
        order_place(quantities={shirt.id: 1}, customer=CUSTOMER)

    assert rejected.value.code == ShopErrorCode.VARIANT_REQUIRED
    assert rejected.value.message == "Choose a colour or size of: T-Shirt."
    assert Order.objects.count() == 0 and Product.objects.get(id=shirt.id).stock_quantity == 7


@pytest.mark.django_db
def test_cancelling_gives_the_stock_back_to_the_size_that_was_bought():
    shirt, sizes = _shirt()
    order = order_place(variant_quantities={sizes["XL"].id: 3}, customer=CUSTOMER)

    order_status_set(order=order, status="cancelled")

    assert dict(ProductVariant.objects.values_list("sku", "stock_quantity")) == {"TEE-M": 2, "TEE-XL": 5}
    assert Product.objects.get(id=shirt.id).stock_quantity == 7


@pytest.mark.django_db(transaction=True)
def test_concurrent_checkouts_never_oversell_a_variant():
    # given 2 left of size M, and 6 shoppers who each want one M at the same moment
    shirt, sizes = _shirt()
    start = threading.Barrier(6)
    outcomes: list[str] = []
    lock = threading.Lock()

    def shopper() -> None:
        try:
            start.wait()
            order_place(variant_quantities={sizes["M"].id: 1}, customer=CUSTOMER)
            result = "ordered"
        except CheckoutRejected as rejected:
            result = rejected.code.value
        except Exception as error:  # noqa: BLE001 - any other error must fail the test, not hang it
            result = f"error: {error!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=shopper) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["ordered"] * 2 + ["out_of_stock"] * 4
    assert ProductVariant.objects.get(sku="TEE-M").stock_quantity == 0
    assert Product.objects.get(id=shirt.id).stock_quantity == 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_checkouts_of_different_sizes_keep_the_products_total_right():
    # given a product in two sizes, and shoppers who buy one of each size at the same moment
    shirt, sizes = _shirt()
    start = threading.Barrier(4)
    errors: list[str] = []

    def shopper(size: str) -> None:
        try:
            start.wait()
            order_place(variant_quantities={sizes[size].id: 1}, customer=CUSTOMER)
        except Exception as error:  # noqa: BLE001
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=shopper, args=(size,)) for size in ("M", "XL", "XL", "M")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then the product's total is the sum of what is left of each size, not a sum read before another's commit
    assert errors == []
    assert dict(ProductVariant.objects.values_list("sku", "stock_quantity")) == {"TEE-M": 0, "TEE-XL": 3}
    assert Product.objects.get(id=shirt.id).stock_quantity == 3
