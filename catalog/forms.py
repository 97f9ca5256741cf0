"""Form fields for choosing a category: the shop's menus and the admin list the tree, not a flat alphabet."""

from __future__ import annotations

from django import forms
from django.forms.models import ModelChoiceIterator

from .models import Category
from .selectors import categories_in_tree_order, category_by_slug

# No-break spaces: a browser collapses ordinary leading spaces in an <option>, and keeps these.
INDENT = "\u00a0" * 4


def category_tree_label(category: Category, depth: int) -> str:
    return INDENT * depth + category.display_name


class _TreeIterator(ModelChoiceIterator):
    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for node in categories_in_tree_order(self.queryset):
            value, _ = self.choice(node.category)
            yield (value, category_tree_label(node.category, node.depth))

    def __len__(self):
        return self.queryset.count() + (1 if self.field.empty_label is not None else 0)


class CategoryTreeChoiceField(forms.ModelChoiceField):
    """A category menu in tree order, subcategories indented under their department.

    With ``to_field_name="slug"`` the slug is matched whatever its letter case, as the URLs and the API do."""

    iterator = _TreeIterator

    def to_python(self, value):
        if self.to_field_name == "slug" and value not in self.empty_values and isinstance(value, str):
            category = category_by_slug(value)
            if category is not None and self.queryset.filter(pk=category.pk).exists():
                return category
        return super().to_python(value)


def category_tree_filter_choices(queryset=None) -> list[tuple[int, str]]:
    """(id, indented name) in tree order: the admin's "By category" filter lists the tree too."""
    return [(node.category.pk, category_tree_label(node.category, node.depth))
            for node in categories_in_tree_order(queryset)]
