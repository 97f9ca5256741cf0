"""Recommendation writes: the session's view history (no table; it lives as long as the shopper's session)."""

from __future__ import annotations

VIEWED_KEY = "viewed_products"
VIEWED_KEPT = 12  # enough to describe a taste, few enough that an old visit fades out


def product_view_record(session, *, product_id: int) -> list[int]:
    """Put the product first in the session's history (most recent first, no repeats); returns the history."""
    viewed = [pid for pid in session.get(VIEWED_KEY, []) if pid != product_id]
    viewed.insert(0, product_id)
    session[VIEWED_KEY] = viewed[:VIEWED_KEPT]
    return session[VIEWED_KEY]
