"""At-least-once with real processes: a Celery worker and beat on Redis and PostgreSQL,
killed and starved, and the item still becomes active, exactly once."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import kombu
import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection

from items.models import Item, ItemImage, StoredImage
from tests.conftest import item_body, needs_postgres, needs_redis
from tests.items.imagehost import ImageHost, jpeg_bytes

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [needs_postgres, needs_redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker_url():
    """A Redis database of the tests' own for the real worker's broker, empty."""
    url = settings.REDIS_URL.rsplit("/", 1)[0] + "/5"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def host():
    h = ImageHost()
    yield h
    h.close()


class Processes:
    """Celery worker and beat as the Procfile runs them, on this test's database."""

    def __init__(self, broker_url: str, folder: Path):
        self.folder = folder
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "rheo.settings_test",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
            "CELERY_BROKER_URL": broker_url,
            "RHEO_VAR_DIR": str(folder),
            "RHEO_SWEEP_SECONDS": "0.5",
            "RHEO_NUDGE_GRACE_SECONDS": "1",
            "RHEO_LEASE_SECONDS": "3",
        }
        self.running: list[subprocess.Popen] = []

    def start(self, *args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "rheo", *args, "--loglevel=WARNING"],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,  # its own process group: killed whole, children too
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.running.append(process)
        return process

    def worker(self, name: str) -> subprocess.Popen:
        return self.start("worker", "-n", f"{name}@%h", "-Q", "images,default", "-c", "1")

    def beat(self) -> subprocess.Popen:
        return self.start("beat", "-s", str(self.folder / "beat-schedule"))

    def kill(self, process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                self.kill(process)


@pytest.fixture
def processes(broker_url, tmp_path):
    p = Processes(broker_url, tmp_path)
    yield p
    p.stop_all()


def wait_for(predicate, timeout=40.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def is_active(item_id) -> bool:
    return Item.objects.get(pk=item_id).status == Item.Status.ACTIVE


def test_a_redis_that_restarts_empty_loses_no_item(api_a, host, broker_url, processes):
    url = host.serve("/part.jpg", jpeg_bytes())
    item_id = api_a.put("ERP-1", item_body(imageUrls=[url])).json()["itemId"]
    # The job's nudge reaches Redis; then Redis restarts and has forgotten it. (Through a
    # producer of its own: Celery(broker=...) would take the tests' in-memory broker from
    # CELERY_BROKER_URL in the environment.)
    with Celery(broker=broker_url) as elsewhere, kombu.Connection(broker_url) as conn:
        elsewhere.send_task(
            "items.process_item", args=[item_id], queue="images", producer=conn.Producer()
        )
    assert redis.Redis.from_url(broker_url).llen("images") == 1
    redis.Redis.from_url(broker_url).flushdb()

    processes.worker("w1")
    processes.beat()

    assert wait_for(lambda: is_active(item_id)), "the sweeper never re-sent the work"
    assert host.hits == {"/part.jpg": 1}


def test_a_worker_killed_mid_job_finishes_after_restart_without_duplicates(api_a, host, processes):
    first_request = threading.Event()
    go_on = threading.Event()

    def answer(hit):
        if hit == 1:
            first_request.set()
            go_on.wait(30)  # the worker is killed while it waits here
        return 200, jpeg_bytes()

    url = host.serve("/part.jpg", answer)
    item_id = api_a.put("ERP-1", item_body(imageUrls=[url])).json()["itemId"]
    worker = processes.worker("w1")
    processes.beat()
    assert first_request.wait(40), "no worker started the job"

    processes.kill(worker)  # SIGKILL, mid-download
    go_on.set()
    item = Item.objects.get(pk=item_id)
    assert item.status == Item.Status.DRAFT
    assert item.processing_locked_until is not None  # the dead worker's lease

    processes.worker("w2")
    assert wait_for(lambda: is_active(item_id)), "the job never finished after the restart"
    assert host.hits["/part.jpg"] == 2
    assert ItemImage.objects.filter(item_id=item_id).count() == 1
    assert StoredImage.objects.count() == 1
    assert api_a.get("ERP-1").json()["images"][0]["sourceUrl"] == url
