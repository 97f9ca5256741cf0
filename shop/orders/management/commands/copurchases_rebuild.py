"""manage.py copurchases_rebuild: count "bought together" again from every order placed so far.

For a shop that had orders before recommendations learned from them, or after counts were lost; the outbox
subscriber keeps the counts up to date from then on. Safe to run twice, and while orders come in.
"""

from django.core.management.base import BaseCommand

from recommendations.services import copurchases_rebuild

from ...selectors import orders_products_all


class Command(BaseCommand):
    help = "Count the bought-together pairs (recommendations.CoPurchase) again from every order."

    def handle(self, *args, **options) -> None:
        result = copurchases_rebuild(orders=orders_products_all())
        self.stdout.write(f"{result.orders} orders counted, {result.pairs} pair rows written")
