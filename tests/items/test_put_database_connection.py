"""A PUT when PostgreSQL restarts: on a connection it has closed the PUT goes through on
a new one; while it is down the PUT answers 503 with Retry-After, never a 500."""

import psycopg
import pytest
from django.db import connection

from items.models import Item
from tests.conftest import item_body, needs_postgres

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]


def new_request() -> None:
    """What Django does for the connection when a request starts (the test client leaves
    it out): a persistent connection, as deployed (CONN_MAX_AGE; the tests' is 0), is
    checked again before the request's first query."""
    connection.close_at = None
    connection.close_if_unusable_or_obsolete()


def test_a_put_on_a_connection_postgresql_has_closed_creates_the_item_on_a_new_one(api_a):
    api_a.put("ERP-0", item_body())
    backend = connection.connection.info.backend_pid
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname=connection.settings_dict["NAME"]
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend])
    new_request()

    response = api_a.put("ERP-1", item_body())

    assert response.status_code == 202
    assert response.json()["message"] == "Item is being processed in the background."
    assert Item.objects.filter(external_id="ERP-1").count() == 1
    assert connection.connection.info.backend_pid != backend


@pytest.fixture
def database_down():
    """PostgreSQL unreachable: the connection closed, and nothing listening where the
    next one would go (port 1), as while the server restarts."""
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = 1
    yield
    connection.close()
    connection.settings_dict["PORT"] = port


def test_while_postgresql_is_down_a_put_answers_503_with_retry_after(api_a, database_down):
    response = api_a.put("ERP-1", item_body())

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert "retry" in error["message"]
