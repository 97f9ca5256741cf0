import factory
from django.utils import timezone

from recommendations.models import Action, ActionKind, Channel, Shown, ShownKind


class ShownFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shown

    visitor = factory.Sequence(lambda n: f"visitor-{n}")
    kind = ShownKind.PHOTO
    channel = Channel.PAGE
    product_ids = factory.LazyFunction(list)
    created_at = factory.LazyFunction(timezone.now)


class ActionFactory(factory.django.DjangoModelFactory):
    """An action on the product the list showed at ``rank`` (the product follows from the list and the rank)."""

    class Meta:
        model = Action

    shown = factory.SubFactory(ShownFactory)
    rank = 1
    product_id = factory.LazyAttribute(lambda a: a.shown.product_ids[a.rank - 1])
    kind = ActionKind.OPEN
    created_at = factory.LazyAttribute(lambda a: a.shown.created_at)
