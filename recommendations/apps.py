from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"

    def ready(self) -> None:
        # Bought together learns from the orders' events through the outbox; the orders domain never imports this.
        from shop.outbox.subscribers import subscribe

        from .services.copurchases import copurchases_for_event

        subscribe(name="recommendations.copurchases", topics=["order.placed"], handler=copurchases_for_event)
