"""Limit/offset pages with a hard maximum size: a larger ``limit`` is refused (400), never silently cut."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.utils.urls import remove_query_param, replace_query_param

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


class PageInputSerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE, help_text=f"page size, at most {MAX_PAGE_SIZE}"
    )
    offset = serializers.IntegerField(min_value=0, max_value=10_000_000, default=0)


def page_output_serializer(name: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """A named page serializer (``<name>PageOutput``) for the schema."""
    return type(
        f"{name}PageOutputSerializer",
        (serializers.Serializer,),
        {
            "count": serializers.IntegerField(),
            "limit": serializers.IntegerField(),
            "offset": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
        },
    )


def page(*, request, queryset, limit: int, offset: int) -> dict:
    """One page of ``queryset`` with its links; ``results`` holds model instances for the output serializer."""
    count = queryset.count()
    items = list(queryset[offset : offset + limit])
    url = request.build_absolute_uri()
    next_url = replace_query_param(url, "offset", offset + limit) if offset + limit < count else None
    if offset <= 0:
        previous_url = None
    elif offset - limit <= 0:
        previous_url = remove_query_param(url, "offset")
    else:
        previous_url = replace_query_param(url, "offset", offset - limit)
    return {"count": count, "limit": limit, "offset": offset, "next": next_url, "previous": previous_url, "results": items}
