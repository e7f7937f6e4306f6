"""A real Celery worker keeps its PostgreSQL connection from one task to the next (as a
web process does between requests), instead of opening a new one for every task."""

import pytest
from django.db import connection

from items.models import Item
from tests.conftest import item_body, needs_postgres, needs_redis
from tests.items.imagehost import jpeg_bytes
from tests.items.test_worker_failures import broker_url, host, processes, wait_for  # noqa: F401

pytestmark = [needs_postgres, needs_redis, pytest.mark.django_db(transaction=True)]


def worker_backends() -> set[int]:
    """PostgreSQL backends on this test's database other than the test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return {pid for (pid,) in cursor.fetchall()}


def test_a_worker_keeps_its_database_connection_between_tasks(api_a, host, processes):  # noqa: F811
    processes.env["DJANGO_SETTINGS_MODULE"] = "rheo.settings"  # CONN_MAX_AGE as deployed
    processes.worker("w1")
    processes.beat()  # its sweeper brings the jobs to the worker
    first, second = (host.serve(f"/{n}.jpg", jpeg_bytes()) for n in (1, 2))

    one = api_a.put("ERP-1", item_body(imageUrls=[first])).json()["itemId"]
    assert wait_for(lambda: Item.objects.get(pk=one).status == Item.Status.ACTIVE)
    assert wait_for(lambda: worker_backends()), "the worker closed its connection"
    kept = worker_backends()

    two = api_a.put("ERP-2", item_body(imageUrls=[second])).json()["itemId"]
    assert wait_for(lambda: Item.objects.get(pk=two).status == Item.Status.ACTIVE)

    assert worker_backends() == kept
