"""An external id in the path that no item can have (a NUL character, which PostgreSQL
cannot store, or over 255 characters) is refused with 400 naming external_id, on every
item route."""

import pytest

from tests.conftest import item_body

pytestmark = pytest.mark.django_db

ROUTES = [
    ("put", "", item_body()),
    ("get", "", None),
    ("delete", "", None),
    ("patch", "/price", {"price": 900}),
    ("patch", "/status", {"status": "sold"}),
    ("post", "/simulate", {"event": "sold"}),
]


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES)
@pytest.mark.parametrize(
    ("external_id", "message"),
    [
        ("ERP%00-1", "Null characters are not allowed."),
        ("x" * 256, "Ensure this field has no more than 255 characters."),
    ],
)
def test_an_impossible_external_id_is_refused_naming_it(
    api_a_test, method, suffix, body, external_id, message
):
    response = api_a_test._call(method, f"{external_id}{suffix}", body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["fields"] == {"external_id": [message]}
