"""Recommendation reads. Vector SQL stays in visualsearch; this app decides what to recommend."""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Prefetch, Q

from catalog.models import Product, ProductImage
from visualsearch.selectors import (
    ProductMatch,
    SearchFilters,
    active_model_key_recent,
    products_near_products,
    products_near_vector,
    products_scored_against,
    products_similar_to_product,
    products_taste_vector,
)

from .models import Action, ActionKind, CoPurchase, ProductOrders
from .services import VIEWED_KEY

SIMILAR_ITEMS = 8
INSPIRED_MIN_VIEWS = 3  # one or two views say little about a taste; three start to
BOUGHT_TOGETHER = 6
SUGGESTIONS = 8


def similar_items(*, product: Product, limit: int = SIMILAR_ITEMS) -> list[ProductMatch]:
    """"Visually similar" on a product page: other published products, nearest first.

    The ranking (image ids and similarities) is cached per product for RECOMMENDATIONS_SIMILAR_CACHE_SECONDS:
    bench/load.py measured the uncached k-NN path as the bulk of a similar-items request, and a ranking only
    changes when the catalogue's vectors do. Products are read fresh on every call, so a price change shows at
    once and an unpublished product drops out at once; a new product joins other products' lists within the TTL.
    """
    return product_page_lists(product=product, similar_limit=limit, colours_limit=0).similar


def similar_in_other_colours(*, product: Product, limit: int = 6) -> list[ProductMatch]:
    """"Similar, in another colour": the nearest products whose matching picture lacks this product's main colour
    (its first picture's largest colour). Empty until that colour is measured.

    Cached like similar items, by product: that colour is the product's first picture's, which changes only with
    its pictures, as its vectors do. A cached answer costs the product page one query instead of nine, the k-NN
    query among them (bench/profile_requests.py; README "Load").
    """
    return product_page_lists(product=product, similar_limit=0, colours_limit=limit).other_colours


@dataclass(frozen=True)
class ProductPageLists:
    similar: list[ProductMatch]
    other_colours: list[ProductMatch]


def product_page_lists(*, product: Product, similar_limit: int = SIMILAR_ITEMS,
                       colours_limit: int = 6) -> ProductPageLists:
    """Both visual lists of a product page. From the cache (the usual case) they cost one Redis round trip and one
    query together, not two of each: a product page is the shop's most frequent request (bench/load.py)."""
    if settings.RECOMMENDATIONS_SIMILAR_CACHE_SECONDS <= 0:
        return ProductPageLists(
            similar=products_similar_to_product(product=product, limit=similar_limit) if similar_limit else [],
            other_colours=_other_colours(product=product, limit=colours_limit) if colours_limit else [],
        )
    model_key = active_model_key_recent()
    computes: dict[str, tuple[str, Callable[[], list[ProductMatch]]]] = {}
    if similar_limit:
        computes["similar"] = (f"similar:{model_key}:{product.id}:{similar_limit}", lambda: products_similar_to_product(
            product=product, limit=similar_limit, model_key=model_key))
    if colours_limit:
        computes["other_colours"] = (f"similar-colours:{model_key}:{product.id}:{colours_limit}",
                                     lambda: _other_colours(product=product, limit=colours_limit, model_key=model_key))
    lists = _rankings_cached(computes)
    return ProductPageLists(similar=lists.get("similar", []), other_colours=lists.get("other_colours", []))


def _other_colours(*, product: Product, limit: int, model_key: str | None = None) -> list[ProductMatch]:
    first = product.images.listed().filter(colour_keys__isnull=False).order_by("position", "id").first()
    if first is None or not first.colour_keys:
        return []
    return products_similar_to_product(
        product=product, limit=limit, model_key=model_key,
        filters=SearchFilters(colours_excluded=(first.colour_keys[0],)),
    )


def _rankings_cached(computes: dict[str, tuple[str, Callable[[], list[ProductMatch]]]]) -> dict[str, list[ProductMatch]]:
    """Each ``compute()``'s ranking, kept for RECOMMENDATIONS_SIMILAR_CACHE_SECONDS as (image id, similarity,
    close); the products and pictures of every cached ranking are read fresh in one query, published ones only."""
    cached = cache.get_many([key for key, _ in computes.values()])
    lists: dict[str, list[ProductMatch]] = {}
    for name, (key, compute) in computes.items():
        if key not in cached:
            matches = lists[name] = compute()
            if matches:  # an empty list may just mean "not embedded yet": ask again next time
                cache.set(key, [(m.image.id, m.similarity, m.close) for m in matches],
                          settings.RECOMMENDATIONS_SIMILAR_CACHE_SECONDS)
    wanted = [image_id for key, _ in computes.values() for image_id, _, _ in cached.get(key, ())]
    images = ProductImage.objects.select_related("product").filter(product__is_published=True).in_bulk(
        wanted) if wanted else {}
    for name, (key, _) in computes.items():
        if key in cached:
            lists[name] = [
                ProductMatch(product=images[image_id].product, image=images[image_id], similarity=similarity,
                             close=close)
                for image_id, similarity, close in cached[key]
                if image_id in images
            ]
    return lists


def viewed_product_ids(session) -> list[int]:
    return [int(pid) for pid in session.get(VIEWED_KEY, [])]


def inspired_by_views(session, *, limit: int = SIMILAR_ITEMS) -> list[ProductMatch]:
    """"Inspired by what you viewed": products near the mean embedding of the products this session looked at,
    once it has looked at INSPIRED_MIN_VIEWS; the viewed products themselves are left out."""
    viewed = viewed_product_ids(session)
    if len(viewed) < INSPIRED_MIN_VIEWS:
        return []
    return products_near_products(product_ids=viewed, limit=limit)


# --- bought together ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoughtTogether:
    product: Product
    image: ProductImage
    orders: int
    """How many orders held both this product and the one asked about."""


def _listed_images() -> Prefetch:
    return Prefetch("other__images", queryset=ProductImage.objects.listed().order_by("position", "id"))


def bought_together(*, product: Product, limit: int = BOUGHT_TOGETHER) -> list[BoughtTogether]:
    """"Bought together": the published products most often in one order with this one, those in stock first
    (a shopper can add them now), then by how many orders held both. Products without a picture are left out, as
    in the listings. Two queries: the pairs with their products, and the pictures."""
    rows = (
        CoPurchase.objects.filter(product_id=product.id, other__is_published=True)
        .filter(Exists(ProductImage.objects.listed().filter(product_id=OuterRef("other_id"))))
        .annotate(in_stock=ExpressionWrapper(Q(other__stock_quantity__gt=0), output_field=BooleanField()))
        .select_related("other")
        .prefetch_related(_listed_images())
        .order_by("-in_stock", "-orders", "other_id")[:limit]
    )
    return [BoughtTogether(product=row.other, image=row.other.images.all()[0], orders=row.orders) for row in rows]


# --- suggestions for a shopper -----------------------------------------------------------------------------

# How much each thing a shopper did says about their taste. A view is a glance; putting a product in the cart or
# buying it is a choice. Views fade with their age in the session's history (most recent first): the n-th
# oldest counts 1 / (1 + n / VIEW_FADE).
VIEW_WEIGHT = 1.0
VIEW_FADE = 4.0
CART_WEIGHT = 2.0
BUY_WEIGHT = 2.0
# The score is the visual similarity to the shopper's taste (a cosine, 0.3-0.9 between clothing pictures) plus
# this times the bought-together evidence (0-1): a product other shoppers often bought with what this shopper
# chose outranks one that only looks a little closer. bench/suggestions.py measured 0.25, 0.5 and 1.0 (README).
BOUGHT_WITH_WEIGHT = 0.5
# Among the candidates that look like the taste, the ones more shoppers bought rise by this times their popularity
# (log orders over the candidates' most, 0-1): what most shoppers of a kind of thing buy is the best first guess
# for the next one. bench/suggestions.py measured 0 to 0.2 (README "Recommendations from behaviour").
POPULAR_WEIGHT = 0.4
CANDIDATES_PER_SLOT = 3  # k-NN candidates per suggestion shown: room for the evidence to reorder them
EVIDENCE_ROWS = 400  # co-purchase rows read per page at most (the strongest first)
ACTIONS_READ = 50  # the visitor's most recent carts and purchases in the log


class SuggestionBasis:
    BEHAVIOUR = "behaviour"
    """Carts or purchases took part: "Suggested for you"."""
    VIEWS = "views"
    """Views only: "Inspired by what you viewed"."""
    NONE = ""
    """Too little to go on (a new shopper): the page shows what is new instead."""


@dataclass(frozen=True)
class Suggestion:
    product: Product
    image: ProductImage
    score: float
    similarity: float | None
    """Cosine of the product's best picture and the shopper's taste vector; None when no interacted product has
    a vector yet."""
    bought_with: float
    """Bought-together evidence, 0-1: how strongly other orders tie this product to what the shopper chose."""


@dataclass(frozen=True)
class Suggestions:
    items: list[Suggestion]
    basis: str

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def visitor_choices(*, visitor: str) -> tuple[list[int], list[int]]:
    """The products this visitor put in the cart and bought, as the interaction log recorded them (one query):
    (carted, bought), most recent first."""
    carted: list[int] = []
    bought: list[int] = []
    rows = (
        Action.objects.filter(shown__visitor=visitor, kind__in=[ActionKind.CART, ActionKind.BUY])
        .order_by("-created_at", "-id")
        .values_list("product_id", "kind")[:ACTIONS_READ]
    )
    for product_id, kind in rows:
        (bought if kind == ActionKind.BUY else carted).append(product_id)
    return carted, bought


def interaction_weights(
    *, viewed: Sequence[int] = (), carted: Sequence[int] = (), bought: Sequence[int] = ()
) -> dict[int, float]:
    """Each interacted product's weight: the strongest of what the shopper did with it."""
    weights: dict[int, float] = {}
    for age, product_id in enumerate(dict.fromkeys(int(pid) for pid in viewed)):
        weights[product_id] = VIEW_WEIGHT / (1.0 + age / VIEW_FADE)
    for product_ids, weight in ((carted, CART_WEIGHT), (bought, BUY_WEIGHT)):
        for product_id in product_ids:
            weights[int(product_id)] = max(weights.get(int(product_id), 0.0), weight)
    return weights


def bought_with_evidence(*, weights: dict[int, float]) -> dict[int, float]:
    """Products bought together with the interacted ones (those left out), each with evidence in 0-1 (one query).

    Per interacted product i, other product c scores orders(i, c) / (most orders of any pair of i + 1): its share
    of i's strongest tie, shrunk when even that tie is a single order. The shares are averaged over the
    interacted products that have any co-purchase, by their weights.
    """
    rows = (
        CoPurchase.objects.filter(product_id__in=list(weights), other__is_published=True)
        .order_by("-orders", "product_id", "other_id")
        .values_list("product_id", "other_id", "orders")[:EVIDENCE_ROWS]
    )
    strongest: dict[int, int] = {}
    for source, _, orders in rows:
        strongest[source] = max(strongest.get(source, 0), orders)
    if not strongest:
        return {}
    raw: dict[int, float] = defaultdict(float)
    for source, other, orders in rows:
        if other not in weights:
            raw[other] += weights[source] * orders / (strongest[source] + 1)
    total = sum(weights[source] for source in strongest)
    return {other: value / total for other, value in raw.items()}


def popularity_among(*, product_ids: list[int]) -> dict[int, float]:
    """Each product's popularity relative to the others asked about: log(1 + orders) / log(1 + the most orders of
    any of them): 1.0 for the most bought, 0 for one never bought (one query). Relative, so the prior weighs the
    same in a shop of a hundred orders and of a million."""
    orders = dict(ProductOrders.objects.filter(product_id__in=product_ids, orders__gt=0)
                  .values_list("product_id", "orders"))
    if not orders:
        return {}
    top = math.log1p(max(orders.values()))
    return {pid: math.log1p(n) / top for pid, n in orders.items()}


def _first_listed_images(product_ids: list[int]) -> dict[int, ProductImage]:
    images: dict[int, ProductImage] = {}
    rows = (
        ProductImage.objects.listed().select_related("product")
        .filter(product_id__in=product_ids, product__is_published=True)
        .order_by("product_id", "position", "id")
    )
    for image in rows:
        images.setdefault(image.product_id, image)
    return images


def suggestions_for_shopper(
    *,
    viewed: Sequence[int] = (),
    carted: Sequence[int] = (),
    bought: Sequence[int] = (),
    visitor: str | None = None,
    limit: int = SUGGESTIONS,
) -> Suggestions:
    """"Suggested for you" on the home page: what looks like the shopper's taste, moved up by what other shoppers
    bought together with what this one chose and by how often it is bought; the products they interacted with are
    left out.

    ``viewed`` (most recent first), ``carted`` and ``bought`` are product ids the caller knows (the session's
    history, cart and orders); with ``visitor`` the interaction log's carts and purchases of that visitor are
    added. The taste vector is the weighted mean of the interacted products' pictures (``interaction_weights``);
    the k-NN candidates near it and the products bought together with the interacted ones are scored alike,
    similarity + BOUGHT_WITH_WEIGHT x evidence + POPULAR_WEIGHT x popularity among them. In a shop nobody bought
    from yet that is the pure visual ranking; a shopper with fewer than INSPIRED_MIN_VIEWS views and nothing carted
    or bought gets nothing (the page shows new arrivals).

    The ranking is cached per taste (the weighted products) for RECOMMENDATIONS_SIMILAR_CACHE_SECONDS, as similar
    items are: computing it takes about ten queries (bench/suggestions.py), and a shopper sees the home page again
    and again with the same history. A cached answer costs one query, products read fresh (prices, unpublishing).
    """
    carted, bought = list(carted), list(bought)
    if visitor:
        logged_carts, logged_buys = visitor_choices(visitor=visitor)
        carted += logged_carts
        bought += logged_buys
    viewed = list(dict.fromkeys(int(pid) for pid in viewed))
    if not carted and not bought and len(viewed) < INSPIRED_MIN_VIEWS:
        return Suggestions(items=[], basis=SuggestionBasis.NONE)
    weights = interaction_weights(viewed=viewed, carted=carted, bought=bought)
    basis = SuggestionBasis.BEHAVIOUR if carted or bought else SuggestionBasis.VIEWS
    seconds = settings.RECOMMENDATIONS_SIMILAR_CACHE_SECONDS
    if seconds <= 0:
        return Suggestions(items=_suggestions_rank(weights=weights, limit=limit), basis=basis)
    taste = json.dumps([sorted((pid, round(w, 3)) for pid, w in weights.items()), limit, BOUGHT_WITH_WEIGHT,
                        POPULAR_WEIGHT])
    key = f"suggestions:{active_model_key_recent()}:{hashlib.sha1(taste.encode()).hexdigest()}"
    ranking = cache.get(key)
    if ranking is None:
        items = _suggestions_rank(weights=weights, limit=limit)
        if items:
            cache.set(key, [(s.image.id, s.score, s.similarity, s.bought_with) for s in items], seconds)
        return Suggestions(items=items, basis=basis)
    images = ProductImage.objects.select_related("product").filter(product__is_published=True).in_bulk(
        [image_id for image_id, *_ in ranking]
    )
    return Suggestions(
        items=[
            Suggestion(product=images[image_id].product, image=images[image_id], score=score, similarity=similarity,
                       bought_with=tie)
            for image_id, score, similarity, tie in ranking
            if image_id in images
        ],
        basis=basis,
    )


def _suggestions_rank(*, weights: dict[int, float], limit: int) -> list[Suggestion]:
    evidence = bought_with_evidence(weights=weights)
    strongest = sorted(evidence, key=lambda pid: (-evidence[pid], pid))[: limit * CANDIDATES_PER_SLOT]
    taste = products_taste_vector(weights=weights)
    candidates: dict[int, ProductMatch | ProductImage] = {}
    if taste is not None:
        near = products_near_vector(
            vector=taste.vector, model_key=taste.model_key, limit=limit * CANDIDATES_PER_SLOT + len(weights)
        )
        candidates.update((m.product.id, m) for m in near if m.product.id not in weights)
        missing = [pid for pid in strongest if pid not in candidates]
        if missing:
            candidates.update((m.product.id, m) for m in products_scored_against(taste=taste, product_ids=missing))
    missing = [pid for pid in strongest if pid not in candidates]
    if missing:  # bought together but without a vector (new pictures): evidence alone
        candidates.update(_first_listed_images(missing))
    popularity = popularity_among(product_ids=list(candidates)) if POPULAR_WEIGHT else {}
    items = []
    for product_id, found in candidates.items():
        similarity = found.similarity if isinstance(found, ProductMatch) else None
        image = found.image if isinstance(found, ProductMatch) else found
        tie = evidence.get(product_id, 0.0)
        items.append(
            Suggestion(
                product=image.product, image=image, similarity=similarity, bought_with=round(tie, 4),
                score=(similarity or 0.0) + BOUGHT_WITH_WEIGHT * tie + POPULAR_WEIGHT * popularity.get(product_id, 0.0),
            )
        )
    items.sort(key=lambda s: (-s.score, s.product.id))
    return items[:limit]
