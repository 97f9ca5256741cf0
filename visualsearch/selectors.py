"""Reads with business rules: the active model, photo search and product-level ranking."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
from django.conf import settings

from catalog.models import Category, Product, ProductImage
from catalog.selectors import category_descendant_ids

from . import querysets
from .embedding import embedder_for, spec_for
from .errors import ErrorCode, ImageRejected
from .intake import MIN_SIDE, IntakeLimits, query_photo_open
from .models import EmbeddingStatus, ImageEmbedding, ModelVersion
from .statistics import Centring, centring_for


logger = logging.getLogger(__name__)

# The last active key this process read, with when: (time.monotonic(), key).
_active_key_seen: tuple[float, str] | None = None


def active_model_key() -> str:
    """The key search uses now: the active ModelVersion, else the VISUALSEARCH_MODEL setting."""
    global _active_key_seen
    key = ModelVersion.objects.filter(is_active=True).values_list("key", flat=True).first()
    key = key or settings.VISUALSEARCH_MODEL
    _active_key_seen = (time.monotonic(), key)
    return key


def plain_model_key(model_key: str) -> str:
    """The plain key a key's vectors come from: an adapter version's base key, else the key itself (the space the
    interaction log keeps query vectors in)."""
    spec = spec_for(model_key)
    return spec.base_key if spec.adapter is not None else model_key


def active_model_key_recent() -> str:
    """The active key as this process read it less than VISUALSEARCH_ACTIVE_KEY_MAX_AGE seconds ago, else fresh.

    For the hot read paths (similar items, "inspired by"): bench/profile_requests.py measured the two key
    queries as a sixth of a cached similar-items request. A switch made in another process shows here within
    that many seconds; meanwhile the old key is still complete (a version is switched to only when complete and
    stays embedded afterwards), so a query still compares the vectors of one key only.
    """
    seen = _active_key_seen
    if seen is not None and time.monotonic() - seen[0] < settings.VISUALSEARCH_ACTIVE_KEY_MAX_AGE:
        return seen[1]
    return active_model_key()


def active_model_key_forget() -> None:
    """Drop this process's remembered key (after a switch here; between tests)."""
    global _active_key_seen
    _active_key_seen = None


def intake_limits() -> IntakeLimits:
    return IntakeLimits(
        max_bytes=settings.VISUALSEARCH_MAX_UPLOAD_BYTES,
        max_pixels=settings.VISUALSEARCH_MAX_PIXELS,
        stored_max_side=settings.VISUALSEARCH_STORED_MAX_SIDE,
    )


@dataclass(frozen=True)
class SearchFilters:
    category: Category | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    colours: tuple[str, ...] = ()
    """Palette keys (``visualsearch.colours``): the matching picture must have one of them."""
    words: str = ""
    """Words the products must match (full text, both languages), applied inside the k-NN query."""
    colours_excluded: tuple[str, ...] = ()
    """Palette keys the matching picture must not have ("similar, in another colour")."""
    include_unpublished: bool = False
    """Staff tools (identify goods, match outside listings) see the whole catalogue, shoppers the published part."""


@dataclass(frozen=True)
class ProductMatch:
    product: Product
    image: ProductImage
    similarity: float
    """The score the results are ranked by: the cosine of query and the product's best image, in the centred
    space when the search centres (1.0 = same direction)."""
    close: bool = True
    """False under the model key's close-match threshold: show it as an alternative, not as "this is it"."""


# The similarity (the centred score of the first result) under which search says "no close match" and shows the
# nearest products as alternatives, per model key. Calibrated by bench/no_match_threshold.py through the shop's path
# (object step, centred space after 300 earlier searches) in two shops, held-out half, 2026-12-01:
# effnet-lite1-avg-240, 0.45: grocery shop (instance level) 8.7 % of shoppers' photos shown as close, 69 % of those
# the right product; clothing shop (kind level) 54.7 % shown as close, 95 % the right kind; photos of things the shop
# does not sell told "no close match": 100 % in both. No threshold gives >= 90 % right at the instance level with
# anything shown (0.35: 51 % right of 35 % shown). effnet-lite0-avg-224, 0.444, was calibrated on the plain cosine
# (before centring) and is kept for shops still on it until they re-run the bench.
CLOSE_MATCH_SIMILARITY: dict[str, float] = {"effnet-lite0-avg-224": 0.444, "effnet-lite1-avg-240": 0.45}


def close_match_threshold(model_key: str) -> float | None:
    """The setting VISUALSEARCH_CLOSE_MATCH_SIMILARITY wins; then the calibrated table; then a trained
    version's own calibration (from its held-out photos); None means every result counts as close."""
    override = getattr(settings, "VISUALSEARCH_CLOSE_MATCH_SIMILARITY", None)
    if override is not None:
        return float(override)
    if model_key in CLOSE_MATCH_SIMILARITY:
        return CLOSE_MATCH_SIMILARITY[model_key]
    metrics = ModelVersion.objects.filter(key=model_key).values_list("metrics", flat=True).first() or {}
    value = metrics.get("close_match_similarity")
    return float(value) if value is not None else None


def is_close_match(*, similarity: float, model_key: str) -> bool:
    threshold = close_match_threshold(model_key)
    return threshold is None or similarity >= threshold


def products_near_photo(
    *, vector: np.ndarray, model_key: str, filters: SearchFilters = SearchFilters(), limit: int = 24
) -> list[ProductMatch]:
    """A shopper's photo (already embedded) against the catalogue, in the key's centred space."""
    return products_near_vector(
        vector=vector, model_key=model_key, filters=filters, limit=limit, centring=centring_for(model_key)
    )


def catalogue_centring(model_key: str) -> Centring | None:
    """Catalogue against catalogue (similar items): both sides centred on the catalogue's mean."""
    centring = centring_for(model_key)
    if centring is None:
        return None
    return Centring(query_mean=centring.catalogue_mean, catalogue_mean=centring.catalogue_mean, queries_seen=0)


def _category_ids(category: Category | None) -> list[int] | None:
    return None if category is None else category_descendant_ids(category)


def products_near_vector(
    *,
    vector: np.ndarray,
    model_key: str,
    filters: SearchFilters = SearchFilters(),
    limit: int = 24,
    exclude_product_id: int | None = None,
    centring: Centring | None = None,
) -> list[ProductMatch]:
    """Products ranked by their best-matching image; one entry per product, published products only.

    With ``centring`` the ranking is by the centred cosine (``statistics.py``), and ``similarity`` is that score,
    which the key's close-match threshold is calibrated on.
    """
    spec = spec_for(model_key)
    # Oversample images so that products with several images still fill ``limit`` product slots.
    hits = querysets.knn_images(
        vector=vector,
        model_key=model_key,
        dimension=spec.dimension,
        limit=limit * 4 + 8,
        category_ids=_category_ids(filters.category),
        min_price=filters.min_price,
        max_price=filters.max_price,
        colours=filters.colours,
        colours_excluded=filters.colours_excluded,
        published_only=not filters.include_unpublished,
        tsquery=querysets.words_tsquery(filters.words) if filters.words.strip() else None,
        exclude_product_id=exclude_product_id,
        ef_search=settings.VISUALSEARCH_EF_SEARCH,
        query_mean=centring.query_mean if centring is not None else None,
        catalogue_mean=centring.catalogue_mean if centring is not None else None,
    )
    best: dict[int, querysets.ImageHit] = {}
    for hit in hits:
        best.setdefault(hit.product_id, hit)
    chosen = list(best.values())[:limit]
    # The matched picture's variant too: a search that matched the red one opens the red one.
    images = ProductImage.objects.select_related("product", "variant").in_bulk([hit.image_id for hit in chosen])
    for image in images.values():
        if image.variant is not None:
            image.variant.product = image.product  # its price may be the product's: no query per result
    threshold = close_match_threshold(model_key)
    matches = []
    for hit in chosen:
        if hit.image_id not in images:
            continue
        similarity = hit.centred_similarity if hit.centred_similarity is not None else 1.0 - hit.distance
        matches.append(
            ProductMatch(
                product=images[hit.image_id].product,
                image=images[hit.image_id],
                similarity=similarity,
                close=threshold is None or similarity >= threshold,
            )
        )
    return matches


@dataclass(frozen=True)
class CropBox:
    """A part of the photo, in fractions (0..1) of its width and height after EXIF rotation."""

    x: float
    y: float
    width: float
    height: float

    def pixels(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        w, h = size
        left, top = round(self.x * w), round(self.y * h)
        right = min(w, max(left + 1, round((self.x + self.width) * w)))
        bottom = min(h, max(top + 1, round((self.y + self.height) * h)))
        return left, top, right, bottom


@dataclass(frozen=True)
class FoundObject:
    """A separate object the object step found in a shopper's photo ("shop the look")."""

    box: CropBox
    score: float
    """A salient object's share of the photo's salient mass (those scores add up to 1); for a recognised region,
    its concept's probability for the whole photo."""
    vector: np.ndarray
    """The object's crop, embedded (a recognised region: the feature map pooled over it): searching it is
    searching that part of the photo."""
    concept: int | None = None
    """None for a salient object (U²-Net); for a region of the network's activation map ("shop the look" in a
    room, ``embedding/regions.py``), the ImageNet concept it was found for. Regions never lead the first search."""


@dataclass(frozen=True)
class PhotoQuery:
    model_key: str
    vector: np.ndarray
    """What the first results are for: the shopper's crop; else the most prominent object together with the
    whole photo (the mean of both vectors); else the whole photo."""
    box: CropBox | None
    """The region that leads the search (the crop or the main object), None for the whole photo."""
    objects: tuple[FoundObject, ...] = ()
    base_key: str = ""
    base_vector: np.ndarray | None = None
    """The same leading vector in the plain key's space (an adapter's base key; ``vector`` itself for a plain key):
    what the interaction log keeps, because adapters are trained on base-key vectors."""
    whole_vector: np.ndarray | None = None
    """The whole photo's vector (the crop's, for a crop), before the leading rule."""
    cropped: bool = False


# A main object covering nearly the whole photo is the photo: the whole photo leads the search.
_WHOLE_PHOTO_AREA = 0.85


def _objects_in(picture):
    """The salient objects' boxes and U²-Net's mask, or ([], None) when the step is off or cannot run here."""
    if not settings.VISUALSEARCH_OBJECTS:
        return [], None
    from .embedding.objects import ObjectFinderUnavailable, salient_objects

    try:
        found = salient_objects(picture, side=settings.VISUALSEARCH_OBJECTS_SIDE)
    except ObjectFinderUnavailable as error:
        logger.warning("object step skipped: %s", error)
        return [], None
    return list(found.boxes[: settings.VISUALSEARCH_OBJECTS_MAX]), found.mask


def photo_query(
    data: bytes, *, model_key: str | None = None, crop: CropBox | None = None, find_objects: bool = True
) -> PhotoQuery:
    """A shopper's photo to what search needs: the leading vector, and the separate objects with theirs.

    The whole photo and the main salient object's crop go through the same intake and preprocessing as catalogue
    images, in one batch. One more forward of the whole photo at ``VISUALSEARCH_REGIONS_SIDE`` gives the other
    salient objects' vectors and the regions the network recognises (with it at 0, each salient crop is embedded
    instead, and there are no regions). A crop box the shopper drew always wins: then no object step runs. Raises
    ImageRejected for files that are not acceptable photos (or a crop too small to see). Nothing is written.
    """
    model_key = model_key or active_model_key()
    spec = spec_for(model_key)
    # One forward pass in the plain key; an adapter key's vectors are the adapter applied to them (what the
    # adapter's embedder does), so the base vector the log keeps costs nothing more.
    base_key = spec.base_key if spec.adapter is not None else model_key
    embedder = embedder_for(base_key, settings.VISUALSEARCH_DEVICE)
    # Checked like every upload, decoded only as far as search needs: 640 px for the object step to crop from (and
    # for a box the shopper drew), else just what the network reads (intake.query_photo_open); the spec's own
    # preprocessing then treats it as it treats a catalogue picture.
    objects_wanted = crop is None and find_objects and settings.VISUALSEARCH_OBJECTS
    picture = query_photo_open(
        data, limits=intake_limits(),
        short_side=None if objects_wanted or crop is not None else embedder.spec.preprocessing.decode_side,
    )
    if crop is not None:
        picture = picture.crop(crop.pixels(picture.size))
        if min(picture.size) < MIN_SIDE:
            raise ImageRejected(ErrorCode.IMAGE_TOO_SMALL, min_side=MIN_SIDE)
        vector = embedder.embed([picture])[0]
        base = PhotoQuery(model_key=base_key, vector=vector, box=crop, whole_vector=vector, cropped=True)
        return photo_query_in_key(base, model_key=model_key)
    boxes, mask = _objects_in(picture) if find_objects else ([], None)
    found_map = _photo_map(embedder, picture) if objects_wanted else None
    if found_map is None:
        # Without the larger forward (regions off, or a key without a head to read): each crop embedded.
        crops = [picture.crop(box.pixels(*picture.size)) for box in boxes]
        vectors = embedder.embed([picture, *crops])
        whole, object_vectors = vectors[0], list(vectors[1:])
    else:
        # The whole photo and the main object's crop as the catalogue's pictures are embedded (the first results
        # are theirs); every other object and every recognised region pooled from the one larger forward
        # (PhotoMap.pooled). Pooling the main object too lost protocol A's R@1 0.389 -> 0.375 (R@10 0.797 -> 0.787).
        vectors = embedder.embed([picture, *[picture.crop(box.pixels(*picture.size)) for box in boxes[:1]]])
        whole = vectors[0]
        object_vectors = [*vectors[1:], *[found_map.pooled(box) for box in boxes[1:]]]
    objects = [
        FoundObject(box=_crop_box(box), score=box.score, vector=vector)
        for box, vector in zip(boxes, object_vectors, strict=True)
    ]
    if found_map is not None:
        salient = [(box, found_map.concepts(box, count=_SALIENT_CONCEPTS)) for box in boxes]
        regions = found_map.regions(limit=settings.VISUALSEARCH_OBJECTS_MAX)
        objects += [
            FoundObject(box=_crop_box(region.box), score=region.box.score, vector=region.vector, concept=region.concept)
            for region in _regions_beyond(regions, salient=salient, mask=mask)
        ]
    return photo_query_in_key(_photo_query_led(base_key, whole, tuple(objects)), model_key=model_key)


def _photo_map(embedder, picture):
    if settings.VISUALSEARCH_REGIONS_SIDE <= 0:
        return None
    from .embedding.regions import photo_map

    return photo_map(embedder, picture, side=settings.VISUALSEARCH_REGIONS_SIDE)


def _crop_box(box) -> CropBox:
    return CropBox(x=box.x0, y=box.y0, width=box.x1 - box.x0, height=box.y1 - box.y0)


_REGION_SAME_AS_SALIENT_IOU = 0.5
_REGION_MASKED = 0.5
_REGION_INSIDE = 0.5
_SALIENT_CONCEPTS = 10
"""A recognised region is a salient object already found when it overlaps one's box with IoU 0.5; when half of it lies
under U²-Net's mask (the "tick" a packshot's apple lights up); or when most of it lies inside a salient box and its
concept is among the 10 likeliest of that object's box (a part of a thin guitar, off its mask; a teapot's "cup" whose
cells, 32 px at 480, spill past the spout: 69 % inside, so 70 % was not enough). Without the last two
rules 14 of 15 grocery packshots got 2-4 regions of their one product ("ping-pong ball" on an apple); with the mask
rule alone, one of 15 (an apple's stem, just off its mask); with both, none. With the likelihood floor of
``regions.py`` they cost protocol D (the shop's path, ``evaluate_retrieval --protocol D --no-traffic``): recall@10
0.101 -> 0.089, rooms with a hit 0.689 -> 0.602, lists per room 5.79 -> 4.69 (with earlier shoppers' room photos, as
the shop runs: 0.111 and 0.718). Another concept inside a large salient box stays: in a room U²-Net's one box often
holds the sofa, the lamp and the cushions; dropping every region inside a salient box lost recall@10 0.111 -> 0.099."""


def _regions_beyond(regions: list, *, salient: list[tuple], mask: np.ndarray | None) -> list:
    """The recognised regions that add to the salient objects ((box, its concepts) each), up to
    ``VISUALSEARCH_OBJECTS_MAX`` objects in all."""
    from .embedding.objects import MASK_THRESHOLD

    def known(region) -> bool:
        for box, concepts in salient:
            if region.box.iou(box) >= _REGION_SAME_AS_SALIENT_IOU:
                return True
            if region.box.intersection(box) >= _REGION_INSIDE * region.box.area and region.concept in concepts:
                return True
        if mask is None:
            return False
        height, width = mask.shape
        left, top, right, bottom = region.box.pixels(width, height)
        return float((mask[top:bottom, left:right] >= MASK_THRESHOLD).mean()) >= _REGION_MASKED

    room = settings.VISUALSEARCH_OBJECTS_MAX - len(salient)
    return [region for region in regions if not known(region)][: max(0, room)]


def _photo_query_led(model_key: str, whole: np.ndarray, objects: tuple[FoundObject, ...]) -> PhotoQuery:
    if (not objects or objects[0].concept is not None
            or objects[0].box.width * objects[0].box.height >= _WHOLE_PHOTO_AREA):
        return PhotoQuery(model_key=model_key, vector=whole, box=None, objects=objects, whole_vector=whole)
    # The main object with its context: measured on protocol A (Lite1) R@5 0.615 -> 0.642, R@10 0.743 -> 0.774
    # against the whole photo alone, R@1 and protocol C unchanged; the crop alone lost 0.05 P@1 on C.
    return PhotoQuery(model_key=model_key, vector=_unit_sum(whole, objects[0].vector), box=objects[0].box,
                      objects=objects, whole_vector=whole)


def photo_query_in_key(base: PhotoQuery, *, model_key: str) -> PhotoQuery:
    """A photo embedded in a plain key (``base``), as searched with ``model_key``: that key itself, or an adapter
    over it (its map applied to the whole photo's and each object's vector, then the same leading rule). What
    ``photo_query`` returns for ``model_key``, without running the network again (the click-learning simulation
    searches the same photos again after each retrain)."""
    spec = spec_for(model_key)
    base_key = spec.base_key if spec.adapter is not None else model_key
    if base.model_key != base_key:
        raise ValueError(f"{model_key!r} does not map vectors of {base.model_key!r}")
    plain = replace(base, base_key=base.model_key, base_vector=base.vector)
    if spec.adapter is None:
        return plain
    mapped = spec.adapter.apply(np.stack([base.whole_vector, *[o.vector for o in base.objects]]))
    if base.cropped:
        return replace(plain, model_key=model_key, vector=mapped[0], whole_vector=mapped[0])
    objects = tuple(replace(o, vector=v) for o, v in zip(base.objects, mapped[1:], strict=True))
    led = _photo_query_led(model_key, mapped[0], objects)
    return replace(led, base_key=base.model_key, base_vector=base.vector)


def _unit_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = a + b
    return (total / max(float(np.linalg.norm(total)), 1e-12)).astype(np.float32)


def photo_embed(data: bytes, *, model_key: str | None = None, crop: CropBox | None = None) -> tuple[str, np.ndarray]:
    """A shopper's photo to one vector of the whole photo (or the crop), without the object step (evaluation
    of the plain path, benches). Raises ImageRejected for files that are not acceptable photos."""
    query = photo_query(data, model_key=model_key, crop=crop, find_objects=False)
    return query.model_key, query.vector


def product_first_vector(*, product: Product, model_key: str) -> np.ndarray | None:
    """The key's vector of the product's first catalogue picture that has one (None until one is embedded)."""
    row = (
        ImageEmbedding.objects.filter(
            image__product=product, image__kind="catalogue", model_key=model_key, status=EmbeddingStatus.READY
        )
        .order_by("image__position", "image_id")
        .values_list("vector", flat=True)
        .first()
    )
    return None if row is None else np.asarray(row, dtype=np.float32)


def products_similar_to_product(
    *, product: Product, limit: int = 8, model_key: str | None = None, filters: SearchFilters = SearchFilters()
) -> list[ProductMatch]:
    """Visually similar published products, from the vector of the product's first embedded image.

    A caller that already read the active key passes it, saving the query on this hot path.
    """
    model_key = model_key or active_model_key()
    vector = product_first_vector(product=product, model_key=model_key)
    if vector is None:
        return []
    return products_near_vector(
        vector=vector,
        model_key=model_key,
        filters=filters,
        limit=limit,
        exclude_product_id=product.id,
        centring=catalogue_centring(model_key),
    )


def product_has_vector(*, product_id: int, model_key: str | None = None) -> bool:
    """Whether one of the product's catalogue pictures has a ready vector for the key (similar items need one)."""
    return ImageEmbedding.objects.filter(
        image__product_id=product_id, image__kind="catalogue", model_key=model_key or active_model_key_recent(),
        status=EmbeddingStatus.READY,
    ).exists()


def embedding_status_for_images(image_ids: list[int]) -> dict[int, ImageEmbedding]:
    model_key = active_model_key()
    rows = ImageEmbedding.objects.filter(image_id__in=image_ids, model_key=model_key)
    return {row.image_id: row for row in rows}


@dataclass(frozen=True)
class TasteVector:
    """Where a set of products points in one model key's space: the weighted mean of their unit vectors."""

    model_key: str
    vector: np.ndarray
    product_ids: tuple[int, ...]
    """The products that had a ready vector (the others are not in the mean)."""


def products_taste_vector(*, weights: dict[int, float]) -> TasteVector | None:
    """The weighted mean of these products' first ready catalogue vectors (one query); None when none has one.

    The mean of unit vectors points between them, so the nearest products share what the inputs have in common;
    a larger weight pulls the mean toward that product.
    """
    model_key = active_model_key_recent()
    rows = (
        ImageEmbedding.objects.filter(
            image__product_id__in=list(weights), image__kind="catalogue", model_key=model_key,
            status=EmbeddingStatus.READY,
        )
        .order_by("image__product_id", "image__position", "image_id")
        .values_list("image__product_id", "vector")
    )
    first: dict[int, np.ndarray] = {}
    for product_id, vector in rows:
        first.setdefault(product_id, np.asarray(vector, dtype=np.float32))
    if not first:
        return None
    unit = np.stack([v / (np.linalg.norm(v) or 1.0) for v in first.values()])
    w = np.asarray([max(float(weights[pid]), 0.0) for pid in first], dtype=np.float32)
    mean = (w[:, None] * unit).sum(axis=0) / (float(w.sum()) or 1.0)
    return TasteVector(model_key=model_key, vector=mean, product_ids=tuple(first))


def products_near_products(*, product_ids: list[int], limit: int = 8) -> list[ProductMatch]:
    """Published products near the mean of these products' first ready image vectors, these excluded
    ("Inspired by what you viewed"). Returns [] when none of them has a vector yet."""
    taste = products_taste_vector(weights={pid: 1.0 for pid in product_ids})
    if taste is None:
        return []
    excluded = set(product_ids)
    matches = products_near_vector(vector=taste.vector, model_key=taste.model_key, limit=limit + len(excluded))
    return [m for m in matches if m.product.id not in excluded][:limit]


def products_scored_against(*, taste: TasteVector, product_ids: list[int]) -> list[ProductMatch]:
    """These published products (those with a vector), each with its best image's cosine to the taste vector,
    nearest first; for candidates found by something other than the picture (bought together)."""
    hits = querysets.images_scored(
        vector=taste.vector, model_key=taste.model_key, dimension=spec_for(taste.model_key).dimension,
        product_ids=list(product_ids),
    )
    best: dict[int, querysets.ImageHit] = {}
    for hit in hits:
        best.setdefault(hit.product_id, hit)
    images = ProductImage.objects.select_related("product").in_bulk([hit.image_id for hit in best.values()])
    return [
        ProductMatch(product=images[hit.image_id].product, image=images[hit.image_id], similarity=1.0 - hit.distance)
        for hit in best.values()
        if hit.image_id in images
    ]


def images_near_image(*, image_id: int, limit: int = 20, max_distance: float = 0.05) -> list[querysets.ImageHit] | None:
    """Catalogue images (any product, published or not) within ``max_distance`` cosine distance of this image.

    For catalogue clean-up: the same photo uploaded to two products, or twice with a new crop. None when the
    image has no ready vector for the active model key yet.
    """
    model_key = active_model_key()
    vector = (
        ImageEmbedding.objects.filter(image_id=image_id, model_key=model_key, status=EmbeddingStatus.READY)
        .values_list("vector", flat=True)
        .first()
    )
    if vector is None:
        return None
    hits = querysets.knn_images(
        vector=np.asarray(vector, dtype=np.float32),
        model_key=model_key,
        dimension=spec_for(model_key).dimension,
        limit=limit + 1,  # the image itself comes back first
        published_only=False,
        ef_search=settings.VISUALSEARCH_EF_SEARCH,
    )
    return [hit for hit in hits if hit.image_id != image_id and hit.distance <= max_distance][:limit]


def product_picture_vectors(*, product_id: int, model_key: str) -> np.ndarray:
    """The key's ready vectors of a product's catalogue pictures, one row each (unit length), in picture order;
    shape (0, d) when none is embedded yet. Staff tools compare a photo with a product's own pictures."""
    rows = list(
        ImageEmbedding.objects.filter(
            image__product_id=product_id, image__kind="catalogue", model_key=model_key, status=EmbeddingStatus.READY
        )
        .order_by("image__position", "image_id")
        .values_list("vector", flat=True)
    )
    if not rows:
        return np.zeros((0, spec_for(model_key).dimension), dtype=np.float32)
    vectors = np.asarray([np.asarray(row, dtype=np.float32) for row in rows])
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
