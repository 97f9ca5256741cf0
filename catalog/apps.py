from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalogue"

    def ready(self) -> None:
        # Not domain flow (STYLE: no signals for that): the change marks of cached pages must hear of every save
        # and delete, the admin's inline saves and cascades included, which no service sees (catalog.changes).
        from django.db.models.signals import post_delete, post_save

        from . import changes
        from .models import Category, Product, ProductImage, ProductVariant

        def product_saved(sender, instance, **kwargs) -> None:
            changes.products_changed(product_ids=[instance.id])

        def part_saved(sender, instance, **kwargs) -> None:
            changes.products_changed(product_ids=[instance.product_id])

        def category_saved(sender, instance, **kwargs) -> None:
            changes.catalogue_changed()

        for model, receiver in [(Product, product_saved), (ProductVariant, part_saved), (ProductImage, part_saved),
                                (Category, category_saved)]:
            post_save.connect(receiver, sender=model, weak=False, dispatch_uid=f"changes-{model.__name__}-save")
            post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=f"changes-{model.__name__}-delete")
