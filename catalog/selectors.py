"""Catalogue reads shared by the storefront, the API and visual search."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from .models import Category


@dataclass(frozen=True)
class CategoryNode:
    category: Category
    depth: int
    """0 for a department, 1 for its subcategories, ..."""


def category_descendant_ids(category: Category) -> list[int]:
    """The category's id and the ids of every category below it."""
    ids, frontier = [category.id], [category.id]
    while frontier:  # a shop's category tree is small and shallow: one query per level
        frontier = list(Category.objects.filter(parent_id__in=frontier).values_list("id", flat=True))
        ids.extend(frontier)
    return ids


def category_ancestors(category: Category) -> list[Category]:
    """The categories above this one, the department first (not the category itself): a breadcrumb's path."""
    by_id = {c.id: c for c in Category.objects.all()}  # the whole tree in one query: a few dozen rows
    path, parent_id, seen = [], category.parent_id, {category.id}
    while parent_id is not None and parent_id not in seen:  # `seen`: a cycle made by hand in the admin ends here
        seen.add(parent_id)
        parent = by_id.get(parent_id)
        if parent is None:
            break
        path.append(parent)
        parent_id = parent.parent_id
    return path[::-1]


def categories_in_tree_order(queryset: QuerySet[Category] | None = None) -> list[CategoryNode]:
    """Every category in the order of the tree: each department, then its subcategories below it (by position,
    then name, at each level), with its depth, so menus can indent them. A category whose parent is not in the
    queryset is shown as a root."""
    categories = list((queryset if queryset is not None else Category.objects.all()).order_by("position", "name", "id"))
    ids = {c.id for c in categories}
    children: dict[int | None, list[Category]] = {}
    for category in categories:
        children.setdefault(category.parent_id if category.parent_id in ids else None, []).append(category)
    nodes: list[CategoryNode] = []
    placed: set[int] = set()

    def walk(parent_id: int | None, depth: int) -> None:
        for category in children.get(parent_id, []):
            if category.id in placed:
                continue
            placed.add(category.id)
            nodes.append(CategoryNode(category=category, depth=depth))
            walk(category.id, depth + 1)

    walk(None, 0)
    # Categories in a cycle (never reachable from a root) still get listed, at the end.
    nodes.extend(CategoryNode(category=c, depth=0) for c in categories if c.id not in placed)
    return nodes


def category_by_slug(slug: str) -> Category | None:
    """The category with this slug, whatever its letter case (``Clothing`` finds ``clothing``); an exact match
    wins if two slugs differ only in case."""
    matches = list(Category.objects.select_related("parent").filter(slug__iexact=slug)[:10])
    for category in matches:
        if category.slug == slug:
            return category
    return matches[0] if matches else None
