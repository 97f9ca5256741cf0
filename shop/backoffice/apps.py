from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """Staff tools that compose several apps: the catalogue admin with pictures and their embeddings, import."""

    name = "shop.backoffice"
    label = "backoffice"
    verbose_name = "Back office"

    def ready(self) -> None:
        from django.contrib import admin

        admin.site.index_template = "admin/backoffice/index.html"  # the admin's front page links the dashboard
