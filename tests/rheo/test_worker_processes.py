"""The worker as the Procfile runs it, as real processes on Redis and PostgreSQL: it keeps
its database connection from one task to the next (as a web process does between
requests), and it takes work that finishes an item before work that starts one."""

# ruff: noqa: F811 - the real-worker fixtures of tests/items/test_worker_failures.py

import re
import shlex
import subprocess
import sys

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection

from items.models import Item
from tests.conftest import item_body, needs_postgres, needs_redis
from tests.items.imagehost import jpeg_bytes
from tests.items.test_worker_failures import (  # noqa: F401
    ROOT,
    host,
    processes,
    wait_for,
)

pytestmark = [needs_postgres, needs_redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker_url():
    """The workers' broker: the tests' own Redis database, its queues emptied (not the
    database test_worker_failures.py shares, which another checkout's tests may flush)."""
    redis.Redis.from_url(settings.REDIS_URL).delete("default", "tradera", "images")
    return settings.REDIS_URL


def worker_backends() -> set[int]:
    """PostgreSQL backends on this test's database other than the test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return {pid for (pid,) in cursor.fetchall()}


def test_a_worker_keeps_its_database_connection_between_tasks(api_a, host, processes):
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


def procfile_queues() -> str:
    line = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("worker:")
    )
    return next(a for a in shlex.split(line) if a.startswith("--queues=")).split("=", 1)[1]


def test_the_worker_publishes_to_tradera_before_it_starts_more_image_jobs(
    broker_url, processes, tmp_path
):
    # A burst of image jobs is waiting when two Tradera publishes arrive. (The
    # connection is explicit: Celery prefers CELERY_BROKER_URL, the tests' memory://.)
    with Celery() as app, app.connection_for_write(broker_url) as broker:
        for n in range(3):
            job = f"00000000-0000-0000-0000-00000000000{n}"
            app.send_task("items.process_item", args=[job], queue="images", connection=broker)
        for n in range(2):
            app.send_task(
                "tradera.publish_listing", args=[n + 1], queue="tradera", connection=broker
            )
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "rheo", "worker", "-n", "order@%h",
               f"--queues={procfile_queues()}", "--concurrency=1", "--loglevel=INFO",
               f"--logfile={log}"]  # fmt: skip
    worker = subprocess.Popen(command, cwd=ROOT, env=processes.env, start_new_session=True)
    processes.running.append(worker)

    def received() -> list[str]:
        text = log.read_text() if log.exists() else ""
        return re.findall(r"Task ([\w.]+)\[[^\]]+\] received", text)

    assert wait_for(lambda: len(received()) == 5), log.read_text()[-3000:]
    assert received() == ["tradera.publish_listing"] * 2 + ["items.process_item"] * 3
