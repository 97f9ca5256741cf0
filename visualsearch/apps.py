from django.apps import AppConfig


class VisualsearchConfig(AppConfig):
    name = "visualsearch"
    verbose_name = "Visual search"

    def ready(self) -> None:
        from .embedding import spec_resolver_add
        from .versions import adapter_spec_resolve

        # Trained adapter keys live in the database; the embedding library asks for them by key.
        spec_resolver_add(adapter_spec_resolve)
