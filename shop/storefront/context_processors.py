from catalog.models import Category

from .cart import cart_quantities


def storefront(request):
    return {
        "nav_categories": Category.objects.filter(parent__isnull=True).order_by("position", "name"),
        "cart_count": sum(cart_quantities(request.session).values()) if hasattr(request, "session") else 0,
    }
