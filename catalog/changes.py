"""Change marks: what a cache of catalogue pages asks to know whether what it kept is still right.

Each product has a mark in the cache (Redis) that changes whenever the product, its variants, its pictures or its
stock change, and the catalogue has one mark for what many pages show (categories, bought-together pairs, the active
model version). A page kept with the marks it saw is served again only while they are the same; a product that
never changed has no mark, which is a value like any other (None). Marks are kept without expiry; a mark that
Redis lost reads as None and no longer matches a page that recorded a value, so that page is made again. (A Redis
set to evict keys could lose the mark of a product changed after a page recorded None; the page's own timeout bounds
that case.)

A mark is changed at once and again when the transaction commits. At once, so that a read in the writer's own
transaction (a test, a service that writes then reads) sees it; on commit, so that a page made from the old rows
between the first change and the commit, and kept under the new mark, is left behind.

Model saves and deletes mark themselves (``catalog.apps``: the admin's own saves and deletes go through no
service, and a cache must hear of every write); writes by ``QuerySet.update`` or SQL call
``products_changed`` / ``catalogue_changed`` where they are made.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

CATALOGUE = "catalogue-mark"


def product_mark_key(product_id: int) -> str:
    return f"catalogue-mark:product:{product_id}"


def products_changed(*, product_ids: Iterable[int | None]) -> None:
    """These products (their fields, variants, pictures or stock) changed."""
    keys = sorted({product_mark_key(pid) for pid in product_ids if pid is not None})
    if keys:
        _marks_set(keys)


def catalogue_changed() -> None:
    """Something many pages show changed (a category, the bought-together pairs, the model version)."""
    _marks_set([CATALOGUE])


def marks_read(*, product_ids: Iterable[int]) -> dict[str, int | None]:
    """The current marks of the catalogue and of these products, in one round trip."""
    keys = [CATALOGUE, *sorted({product_mark_key(pid) for pid in product_ids})]
    found = cache.get_many(keys)
    return {key: found.get(key) for key in keys}


def _marks_set(keys: list[str]) -> None:
    def mark() -> None:
        try:
            # time_ns: a new value on every change, with no counter to create first. Kept without expiry: a mark
            # that expired would read as None, as a never-changed product does, and match a page kept before.
            cache.set_many(dict.fromkeys(keys, time.time_ns()), timeout=None)
        except Exception:  # noqa: BLE001 - Redis down: the write stands; kept pages expire by their own timeout
            logger.warning("catalogue change marks not written (cache unavailable): %s", keys[:3], exc_info=True)

    mark()
    transaction.on_commit(mark)
