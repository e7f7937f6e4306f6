"""Health endpoints, request ids, the error format outside the item views, API docs."""

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def client():
    return APIClient()


def test_healthz_answers_without_touching_anything(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_cache_and_broker(db, client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}


def test_readyz_is_503_naming_an_unreachable_broker(db, client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["broker"]
    assert body["checks"]["database"] == "ok"


def test_every_response_has_a_request_id_and_errors_repeat_it(api_a):
    ok = api_a.put("P1")
    error = api_a.get("NOPE")

    assert ok["X-Request-Id"].startswith("req_")
    assert ok["X-Request-Id"] != error["X-Request-Id"]
    assert error.json()["error"]["requestId"] == error["X-Request-Id"]


def test_a_callers_request_id_is_kept(api_a):
    response = api_a.get("NOPE", HTTP_X_REQUEST_ID="erp-batch-42-item-7")

    assert response["X-Request-Id"] == "erp-batch-42-item-7"
    assert response.json()["error"]["requestId"] == "erp-batch-42-item-7"


def test_an_unsafe_request_id_is_replaced(api_a):
    response = api_a.get("NOPE", HTTP_X_REQUEST_ID="x\r\ninjected: yes")
    assert response["X-Request-Id"].startswith("req_")


def test_one_log_line_per_request_with_its_id(api_a, caplog):
    with caplog.at_level("INFO", logger="rheo.request"):
        response = api_a.put("P1")

    lines = [r.getMessage() for r in caplog.records if r.name == "rheo.request"]
    assert len(lines) == 1
    assert f"request_id={response['X-Request-Id']}" in lines[0]
    assert "method=PUT" in lines[0] and "status=202" in lines[0]


def test_unknown_paths_are_404_in_the_error_format(db, client):
    response = client.get("/integration/v1/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["requestId"] == response["X-Request-Id"]


def test_an_unsupported_method_is_405_in_the_error_format(api_a):
    response = api_a.client.post(
        "/integration/v1/items/P1", HTTP_X_API_KEY=api_a.key, data={}, format="json"
    )

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_the_openapi_schema_describes_every_endpoint_field_alias_and_error(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    item = schema["paths"]["/integration/v1/items/{external_id}"]
    assert set(item) >= {"put", "get", "delete"}
    assert set(item["put"]["responses"]) == {
        "200",  # validateOnly
        *("202", "400", "401", "402", "409", "413", "415", "429"),
    }
    assert "patch" in schema["paths"]["/integration/v1/items/{external_id}/price"]
    assert "patch" in schema["paths"]["/integration/v1/items/{external_id}/status"]
    components = schema["components"]["schemas"]
    put_body = components["ItemInputRequest"]["properties"]
    assert {"title", "price", "shippingCost", "imageUrls", "images", "image_urls"} <= set(put_body)
    assert "Alias of imageUrls" in put_body["images"]["description"]
    assert set(components["ItemOutput"]["properties"]) == {
        "externalId",
        "rheoItemId",
        "rheoStatus",
        "traderaStatus",
        "traderaAdId",
        "traderaAdUrl",
        "price",
        "title",
        "description",
        "enhancedTitle",
        "enhancedDescription",
        "images",
        "issues",
        "sourceVersion",
        "relist",
        "conditionGrade",
        "canonicalGrade",
        "gradeText",
        "guidance",
    }
    batch = schema["paths"]["/integration/v1/items/batch"]
    assert batch["post"]["operationId"] == "upsertItems"
    assert batch["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert {m: batch[m]["operationId"] for m in ("get", "put", "delete")} == {
        "get": "getItemNamedBatch",
        "put": "putItemNamedBatch",
        "delete": "deleteItemNamedBatch",
    }
    assert set(components["HostedImage"]["properties"]) == {
        "url",
        "thumbnailUrl",
        "width",
        "height",
        "sourceUrl",
    }
    assert set(components["ErrorDetail"]["properties"]) == {
        "code",
        "message",
        "fields",
        "requestId",
    }
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }


def test_interactive_docs_are_served_with_their_assets_from_rheo(client):
    page = client.get("/api/docs/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_the_schema_generates_without_a_warning(tmp_path):
    from django.core.management import call_command

    # drf-spectacular fails on any warning: an undocumented field, a type it had to guess.
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/webhook" in (tmp_path / "schema.yaml").read_text()
