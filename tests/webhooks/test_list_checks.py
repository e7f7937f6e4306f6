"""The delivery log's and events' filters and pages: a value the API does not know is a
400 naming the parameter, never a 404 or a 500."""

import base64

import pytest

pytestmark = pytest.mark.django_db


def refused(response, field: str) -> list[str]:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return error["fields"][field]


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/api/v1/deliveries", "status", "AAA"),
        ("/api/v1/deliveries", "status", "delivered%00"),
        ("/api/v1/deliveries", "eventType", "item.exploded"),
        ("/api/v1/deliveries", "externalId", "ERP%00-1"),
        ("/api/v1/events", "externalId", "ERP%00-1"),
        ("/api/v1/events", "eventType", "AAA"),
        ("/api/v1/events", "externalId", "%0D" + "x" * 255),  # 256 characters, untrimmed
        ("/api/v1/events", "type", "item.sold,item.exploded"),
        ("/api/v1/events", "after", "evt_01jee5x3k7q9r2m4n6p8s0t1v3"),  # no such event
        ("/api/v1/events", "after", "garbage"),
        ("/api/v1/events", "createdAfter", "2026-13-45"),
        ("/api/v1/events", "mode", "both"),
        ("/integration/v1/events", "after", "evt_01jee5x3k7q9r2m4n6p8s0t1v3"),
        ("/integration/v1/events", "type", "AAA"),
        ("/integration/v1/events", "limit", "201"),
    ],
)
def test_an_unknown_or_impossible_filter_value_is_refused(dashboard_a, api_a, path, field, value):
    if path.startswith("/integration/"):
        response = api_a.client.get(f"{path}?{field}={value}", HTTP_X_API_KEY=api_a.key)
    else:
        response = dashboard_a.get(f"{path}?{field}={value}")
    assert refused(response, field)


@pytest.mark.parametrize("path", ["/api/v1/deliveries"])
@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        base64.b64encode(b"p=notadate").decode(),
        base64.b64encode(b"o=0&r=0&p=2026-13-45T00:00:00").decode(),
    ],
)
def test_a_cursor_rheo_did_not_make_is_refused(dashboard_a, path, cursor):
    messages = refused(dashboard_a.get(path, {"cursor": cursor}), "cursor")
    assert messages == ["Invalid cursor: use the next or previous link of a page."]


@pytest.mark.parametrize("limit", ["0", "201", "ten", "-1"])
def test_a_page_size_out_of_range_is_refused(dashboard_a, limit):
    assert refused(dashboard_a.get("/api/v1/events", {"limit": limit}), "limit") == [
        "Must be an integer from 1 to 200."
    ]


def test_empty_filters_and_a_valid_limit_list_everything(dashboard_a):
    response = dashboard_a.get("/api/v1/deliveries?status=&eventType=&externalId=&limit=200")
    assert response.status_code == 200
    assert response.json()["results"] == []
