from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "shop.partners"
    label = "partners"
    verbose_name = "Partner API"

    def ready(self) -> None:
        # Webhooks listen to the domains' events through the outbox; the domains never import this app.
        from shop.outbox.subscribers import subscribe

        from .webhooks import WEBHOOK_TOPICS, webhook_deliveries_for_event

        subscribe(name="partners.webhooks", topics=WEBHOOK_TOPICS, handler=webhook_deliveries_for_event)
