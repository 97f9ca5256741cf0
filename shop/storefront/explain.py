""""Why this?" on the photo-search results: on demand only, for the shopper who asks.

The server keeps a search's vectors for 30 minutes (visualsearch.querycache), never the photo, and a heat map needs
the photo's pixels: so the page sends the (cropped) photo it still holds with the result's picture id, and gets back
a small panel: both pictures with where they look alike, the concepts both show, the colours both have. Nothing is
stored; a shopper who does not ask costs nothing.
"""

from __future__ import annotations

import base64

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language, gettext as _
from django.views.decorators.http import require_POST

from visualsearch.colours import BY_KEY
from visualsearch.errors import ErrorCode, ImageRejected
from visualsearch.explanations import explanation_jpegs, match_explain


class WhyThisForm(forms.Form):
    image = forms.FileField()
    image_id = forms.IntegerField(min_value=1)


def _data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


@require_POST
def photo_why(request: HttpRequest) -> HttpResponse:
    """POST ``image`` (the photo searched) and ``image_id`` (a result's picture): the explanation panel (HTML)."""
    form = WhyThisForm(request.POST, request.FILES)
    if not form.is_valid():
        message = _(ImageRejected(ErrorCode.IMAGE_MISSING).message) if "image" in form.errors else _(
            "This result cannot be explained.")
        return render(request, "shop/_why_this.html", {"error": message}, status=400)
    try:
        explained = match_explain(data=form.cleaned_data["image"].read(), image_id=form.cleaned_data["image_id"])
    except ImageRejected as error:
        return render(request, "shop/_why_this.html", {"error": error.message_in(_)}, status=400)
    if explained is None or not explained.image.product.is_published:
        return render(request, "shop/_why_this.html", {"error": _("This result cannot be explained.")}, status=404)
    chinese = (get_language() or "").lower().startswith("zh")
    query_jpeg, match_jpeg = explanation_jpegs(explained)
    return render(request, "shop/_why_this.html", {
        "product": explained.image.product,
        "query_src": _data_uri(query_jpeg),
        "match_src": _data_uri(match_jpeg),
        "concepts": [(chinese_name if chinese else english, round(100 * strength))
                     for english, chinese_name, strength in explained.shared_concepts],
        "colours": [(BY_KEY[key].chinese if chinese else BY_KEY[key].english, "#%02x%02x%02x" % BY_KEY[key].rgb)
                    for key in explained.shared_colours],
    })
