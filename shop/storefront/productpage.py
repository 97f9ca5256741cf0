"""The product page's body, made once and kept: the shop's most frequent page (bench/load.py).

Made, the body costs about 15 ms of CPU (the product with its variants and pictures, both visual lists, bought
together, the 15 cards' template); kept, it is two Redis round trips (the body, then the change marks of the
products it shows). What differs per request is left as slots and filled on every request, kept or not, so both
paths give the same page: the CSRF token, the ids of the logged lists in the result links, "n already in your
cart". The header and footer (cart count, account, language) are rendered per request by ``base.html``.

A kept body is served only while the change marks (``catalog.changes``) of the catalogue, the product and every
product it shows are the ones it was made with: a price, stock, name, picture or publication change shows on the
next request. New products join the visual lists as they do uncached, within RECOMMENDATIONS_SIMILAR_CACHE_SECONDS
(the rankings' cache) plus SHOP_PRODUCT_PAGE_CACHE_SECONDS. Not kept: a page asked with ``?variant=`` (it opens
on that variant), and a page whose pictures still wait for their vectors (its lists come when they are ready).
A change that commits while its own page is being made can be missed by that page for up to the page's timeout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from django.conf import settings
from django.core.cache import cache
from django.http import Http404
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from catalog.changes import marks_read
from catalog.selectors import category_ancestors
from recommendations.selectors import ProductPageLists, bought_together, product_page_lists

from .forms import AddToCartForm
from .selectors import products_published

logger = logging.getLogger(__name__)

CSRF_SLOT = mark_safe("<!--lumen:csrf-->")
IN_CART_SLOT = mark_safe("<!--lumen:in-cart-->")
SIMILAR_SLOT = mark_safe("<!--lumen:shown-similar-->")
TOGETHER_SLOT = mark_safe("<!--lumen:shown-together-->")


@dataclass(frozen=True)
class ProductBody:
    product_id: int
    title: str
    html: str
    similar_ids: tuple[int, ...]
    similar_top: float | None
    similar_close: bool
    together_ids: tuple[int, ...]
    depends_on: tuple[int, ...]
    """The product and every product the body shows (its cards)."""
    marks: dict[str, int | None]
    """The change marks of the catalogue and of ``depends_on`` the body was made with."""
    kept: bool = False
    """True when it came from the cache (for the tests and the bench)."""


def product_body(*, slug: str, variant: str | None = None, from_search: bool = False) -> ProductBody:
    """The body of the published product at ``slug`` in the current language, kept or made; Http404 if none.

    ``variant``: the variant to open on (``?variant=``); ``from_search``: the shopper came from a logged result
    list (``?shown=``), so a variant that matched their photo says so."""
    seconds = settings.SHOP_PRODUCT_PAGE_CACHE_SECONDS
    if variant or seconds <= 0:
        return _body_make(slug=slug, variant=variant, from_search=from_search)[0]
    key = f"product-page:{get_language()}:{slug}"
    try:
        kept = cache.get(key)
        if kept is not None and marks_read(product_ids=kept.depends_on) == kept.marks:
            return replace(kept, kept=True)
    except Exception:  # noqa: BLE001 - Redis down: the page is made as if nothing were kept
        logger.warning("product page cache unavailable", exc_info=True)
        return _body_make(slug=slug, variant=None, from_search=False)[0]
    body, keep = _body_make(slug=slug, variant=None, from_search=False)
    if keep:
        try:
            cache.set(key, body, seconds)
        except Exception:  # noqa: BLE001
            logger.warning("product page cache unavailable", exc_info=True)
    return body


def product_body_fill(body: ProductBody, *, csrf_token: str, similar_shown: int | None, together_shown: int | None,
                      in_cart_html: str) -> SafeString:
    """The body with this request's values in its slots. A list not logged (the log off) gets plain links."""
    html = body.html.replace(CSRF_SLOT, csrf_token).replace(IN_CART_SLOT, in_cart_html)
    for slot, shown in ((SIMILAR_SLOT, similar_shown), (TOGETHER_SLOT, together_shown)):
        if shown is not None:
            html = html.replace(slot, str(shown))
        else:  # the card's link is ".../?shown=<slot>&amp;variant=3" or ".../?shown=<slot>"
            html = html.replace(f"?shown={slot}&amp;", "?").replace(f"?shown={slot}", "")
    return mark_safe(html)


def variant_chosen(variants: list, *, wanted: str) -> object | None:
    """The variant the page opens with: the one asked for (``?variant=``: a photo search that matched its
    picture, a shared link), else the first in stock, else the first."""
    for variant in variants:
        if str(variant.id) == wanted:
            return variant
    return next((v for v in variants if v.in_stock), variants[0] if variants else None)


def _body_make(*, slug: str, variant: str | None, from_search: bool) -> tuple[ProductBody, bool]:
    """The body, and whether it may be kept (not while its pictures wait for their vectors: its lists are to come)."""
    item = products_published().prefetch_related("variants").filter(slug=slug).first()
    if item is None:
        raise Http404("No product here")
    variants = list(item.variants.all())
    chosen = variant_chosen(variants, wanted=variant or "")
    images = list(item.images.all())
    if chosen is not None:
        # The chosen variant's pictures lead the gallery ("you searched a red one: here is the red one").
        images.sort(key=lambda im: im.variant_id != chosen.id)
    # No picture, no vector: the page shows a placeholder and no "similar items" promise.
    lists = product_page_lists(product=item) if images else ProductPageLists(similar=[], other_colours=[])
    together = bought_together(product=item)
    depends_on = tuple(dict.fromkeys([item.id, *(m.product.id for m in lists.similar),
                                      *(t.product.id for t in together), *(m.product.id for m in lists.other_colours)]))
    # Read before the template reads the rows' values: a change that commits after this is a mark the body lacks.
    marks = marks_read(product_ids=depends_on) if not variant else {}
    variant_pictures: dict[int, object] = {}
    for im in images:
        if im.variant_id is not None:
            variant_pictures.setdefault(im.variant_id, im)
    context = {
        "product": item,
        "ancestors": [*category_ancestors(item.category), item.category],
        "images": images,
        "variants": [
            {"variant": v, "picture": variant_pictures.get(v.id), "price": v.unit_price_of(item),
             "chosen": v == chosen}
            for v in variants
        ],
        "chosen": chosen,
        "price": chosen.unit_price_of(item) if chosen else item.price,
        "stock": chosen.stock_quantity if chosen else item.stock_quantity,
        "matched_variant": bool(chosen and variant == str(chosen.id) and from_search),
        "similar": lists.similar,
        "similar_shown": SIMILAR_SLOT if lists.similar else None,
        "other_colours": lists.other_colours,
        "together": together,
        "together_shown": TOGETHER_SLOT if together else None,
        "add_form": AddToCartForm(initial={"product": item.id, "quantity": 1}),
        "csrf_slot": CSRF_SLOT,
        "in_cart_slot": IN_CART_SLOT,
    }
    body = ProductBody(
        product_id=item.id,
        title=item.display_name,
        html=render_to_string("shop/_product_body.html", context),
        similar_ids=tuple(m.product.id for m in lists.similar),
        similar_top=lists.similar[0].similarity if lists.similar else None,
        similar_close=bool(lists.similar and lists.similar[0].close),
        together_ids=tuple(t.product.id for t in together),
        depends_on=depends_on,
        marks=marks,
    )
    return body, not (images and not lists.similar)
