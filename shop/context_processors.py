from catalog.models import Category


def storefront(request):
    return {
        "nav_categories": Category.objects.filter(parent__isnull=True).order_by("position", "name"),
        "cart_count": sum(request.session.get("cart", {}).values()) if hasattr(request, "session") else 0,
    }
