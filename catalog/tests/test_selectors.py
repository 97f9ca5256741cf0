"""Category tree reads: ancestors for breadcrumbs, tree order for menus, slugs whatever their case."""

import pytest

from catalog.forms import CategoryTreeChoiceField
from catalog.models import Category
from catalog.selectors import categories_in_tree_order, category_ancestors, category_by_slug
from catalog.tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    home = CategoryFactory(name="Home & Living", slug="home-living", position=2)
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen", parent=home)
    cookware = CategoryFactory(name="Cookware", slug="cookware", parent=kitchen)
    garden = CategoryFactory(name="Garden", slug="garden", parent=home)
    fashion = CategoryFactory(name="Fashion", slug="fashion", position=1)
    shoes = CategoryFactory(name="Shoes", slug="shoes", parent=fashion)
    bags = CategoryFactory(name="Bags", slug="bags", parent=fashion)
    return {c.slug: c for c in (home, kitchen, cookware, garden, fashion, shoes, bags)}


def test_ancestors_run_from_the_department_down(tree):
    assert category_ancestors(tree["cookware"]) == [tree["home-living"], tree["kitchen"]]
    assert category_ancestors(tree["kitchen"]) == [tree["home-living"]]
    assert category_ancestors(tree["fashion"]) == []


def test_a_cycle_made_by_hand_does_not_loop(tree):
    Category.objects.filter(id=tree["home-living"].id).update(parent=tree["cookware"])

    # kitchen -> home -> cookware -> kitchen again: the walk stops before coming back to itself
    assert category_ancestors(Category.objects.get(slug="kitchen")) == [tree["cookware"], tree["home-living"]]


def test_tree_order_lists_each_department_then_its_subcategories(tree):
    nodes = [(n.category.name, n.depth) for n in categories_in_tree_order()]

    assert nodes == [
        ("Fashion", 0), ("Bags", 1), ("Shoes", 1),
        ("Home & Living", 0), ("Garden", 1), ("Kitchen", 1), ("Cookware", 2),
    ]


def test_the_menu_field_indents_subcategories_in_tree_order(tree):
    field = CategoryTreeChoiceField(Category.objects.all(), to_field_name="slug", empty_label="All categories")

    assert [(str(value), label) for value, label in field.choices] == [
        ("", "All categories"),
        ("fashion", "Fashion"),
        ("bags", "\u00a0" * 4 + "Bags"),
        ("shoes", "\u00a0" * 4 + "Shoes"),
        ("home-living", "Home & Living"),
        ("garden", "\u00a0" * 4 + "Garden"),
        ("kitchen", "\u00a0" * 4 + "Kitchen"),
        ("cookware", "\u00a0" * 8 + "Cookware"),
    ]
    assert field.clean("SHOES") == tree["shoes"]


def test_slugs_match_whatever_their_case(tree):
    assert category_by_slug("Kitchen") == tree["kitchen"]
    assert category_by_slug("KITCHEN") == tree["kitchen"]
    assert category_by_slug("clothing") is None
