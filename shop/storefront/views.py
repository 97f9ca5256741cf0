"""Storefront pages: home, category, product, text search, search by photo, cart, checkout."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.utils.translation import get_language, gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from catalog.models import Category
from catalog.selectors import category_ancestors, category_by_slug
from recommendations.selectors import (
    SuggestionBasis,
    suggestions_for_shopper,
    viewed_product_ids,
)
from recommendations.models import ActionKind, ShownKind
from recommendations.services import (
    VISITOR_KEY,
    ShownList,
    session_signals_forget,
    product_view_record,
    products_acted_on,
    result_opened,
    shown_record,
    visitor_id,
)
from visualsearch.errors import ErrorCode, ImageRejected, MESSAGES
from visualsearch.intake import ALLOWED_MEDIA_TYPES
from visualsearch.querycache import query_vector_recall, query_vector_remember
from visualsearch.selectors import SearchFilters, photo_query, products_near_photo
from visualsearch.statistics import query_vector_observe, searches_count
from visualsearch.textsearch import photo_refined_by_words

from shop.accounts.selectors import signals_account_id
from shop.accounts.services import address_add
from shop.orders.errors import CheckoutRejected, ShopErrorCode
from shop.orders.payments import (
    TEST_CARD_APPROVED,
    PaymentRefused,
    TestCardGateway,
    payment_providers,
    signature_for_test_gateway,
)
from shop.orders.models import Order, PaymentMethod
from shop.orders.selectors import order_product_ids
from shop.orders.services import CustomerData, order_payment_record, order_place

from . import cart as carts
from .forms import AddToCartForm, CartLineForm, CheckoutForm, ListingForm, PhotoSearchForm, TestCardForm
from .productpage import product_body, product_body_fill
from .selectors import ListingFilters, colour_counts, products_listed, products_matching_text, products_published

PAGE_SIZE = 24
ORDERS_KEY = "orders"  # references of the orders this session placed: only they may see the confirmation


def _querystring(request: HttpRequest, **changes: object) -> str:
    params = request.GET.copy()
    for key, value in changes.items():
        params.pop(key, None)
        if value not in (None, ""):
            params[key] = value
    return params.urlencode()


def _form_errors_text(form) -> str:
    """Every error of the form in one line, each field's prefixed by its label ("Min price: Enter the price as a
    number…"), so the shopper knows which box to fix."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields and name != "image" else None
        parts.extend(_("%(label)s: %(error)s") % {"label": label, "error": error} if label else str(error)
                     for error in errors)
    return " ".join(parts)


def _shown_log(request: HttpRequest, shown: ShownList) -> int | None:
    """Log a list this page shows (one Redis round trip, the row written by the next flush); returns its id for
    the result links, None when not logged."""
    row = shown_record(visitor=visitor_id(request.session), shown=shown, account_id=signals_account_id(request.user))
    return row.id if row is not None else None


def home(request: HttpRequest) -> HttpResponse:
    # What this session viewed, has in its cart and bought, as plain ids: recommendations never reads the
    # storefront's session keys itself. The log adds the visitor's logged carts and purchases (a visitor id is
    # only read here, never made: a first visit costs no query for it).
    suggestions = suggestions_for_shopper(
        viewed=viewed_product_ids(request.session),
        carted=list(carts.cart_quantities(request.session)),
        bought=order_product_ids(references=request.session.get(ORDERS_KEY, [])),
        visitor=request.session.get(VISITOR_KEY),
    )
    suggested_shown = _shown_log(request, ShownList(
        kind=ShownKind.SUGGESTED, product_ids=[s.product.id for s in suggestions],
        filters={"basis": suggestions.basis},
    )) if suggestions else None
    return render(
        request,
        "shop/home.html",
        {
            "new_arrivals": products_listed(filters=ListingFilters(sort="new"))[:12],
            "categories": Category.objects.filter(parent__isnull=True).prefetch_related("children"),
            "suggestions": suggestions,
            "suggested_for_you": suggestions.basis == SuggestionBasis.BEHAVIOUR,
            "suggested_shown": suggested_shown,
        },
    )


def category(request: HttpRequest, slug: str) -> HttpResponse:
    current = category_by_slug(slug)
    if current is None:
        raise Http404("no such category")
    if current.slug != slug:  # /c/Clothing/ -> /c/clothing/: one address per page
        query = request.GET.urlencode()
        return redirect(current.get_absolute_url() + (f"?{query}" if query else ""), permanent=True)
    form = ListingForm(request.GET)
    filters = form.filters()
    products = products_listed(filters=replace(filters, category=current))
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "shop/category.html",
        {
            "category": current, "ancestors": category_ancestors(current), "children": current.children.all(),
            "page": page, "form": form, "pager_query": _querystring(request, page=None),
            "colour_facets": _colour_facets(
                request, colour_counts(products_listed(filters=replace(filters, category=current, colour="")))
            ),
        },
    )


def product(request: HttpRequest, slug: str) -> HttpResponse:
    body = product_body(slug=slug, variant=request.GET.get("variant"), from_search=bool(request.GET.get("shown")))
    product_view_record(request.session, product_id=body.product_id)
    result_opened(request.session, shown_id=request.GET.get("shown"), product_id=body.product_id)
    in_cart = carts.cart_quantities(request.session).get(body.product_id, 0)
    similar_shown = _shown_log(request, ShownList(
        kind=ShownKind.SIMILAR, product_ids=list(body.similar_ids), source_product_id=body.product_id,
        top_similarity=body.similar_top, close_match=body.similar_close,
    )) if body.similar_ids else None
    together_shown = _shown_log(request, ShownList(
        kind=ShownKind.TOGETHER, product_ids=list(body.together_ids), source_product_id=body.product_id,
    )) if body.together_ids else None
    html = product_body_fill(
        body, csrf_token=get_token(request), similar_shown=similar_shown, together_shown=together_shown,
        in_cart_html=render_to_string("shop/_in_cart.html", {"in_cart": in_cart}) if in_cart else "",
    )
    return render(request, "shop/product.html", {"title": body.title, "body": html, "page_kept": body.kept})


def text_search(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("q", "").strip()[:200]
    form = ListingForm(request.GET, with_category=True, with_relevance=bool(text))
    products, parsed = products_matching_text(text=text, filters=form.filters())
    if text and request.GET.get("page") in (None, "", "1"):
        searches_count(kind="text")  # a search, not each page of its results
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    shown = _shown_log(request, ShownList(
        kind=ShownKind.TEXT, product_ids=[p.id for p in page], query_text=text, close_match=bool(page.object_list),
        filters={**_filters_logged(request.GET), "page": page.number},
    )) if text else None
    return render(
        request, "shop/search.html",
        {
            "q": text, "page": page, "form": form, "pager_query": _querystring(request, page=None), "shown": shown,
            "read_as": _read_as(parsed),
            "colour_facets": _colour_facets(request, colour_counts(products)),
        },
    )


def _filters_logged(params) -> dict:
    return {key: params.get(key, "") for key in ("category", "min_price", "max_price", "color", "words", "sort")
            if params.get(key, "")}


def _read_as(parsed) -> dict | None:
    """How the words were read, for the line under the heading: the kinds of things looked for in the pictures
    and the colours, in the shopper's language."""
    if parsed is None or not (parsed.concept_terms or parsed.colours):
        return None
    from visualsearch.colours import BY_KEY

    chinese = get_language().startswith("zh")
    return {
        "things": list(parsed.concept_terms),
        "colours": [BY_KEY[key].chinese if chinese else BY_KEY[key].english for key in parsed.colours],
    }


def _colour_facets(request: HttpRequest, counts: list[tuple[str, int]]) -> list[dict]:
    """Colour chips for a listing: name, swatch, count and the link that filters (or unfilters) by it."""
    from visualsearch.colours import BY_KEY

    chinese = get_language().startswith("zh")
    chosen = request.GET.get("color", "")
    return [
        {
            "key": key, "count": count, "active": key == chosen,
            "name": BY_KEY[key].chinese if chinese else BY_KEY[key].english,
            "swatch": "#{:02x}{:02x}{:02x}".format(*BY_KEY[key].rgb),
            "query": _querystring(request, color=None if key == chosen else key, page=None),
        }
        for key, count in counts
        if key in BY_KEY
    ]


@require_http_methods(["GET", "POST"])
def photo_search(request: HttpRequest) -> HttpResponse:
    """Search by photo. POST takes the photo, keeps only its vector and redirects to a GET of the results
    (one history entry per search); GET with ``q`` re-runs the search with other filters, no upload needed."""
    data = request.POST if request.method == "POST" else request.GET
    form = PhotoSearchForm(data, request.FILES or None)
    context = {"form": form, "results": None, "error": None, "accepted_types": " ".join(ALLOWED_MEDIA_TYPES)}
    if not form.is_valid():
        if request.method == "POST" or data:
            context["error"] = _form_errors_text(form)
        return render(request, "shop/photo_search.html", context, status=400 if context["error"] else 200)
    filters = SearchFilters(
        category=form.cleaned_data["category"],
        min_price=form.cleaned_data["min_price"],
        max_price=form.cleaned_data["max_price"],
        colours=(form.cleaned_data["color"],) if form.cleaned_data["color"] else (),
    )
    filter_params = {
        key: data.get(key, "")
        for key in ("category", "min_price", "max_price", "color", "words")
        if data.get(key, "")
    }
    try:
        if request.method == "POST":
            upload = form.cleaned_data["image"]
            if upload is None and data.get("q"):
                # New filters for the photo already searched: no upload needed (the form without JavaScript).
                return redirect(f"{request.path}?{urlencode({'q': data['q'], **filter_params})}")
            if upload is None:
                raise ImageRejected(ErrorCode.IMAGE_MISSING)
            query = photo_query(upload.read(), find_objects=not form.cleaned_data["cropped"])
            query_vector_observe(model_key=query.model_key, vector=query.vector)  # the running mean; no photo kept
            searches_count(kind="photo")
            query_id = query_vector_remember(
                model_key=query.model_key,
                vector=query.vector,
                objects=[(o.box.x, o.box.y, o.box.width, o.box.height, o.vector, o.concept) for o in query.objects],
                base_key=query.base_key,
                base_vector=query.base_vector,
            )
            return redirect(f"{request.path}?{urlencode({'q': query_id, **filter_params})}")
        query_id = data.get("q", "")
        remembered = query_vector_recall(query_id)
        if remembered is None:
            if query_id:
                context["error"] = _("This search has expired. Please choose the photo again.")
            return render(request, "shop/photo_search.html", context)
        model_key, vector = remembered.model_key, remembered.vector
        logged_key, logged_vector = remembered.base_key, remembered.base_vector
        chosen = form.cleaned_data["object"]
        if chosen is not None and chosen < len(remembered.objects):
            vector = remembered.objects[chosen].vector  # a tap on another object of the photo: its crop alone
            # The objects' vectors are kept in the searched key only: in the log when that key is a plain one.
            logged_key, logged_vector = (model_key, vector) if logged_key == model_key else ("", None)
        # The first search is led by the main salient object; a recognised region never leads (with none salient,
        # the whole photo does and no chip is the one searched).
        led = 0 if remembered.objects and remembered.objects[0].concept is None else None
        context["objects"] = [
            {"index": n, "x": o.box[0], "y": o.box[1], "w": o.box[2], "h": o.box[3],
             "active": n == (chosen if chosen is not None else led)}
            for n, o in enumerate(remembered.objects)
        ]
        context["object_params"] = urlencode({"q": query_id, **filter_params})
        context["objects_json"] = json.dumps(context["objects"])
        words = form.cleaned_data["words"].strip()
        if words:
            # Concept words pull the vector, colour words filter, other words narrow inside the k-NN query.
            vector, filters, _parsed = photo_refined_by_words(
                vector=vector, model_key=model_key, words=words, filters=filters
            )
        results = products_near_photo(vector=vector, model_key=model_key, filters=filters, limit=PAGE_SIZE)
        context["results"] = results
        context["query_id"] = query_id
        context["shown"] = _shown_log(request, ShownList(
            kind=ShownKind.PHOTO, product_ids=[m.product.id for m in results], model_key=model_key,
            top_similarity=results[0].similarity if results else None, close_match=bool(results and results[0].close),
            filters={**filter_params, **({"object": chosen} if chosen else {})}, query_text=words,
            query_vector=logged_vector, vector_key=logged_key,
        ))
    except ImageRejected as error:
        context["error"] = error.message_in(_)  # translated first, then "25 MB" put in
        return render(request, "shop/photo_search.html", context, status=400)
    except DatabaseError:
        context["error"] = _(MESSAGES[ErrorCode.SEARCH_UNAVAILABLE])
        return render(request, "shop/photo_search.html", context, status=503)
    return render(request, "shop/photo_search.html", context)


# --- cart and checkout ---------------------------------------------------------------------------------


def cart(request: HttpRequest) -> HttpResponse:
    summary = carts.cart_summary(request.session)
    return render(request, "shop/cart.html", {"cart": summary})


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a quantity between 1 and %(max)d.") % {"max": carts.MAX_QUANTITY})
        return redirect(request.POST.get("next") or "shop:cart")
    item = get_object_or_404(products_published().prefetch_related("variants"), id=form.cleaned_data["product"])
    variants = {variant.id: variant for variant in item.variants.all()}
    variant = variants.get(form.cleaned_data["variant"]) if form.cleaned_data["variant"] else None
    if variants and variant is None:
        # No JavaScript, or a stale page: the product page says what to choose.
        messages.error(request, _("Choose a colour or size of %(name)s first.") % {"name": item.display_name})
        return redirect(item.get_absolute_url())
    if not variants and form.cleaned_data["variant"]:
        raise Http404("this product has no variants")
    name = f"{item.display_name}, {variant.display_name}" if variant else item.display_name
    if not (variant or item).in_stock:
        messages.error(request, _("%(name)s is out of stock.") % {"name": name})
        return redirect(item.get_absolute_url() + (f"?variant={variant.id}" if variant else ""))
    carts.cart_add(request.session, product_id=item.id, variant_id=variant.id if variant else None,
                   quantity=form.cleaned_data["quantity"])
    products_acted_on(request.session, product_ids=[item.id], kind=ActionKind.CART)
    messages.success(request, _("%(name)s was added to your cart.") % {"name": name})
    return redirect("shop:cart")


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    form = CartLineForm(request.POST)
    if form.is_valid():
        carts.cart_set(request.session, key=form.cleaned_data["line"], quantity=form.cleaned_data["quantity"])
        if form.cleaned_data["quantity"] == 0:
            messages.info(request, _("The item was removed from your cart."))
    else:
        messages.error(request, _("Choose a quantity between 0 and %(max)d.") % {"max": carts.MAX_QUANTITY})
    return redirect("shop:cart")


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    form = CartLineForm({"line": request.POST.get("line"), "product": request.POST.get("product"), "quantity": 0})
    if form.is_valid():
        carts.cart_remove(request.session, key=form.cleaned_data["line"])
        messages.info(request, _("The item was removed from your cart."))
    return redirect("shop:cart")


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    summary = carts.cart_summary(request.session)
    if not summary.lines:
        messages.info(request, _("Your cart is empty."))
        return redirect("shop:cart")
    account = request.user if request.user.is_authenticated else None
    providers = payment_providers()
    form = CheckoutForm(request.POST or None, initial=_checkout_initial(account), with_account=account is not None)
    payment = request.POST.get("payment") or next(iter(providers))
    if request.method == "POST" and payment not in providers:
        form.add_error(None, _("Choose how to pay."))
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        save_address = fields.pop("save_address", False)
        try:
            order = order_place(
                quantities={line.product.id: line.quantity for line in summary.lines if line.variant is None},
                variant_quantities={line.variant.id: line.quantity for line in summary.lines if line.variant},
                customer=CustomerData(**fields),
                language=get_language() or "",
                account_id=account.id if account else None,
                payment_method=payment,
            )
        except CheckoutRejected as rejected:
            if rejected.code == ShopErrorCode.OUT_OF_STOCK:
                # Bring the cart down to what is left, so the shopper can decide and try again.
                for line in summary.lines:
                    if line.product.id in rejected.product_ids:
                        (line.variant or line.product).refresh_from_db(fields=["stock_quantity"])
                        carts.cart_set(request.session, key=carts.CartKey.parse(line.key),
                                       quantity=line.stock_quantity)
            messages.error(request, rejected.message)
            return redirect("shop:cart")
        if account is not None and save_address:
            address_add(customer=account, **{k: v for k, v in fields.items() if k != "email"})
        carts.cart_clear(request.session)
        products_acted_on(request.session, product_ids=[line.product.id for line in summary.lines],
                          kind=ActionKind.BUY)
        request.session[ORDERS_KEY] = [order.reference, *request.session.get(ORDERS_KEY, [])][:20]
        request.session.commit_durably = True  # an order just placed: its emptied cart and its reference must last
        return redirect(providers[payment].start(order) or reverse("shop:order_done", args=[order.reference]))
    return render(request, "shop/checkout.html",
                  {"cart": summary, "form": form, "providers": providers.values(), "payment": payment},
                  status=400 if form.is_bound else 200)


@require_http_methods(["GET", "POST"])
def pay_test(request: HttpRequest, reference: str) -> HttpResponse:
    """The test card gateway's page (no real money): the shopper "pays", the gateway signs its notice, and the
    shop believes it only through the same verification a real gateway's callback gets."""
    if reference not in request.session.get(ORDERS_KEY, []):
        raise Http404("no such order in this session")
    order = get_object_or_404(Order, reference=reference, payment_method=PaymentMethod.TEST_CARD)
    if order.paid_at is not None:
        return redirect("shop:order_done", reference=order.reference)
    form = TestCardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        approved = form.cleaned_data["number"] == TEST_CARD_APPROVED
        fields = {
            "reference": order.reference, "amount": str(order.total), "currency": order.currency,
            "outcome": "approved" if approved else "declined", "payment_reference": "test_" + secrets.token_hex(6),
        }
        notice = TestCardGateway().callback({**fields, "signature": signature_for_test_gateway(**fields)})
        order_payment_record(notice=notice)
        if not approved:
            messages.error(request, _("The test card was declined. Nothing was charged; try again."))
            return redirect("shop:pay_test", reference=order.reference)
        return redirect("shop:order_done", reference=order.reference)
    return render(request, "shop/pay_test.html", {"order": order, "form": form}, status=400 if form.is_bound else 200)


@csrf_exempt  # a gateway's server calls this, not a browser; the signature is what is checked
@require_POST
def payment_callback(request: HttpRequest, provider: str) -> HttpResponse:
    providers = payment_providers()
    if provider not in providers:
        raise Http404("no such payment provider")
    try:
        order = order_payment_record(notice=providers[provider].callback(request.POST.dict()))
    except PaymentRefused as refused:
        return HttpResponse(f"refused: {refused}", status=400, content_type="text/plain")
    return HttpResponse(f"ok {order.reference} {order.status}", content_type="text/plain")


def _checkout_initial(account) -> dict:
    """A customer with an account starts from their email and their latest saved address."""
    if account is None:
        return {}
    initial = {"email": account.email}
    address = account.addresses.first()
    if address is not None:
        initial.update(full_name=address.full_name, address=address.address, postcode=address.postcode,
                       city=address.city, country=address.country)
    return initial


def order_done(request: HttpRequest, reference: str) -> HttpResponse:
    if reference not in request.session.get(ORDERS_KEY, []):
        raise Http404("no such order in this session")
    order = get_object_or_404(Order.objects.prefetch_related("lines"), reference=reference)
    return render(request, "shop/order_done.html", {"order": order})


# --- privacy -------------------------------------------------------------------------------------------


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/privacy.html", {
        "vector_days": settings.RECOMMENDATIONS_VECTOR_RETENTION_DAYS,
        "log_days": settings.RECOMMENDATIONS_LOG_RETENTION_DAYS,
    })


@require_POST
def forget(request: HttpRequest) -> HttpResponse:
    """"Forget me": this session's (and, signed in, this account's) searches and clicks are deleted."""
    account_id = request.user.id if request.user.is_authenticated else None
    deleted = session_signals_forget(request.session, account_id=account_id)
    messages.success(request, _("Your search history is forgotten (%(count)d searches deleted).") % {"count": deleted})
    return redirect("shop:privacy")
