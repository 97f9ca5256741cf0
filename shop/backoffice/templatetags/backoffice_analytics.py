"""``{{ share|percent }}`` on the analytics page, written as its charts write it."""

from django import template

from ..analytics import percent as _percent

register = template.Library()


@register.filter
def percent(value: float | None) -> str:
    return _percent(value)
