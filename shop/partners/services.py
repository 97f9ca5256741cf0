"""Partner API writes: products with their owner, API keys, webhook endpoints.

Catalogue writes go through ``catalog.services`` and ``visualsearch.services`` (the same services as admin);
this module adds who owns the product. Who hears about it is ``webhooks.py``'s business, through the outbox.
"""

from __future__ import annotations

from django.db import transaction

from catalog.models import Product, ProductImage, ProductVariant
from catalog.services import (
    ProductData,
    VariantData,
    product_create,
    product_image_delete,
    product_update,
    product_variant_create,
    product_variant_delete,
    product_variant_update,
)
from visualsearch.services import product_image_add

from .models import ApiKey, PartnerProduct, WebhookEndpoint
from .webhooks import webhook_url_check

# --- products ------------------------------------------------------------------------------------------


def product_owner_id(product: Product) -> int | None:
    return PartnerProduct.objects.filter(product=product).values_list("owner_id", flat=True).first()


@transaction.atomic
def partner_product_create(*, owner, data: ProductData, variants: list[VariantData] = ()) -> Product:
    product = product_create(data=data)
    PartnerProduct.objects.create(product=product, owner=owner)  # committed with product.created's event
    for variant in variants:
        product_variant_create(product=product, data=variant)
    return product


@transaction.atomic
def partner_products_bulk_create(*, owner, items: list[tuple[ProductData, list[VariantData]]]) -> list[Product]:
    """All or nothing: one transaction, so a failing item leaves no product of the batch behind."""
    return [partner_product_create(owner=owner, data=data, variants=variants) for data, variants in items]


def partner_variant_create(*, product: Product, data: VariantData) -> ProductVariant:
    return product_variant_create(product=product, data=data)


def partner_variant_update(*, variant: ProductVariant, fields: dict[str, object]) -> ProductVariant:
    return product_variant_update(variant=variant, **fields)


def partner_variant_delete(*, variant: ProductVariant) -> None:
    product_variant_delete(variant=variant)


@transaction.atomic
def partner_product_update(*, product: Product, fields: dict[str, object]) -> Product:
    return product_update(product=product, **fields)


@transaction.atomic
def partner_product_delete(*, product: Product) -> None:
    # Order lines keep their copied name and price (their product link is SET_NULL), images cascade.
    product.delete()


def partner_product_image_add(
    *, product: Product, data: bytes, alt_text: str = "", position: int | None = None,
    variant: ProductVariant | None = None,
) -> tuple[ProductImage, bool]:
    """The admin's intake service: validation, re-encoding, and embedding after commit."""
    return product_image_add(product=product, data=data, alt_text=alt_text, position=position, variant=variant)


def partner_product_image_delete(*, image: ProductImage) -> None:
    product_image_delete(image=image)


# --- keys --------------------------------------------------------------------------------------------


def api_keys_revoke(*, key_ids: list[str]) -> int:
    """Revoke keys at once (for good: the library refuses to un-revoke)."""
    return ApiKey.objects.filter(pk__in=key_ids, revoked=False).update(revoked=True)


# --- webhook endpoints ---------------------------------------------------------------------------------


@transaction.atomic
def webhook_endpoint_create(*, owner, url: str, events: list[str]) -> WebhookEndpoint:
    webhook_url_check(url)
    return WebhookEndpoint.objects.create(owner=owner, url=url, events=sorted(set(events)))


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()
