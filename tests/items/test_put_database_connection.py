"""A PUT that creates an item on PostgreSQL, on a persistent connection the server has
closed: Django's health check before the request's first query (the API key's lookup)
finds it closed, and the request goes on with a new one."""

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
    assert connection.connection is not None and not connection.health_check_done


@pytest.fixture
def health_checks(monkeypatch):
    """Counts Django's health checks (a `SELECT 1` round trip each)."""
    calls = []
    is_usable = connection.is_usable

    def counted():
        calls.append(1)
        return is_usable()

    monkeypatch.setattr(connection, "is_usable", counted)
    return calls


def test_a_create_on_a_connection_postgresql_has_closed_creates_the_item_on_a_new_one(
    api_a, health_checks
):
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
    assert len(health_checks) == 1
