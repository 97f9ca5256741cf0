"""What the docs page says beyond the operations: keys, scopes, limits, errors, webhooks."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .errors import error_codes_markdown
from .pagination import MAX_PAGE_SIZE


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "shop.partners.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": "A partner key made by staff in admin. `Authorization: Api-Key <key>` works too.",
        }


DESCRIPTION = """
The shop's catalogue, search by photo and webhooks for partner apps.

## Keys and scopes
Staff create keys in the admin (*Shop → Partner API keys*); the key is shown once and only its hash is
stored. Send it as `X-Api-Key: <key>` (or `Authorization: Api-Key <key>`). Each key has an owner and scopes:

- `read`: categories, products, search, similar products, bought together, near-duplicates, your webhooks;
- `write`: create, change and delete products and their images, register webhooks.

Without a key you may read the public catalogue (published products) and search, at a lower rate.
A partner may change only the products it created; keys of staff users may change all.

## Limits
Requests are counted per key ({key}), per IP address for callers without a key ({anon}), and per IP for
everyone ({ip}), in fixed windows (the current minute, hour...). Over the limit the answer is `429` with a
`Retry-After` header: the seconds until the window ends. Pages hold at most
{max_page} items; a larger `limit` is refused with `400`.

## Errors
Every error has the same body: `{{"code": ..., "message": ..., "details": {{...}}}}`. `details` maps field
names to messages for `invalid`. The codes:

{codes}

## Webhooks
Register a URL with `POST /api/v1/webhooks` for any of `product.created`, `product.updated`,
`image.embedding_ready`, `image.embedding_failed`; the answer holds the endpoint's `secret` (shown once).
Each delivery is a JSON `POST` of `{{"id", "event", "created_at", "data"}}` with the headers `X-Shop-Event`,
`X-Shop-Delivery` (the event id: deliveries may repeat, deduplicate on it) and
`X-Shop-Signature: t=<unix time>,v1=<hex>`, where `<hex>` is HMAC-SHA256 with your secret over
`<unix time>.<raw body>`. Answer with any 2xx; other answers and timeouts are retried with exponential
backoff ({attempts} attempts in all). You hear events about your own products (staff endpoints hear all).
"""


def describe_api(result, generator, request, public):
    rates = settings.SHOP_API_RATES
    result["info"]["description"] = DESCRIPTION.format(
        key=rates["key"],
        anon=rates["anon"],
        ip=rates["ip"],
        max_page=MAX_PAGE_SIZE,
        codes=error_codes_markdown(),
        attempts=settings.SHOP_WEBHOOK_MAX_ATTEMPTS,
    ).strip()
    return result
