from django.apps import AppConfig


class VisualsearchConfig(AppConfig):
    name = "visualsearch"
    verbose_name = "Visual search"
