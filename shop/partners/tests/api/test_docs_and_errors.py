"""The docs page works offline, the schema documents keys, limits, webhooks and every error code."""

import re

import pytest
import yaml

from shop.api.errors import ErrorCode
from shop.partners.tests.api.fixtures import api, key_for

pytestmark = pytest.mark.django_db


def test_docs_page_loads_its_assets_from_the_shop_not_a_cdn(client):
    page = client.get("/api/v1/docs/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "cdn" not in html.lower() and "https://" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assets = set(re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", html))
    assert len(assets) >= 3  # the bundle, the preset and the stylesheet at least
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    # no inline script: the page runs under the production Content-Security-Policy (script-src 'self')
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    (start_script,) = re.findall(r"""<script src=["'](/api/v1/docs/\?[^"']+)["']""", html)
    script = client.get(start_script.replace("&amp;", "&"))
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def test_schema_lists_every_operation_the_key_scheme_and_every_error_code(client):
    schema = yaml.safe_load(client.get("/api/v1/schema/").content)

    operations = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert operations == {
        ("/api/v1/categories", "get"),
        ("/api/v1/categories/suggest", "post"),
        ("/api/v1/products", "get"),
        ("/api/v1/products", "post"),
        ("/api/v1/products/bulk", "post"),
        ("/api/v1/products/{product_id}", "get"),
        ("/api/v1/products/{product_id}", "patch"),
        ("/api/v1/products/{product_id}", "delete"),
        ("/api/v1/products/{product_id}/images", "post"),
        ("/api/v1/products/{product_id}/images/{image_id}", "delete"),
        ("/api/v1/products/{product_id}/variants", "post"),
        ("/api/v1/products/{product_id}/variants/{variant_id}", "patch"),
        ("/api/v1/products/{product_id}/variants/{variant_id}", "delete"),
        ("/api/v1/products/{product_id}/similar", "get"),
        ("/api/v1/products/{product_id}/bought-together", "get"),
        ("/api/v1/images/{image_id}/near-duplicates", "get"),
        ("/api/v1/search/image", "post"),
        ("/api/v1/search", "get"),
        ("/api/v1/search/explain", "post"),
        ("/api/v1/search/actions", "post"),
        ("/api/v1/identify", "post"),
        ("/api/v1/identify/jobs", "post"),
        ("/api/v1/identify/jobs/{job_id}", "get"),
        ("/api/v1/webhooks", "get"),
        ("/api/v1/webhooks", "post"),
        ("/api/v1/webhooks/{endpoint_id}", "get"),
        ("/api/v1/webhooks/{endpoint_id}", "delete"),
        ("/api/v1/webhooks/{endpoint_id}/deliveries", "get"),
    }
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "A partner key made by staff in admin. `Authorization: Api-Key <key>` works too.",
    }
    description = schema["info"]["description"]
    for code in ErrorCode:
        assert f"`{code.value}`" in description
    assert "X-Shop-Signature: t=<unix time>,v1=<hex>" in description
    error_codes = schema["components"]["schemas"]["ErrorOutput"]["properties"]["code"]
    assert "$ref" in error_codes or "enum" in error_codes


def test_malformed_json_and_wrong_media_type_get_the_error_shape(partner):
    client = api(key_for(partner, "read", "write"))

    malformed = client.post("/api/v1/products", b"{not json", content_type="application/json")
    wrong_type = client.post("/api/v1/products", b"sku=1", content_type="text/plain")
    wrong_method = client.put("/api/v1/products", {}, format="json")

    assert (malformed.status_code, malformed.json()["code"]) == (400, "malformed_request")
    assert (wrong_type.status_code, wrong_type.json()["code"]) == (415, "unsupported_media_type")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "method_not_allowed")
    for response in (malformed, wrong_type, wrong_method):
        assert set(response.json()) == {"code", "message", "details"}
