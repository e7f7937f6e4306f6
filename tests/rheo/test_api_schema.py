"""The OpenAPI schema (/api/schema/, shown at /api/docs/) states what the server enforces,
describes every operation with examples, and lists the Integration API first."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def body_schema(schema, operation) -> dict:
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_swagger_lists_items_then_webhooks_then_management_and_analytics(schema):
    tags = [tag["name"] for tag in schema["tags"]]
    assert tags == [
        "Items",
        "Events",
        "Management: webhooks",
        "Management: events",
        "Management: auth",
        "Management: API keys",
        "Management: relisting",
        "Management: grade scale",
        "Analytics",
    ]
    in_order = [operation["tags"][0] for _, operation in operations(schema)]
    assert in_order == sorted(in_order, key=tags.index)


def test_every_operation_is_described_with_examples(schema):
    for name, operation in operations(schema):
        assert operation.get("description"), name
        assert "rate_limit_tier" not in operation["description"], name
        if "requestBody" in operation:
            assert operation["requestBody"]["content"]["application/json"].get("examples"), name
        success = next(v for k, v in operation["responses"].items() if k.startswith("2"))
        assert success["content"]["application/json"].get("examples"), name


def test_rate_limited_operations_declare_429_and_mode_ones_400(schema):
    for name, operation in operations(schema):
        if name != "POST /api/v1/auth/token/refresh":  # the one without a rate limit
            assert "429" in operation["responses"], name
        if any(p["name"] == "mode" for p in operation.get("parameters", [])):
            assert "400" in operation["responses"], name


def test_patch_bodies_require_their_field(schema):
    paths = schema["paths"]
    price = body_schema(schema, paths["/integration/v1/items/{external_id}/price"]["patch"])
    status = body_schema(schema, paths["/integration/v1/items/{external_id}/status"]["patch"])
    assert price["required"] == ["price"]
    assert status["required"] == ["status"]


def test_the_item_states_its_image_url_aliases_and_money_format(schema):
    item = body_schema(schema, schema["paths"]["/integration/v1/items/{external_id}"]["put"])
    assert item["oneOf"] == [
        {"required": ["imageUrls"]},
        {"required": ["images"]},
        {"required": ["image_urls"]},
    ]
    price = item["properties"]["price"]
    assert (price["type"], price["multipleOf"], price["minimum"]) == ("number", 0.01, 1)
    assert "2 decimals" in price["description"]
    image_url = item["properties"]["imageUrls"]["items"]
    assert (image_url["format"], image_url["pattern"]) == ("uri", "^https://")
    assert "a.b.c.d" in image_url["description"]


def test_months_plan_and_webhook_url_are_constrained(schema):
    paths = schema["paths"]
    [months] = [
        p for p in paths["/api/v1/analytics/revenue"]["get"]["parameters"] if p["name"] == "months"
    ]
    assert months["schema"] == {"type": "integer", "minimum": 1, "maximum": 36, "default": 12}
    subscription = body_schema(schema, paths["/api/v1/analytics/subscription"]["put"])
    [plan] = subscription["properties"]["plan"]["allOf"]
    assert schema["components"]["schemas"]["PlanEnum"]["enum"] == ["free", "starter", "pro"]
    assert plan == {"$ref": "#/components/schemas/PlanEnum"}
    webhook = body_schema(schema, paths["/api/v1/webhook"]["put"])
    assert webhook["properties"]["url"]["format"] == "uri"
    assert webhook["properties"]["url"]["pattern"] == "^https://"


def test_list_filters_state_their_values(schema):
    parameters = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/v1/deliveries"]["get"]["parameters"]
    }
    assert "AAA" not in parameters["status"]["enum"]
    assert set(parameters["status"]["enum"]) == {"pending", "succeeded", "failed", ""}
    assert parameters["limit"] == {"type": "integer", "minimum": 1, "maximum": 200}


@pytest.mark.parametrize("debug", [True, False])
def test_the_swagger_page_stays_a_page(settings, debug):
    settings.DEBUG = debug
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
