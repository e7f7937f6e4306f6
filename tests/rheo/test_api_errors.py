"""Every answer under /integration/ and /api/ is JSON in the error format, with or
without DEBUG; the dashboard and marketplace keep their HTML pages."""

import pytest
from django.test import Client

from rheo.errors import MAX_HEADER_FIELD_BYTES, MAX_HEADER_FIELDS, MAX_URL_LENGTH

pytestmark = pytest.mark.django_db


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["success"] is False
    assert body["error"]["requestId"] == response["X-Request-Id"]
    return body["error"]


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    "path", ["/integration/v1/nope", "/integration/v2/items/x", "/api/v1/nope", "/api/"]
)
def test_an_unknown_api_path_is_a_json_404(settings, debug, path):
    settings.DEBUG = debug
    error = error_of(Client().get(path), 404)
    assert error == {**error, "code": "not_found", "message": f"No endpoint at {path}."}


@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_page_elsewhere_stays_html(settings, debug):
    settings.DEBUG = debug
    response = Client().get("/dashboard/nope")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("debug", [True, False])
def test_a_method_an_endpoint_does_not_have_is_a_json_405(settings, debug, api_a):
    settings.DEBUG = debug
    response = api_a.client.delete("/integration/v1/items/X/price", HTTP_X_API_KEY=api_a.key)
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert response["Allow"] == "PATCH, OPTIONS"


@pytest.mark.urls("tests.rheo.boom_urls")
@pytest.mark.parametrize("debug", [True, False])
def test_a_failure_is_a_json_500_without_the_traceback(settings, debug):
    settings.DEBUG = debug
    response = Client(raise_request_exception=False).get("/integration/v1/boom")
    error = error_of(response, 500)
    assert error["code"] == "internal_error"
    assert b"secret detail" not in response.content
    assert b"Traceback" not in response.content


def test_an_over_long_url_is_a_json_414():
    path = "/integration/v1/items/" + "x" * MAX_URL_LENGTH
    error = error_of(Client().get(path), 414)
    assert error["code"] == "uri_too_long"
    assert str(MAX_URL_LENGTH) in error["message"]


def test_too_many_headers_are_a_json_431():
    headers = {f"X-Extra-{n}": "1" for n in range(MAX_HEADER_FIELDS + 1)}
    error = error_of(Client(headers=headers).get("/api/v1/webhook"), 431)
    assert error["code"] == "headers_too_large"


def test_an_over_long_header_is_a_json_431_naming_it():
    headers = {"X-Erp-Trace": "t" * MAX_HEADER_FIELD_BYTES}
    error = error_of(Client(headers=headers).get("/integration/v1/items/X"), 431)
    assert (
        error["message"] == f"The X-Erp-Trace header is longer than {MAX_HEADER_FIELD_BYTES} bytes."
    )


def test_the_limits_leave_ordinary_requests_alone(api_a):
    long_but_fine = "x" * 255
    response = api_a.get(long_but_fine, HTTP_X_ERP_TRACE="t" * 1000)
    assert error_of(response, 404)["code"] == "not_found"  # the item's 404, not a limit
