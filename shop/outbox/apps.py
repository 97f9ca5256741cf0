from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "shop.outbox"
    label = "outbox"
    verbose_name = "Event outbox"
    default_auto_field = "django.db.models.BigAutoField"
