"""Storefront pages: home, category, product, text search and search by photo."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.db.models import F, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from catalog.models import Category, Product, ProductImage
from recommendations.selectors import similar_items
from visualsearch.errors import ErrorCode, ImageRejected, MESSAGES
from visualsearch.querycache import query_vector_recall, query_vector_remember
from visualsearch.selectors import SearchFilters, photo_embed, products_near_vector

from .forms import PhotoSearchForm

PAGE_SIZE = 24


def _published():
    return Product.objects.filter(is_published=True).select_related("category").prefetch_related(
        Prefetch("images", queryset=ProductImage.objects.order_by("position", "id"))
    )


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "shop/home.html",
        {"new_arrivals": _published()[:12], "categories": Category.objects.filter(parent__isnull=True)},
    )


def category(request: HttpRequest, slug: str) -> HttpResponse:
    current = get_object_or_404(Category, slug=slug)
    ids, frontier = [current.id], [current.id]
    while frontier:
        frontier = list(Category.objects.filter(parent_id__in=frontier).values_list("id", flat=True))
        ids.extend(frontier)
    products = _published().filter(category_id__in=ids)
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "shop/category.html",
        {"category": current, "children": current.children.all(), "page": page},
    )


def product(request: HttpRequest, slug: str) -> HttpResponse:
    item = get_object_or_404(_published(), slug=slug)
    return render(request, "shop/product.html", {"product": item, "similar": similar_items(product=item)})


def text_search(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("q", "").strip()[:200]
    products = Product.objects.none()
    if text:
        query = SearchQuery(text, config="simple", search_type="websearch")
        products = (
            _published()
            .filter(search_vector=query)
            .annotate(rank=SearchRank(F("search_vector"), query))
            .order_by("-rank", "name")
        )
        if not products.exists():  # prefix match for half-typed words ("sneak")
            products = _published().filter(name__icontains=text)
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "shop/search.html", {"q": text, "page": page})


@require_http_methods(["GET", "POST"])
def photo_search(request: HttpRequest) -> HttpResponse:
    """Search by photo. POST takes the photo, keeps only its vector and redirects to a GET of the results
    (one history entry per search); GET with ``q`` re-runs the search with other filters, no upload needed."""
    data = request.POST if request.method == "POST" else request.GET
    form = PhotoSearchForm(data, request.FILES or None)
    context = {"form": form, "results": None, "error": None}
    if not form.is_valid():
        if request.method == "POST" or data:
            context["error"] = " ".join(e for errors in form.errors.values() for e in errors)
        return render(request, "shop/photo_search.html", context, status=400 if context["error"] else 200)
    filters = SearchFilters(
        category=form.cleaned_data["category"],
        min_price=form.cleaned_data["min_price"],
        max_price=form.cleaned_data["max_price"],
    )
    filter_params = {
        key: value
        for key, value in {
            "category": data.get("category", ""),
            "min_price": data.get("min_price", ""),
            "max_price": data.get("max_price", ""),
        }.items()
        if value
    }
    try:
        if request.method == "POST":
            upload = form.cleaned_data["image"]
            if upload is None:
                raise ImageRejected(ErrorCode.IMAGE_MISSING)
            model_key, vector = photo_embed(upload.read())
            query_id = query_vector_remember(model_key=model_key, vector=vector)
            return redirect(f"{request.path}?{urlencode({'q': query_id, **filter_params})}")
        query_id = data.get("q", "")
        remembered = query_vector_recall(query_id)
        if remembered is None:
            if query_id:
                context["error"] = _("This search has expired. Please choose the photo again.")
            return render(request, "shop/photo_search.html", context)
        model_key, vector = remembered
        context["results"] = products_near_vector(vector=vector, model_key=model_key, filters=filters, limit=PAGE_SIZE)
        context["query_id"] = query_id
    except ImageRejected as error:
        context["error"] = error.message
        return render(request, "shop/photo_search.html", context, status=400)
    except DatabaseError:
        context["error"] = MESSAGES[ErrorCode.SEARCH_UNAVAILABLE]
        return render(request, "shop/photo_search.html", context, status=503)
    return render(request, "shop/photo_search.html", context)
