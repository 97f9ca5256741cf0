"""Catalogue reads shared by the storefront, the API and visual search."""

from __future__ import annotations

from .models import Category


def category_descendant_ids(category: Category) -> list[int]:
    """The category's id and the ids of every category below it."""
    ids, frontier = [category.id], [category.id]
    while frontier:  # a shop's category tree is small and shallow: one query per level
        frontier = list(Category.objects.filter(parent_id__in=frontier).values_list("id", flat=True))
        ids.extend(frontier)
    return ids
