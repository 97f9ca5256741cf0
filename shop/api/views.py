"""The API's own answers: JSON 404 for every path under /api/v1/ that no operation matched."""

from __future__ import annotations

from django.http import JsonResponse
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from .errors import ErrorCode


@csrf_exempt  # the API takes no cookies: a POST to a wrong path gets the JSON 404, not the CSRF page
def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/v1/ (and ids that are not numbers) get the JSON error shape, not an HTML page."""
    return JsonResponse(
        {"code": ErrorCode.NOT_FOUND.value, "message": "No such API path.", "details": {}}, status=404
    )


# Included last under /api/v1/ (see shop/urls.py): whatever no other API path matched.
not_found = [re_path(r"^[\s\S]*$", api_not_found, name="api-not-found")]  # [\s\S]: paths may hold %0A
