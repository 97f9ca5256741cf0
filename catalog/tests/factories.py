from decimal import Decimal

import factory

from catalog.models import Category, Product


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        skip_postgeneration_save = True  # a save after the hook would write the stale search columns back

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    price = Decimal("19.99")
    stock_quantity = 5
    category = factory.SubFactory(CategoryFactory)

    @factory.post_generation
    def search_document(product, create, extracted, **kwargs):
        """What product_create does after saving: the product is findable by its words, as in the shop."""
        if create:
            from catalog.services import search_document_refresh

            search_document_refresh(product_ids=[product.id])
