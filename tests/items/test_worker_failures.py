"""At-least-once with real processes: a Celery worker and beat on Redis and PostgreSQL,
killed and starved, and the item still becomes active, exactly once."""

import threading

import pytest
import redis
from celery import Celery
from django.conf import settings

from items.models import Item, ItemImage, StoredImage
from tests.conftest import item_body, needs_postgres, needs_redis
from tests.items.imagehost import ImageHost, jpeg_bytes
from tests.items.processes import Processes, wait_for

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


@pytest.fixture
def processes(broker_url, tmp_path):
    p = Processes(broker_url, tmp_path)
    yield p
    p.stop_all()


def is_active(item_id) -> bool:
    return Item.objects.get(pk=item_id).status == Item.Status.ACTIVE


def test_a_redis_that_restarts_empty_loses_no_item(api_a, host, broker_url, processes):
    url = host.serve("/part.jpg", jpeg_bytes())
    item_id = api_a.put("ERP-1", item_body(imageUrls=[url])).json()["itemId"]
    # The job's nudge reaches Redis; then Redis restarts and has forgotten it.
    with Celery(broker=broker_url) as elsewhere:
        elsewhere.send_task("items.process_item", args=[item_id], queue="images")
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
