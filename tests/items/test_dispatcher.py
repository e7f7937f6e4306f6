"""The job dispatcher (items/dispatch.py) on PostgreSQL: a PUT only writes its item row, due
and not yet nudged, and the dispatcher publishes the job's nudge when the row commits.
Real `manage.py dispatch_jobs` processes on a real Redis: the job reaches the queue through
them, what was made due while they were down is sent when one starts, two of them never
send one item twice, and a broker that is down holds the job back until it answers."""

import shutil

import kombu
import pytest
import redis
from django.conf import settings

from items.models import Item
from tests.conftest import needs_postgres, needs_redis
from tests.items.processes import Processes, free_port, wait_for

pytestmark = [needs_postgres]


@pytest.fixture(autouse=True)
def _dispatcher_in_use(settings):
    settings.RHEO_JOB_DISPATCHER = True


@pytest.fixture
def broker_url():
    """The dispatcher processes' broker: this test run's own Redis database (REDIS_URL),
    with its images queue empty."""
    redis.Redis.from_url(settings.REDIS_URL).delete("images")
    return settings.REDIS_URL


@pytest.fixture
def processes(broker_url, tmp_path):
    p = Processes(broker_url, tmp_path)
    yield p
    p.stop_all()


def queued(broker_url: str) -> list[tuple[str, list]]:
    """Takes every message off the images queue: [(task name, args)]."""
    found = []
    with kombu.Connection(broker_url) as conn:  # not Celery(broker=): the env's URL wins there
        simple = conn.SimpleQueue("images")
        while True:
            try:
                message = simple.get(block=False)
            except simple.Empty:
                break
            found.append((message.headers["task"], message.payload[0]))
            message.ack()
        simple.close()
    return found


def queue_length(broker_url: str) -> int:
    return redis.Redis.from_url(broker_url).llen("images")


def answers(url: str) -> bool:
    try:
        return redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        return False


def un_nudged() -> int:
    return Item.objects.filter(processing_nudged_at__isnull=True).count()


def test_the_sweeper_sends_a_job_the_dispatcher_never_sent_and_then_it_sends_nothing(
    api_a, committed, broker_messages, dispatcher, worker
):
    with committed():
        item_id = api_a.put("ERP-1").json()["itemId"]

    assert worker.sweep_items() == 1  # the dispatcher is down
    assert broker_messages("images") == [("items.process_item", [item_id])]
    assert dispatcher() == 0  # back up: the sweeper's nudge counts
    assert broker_messages("images") == []


@pytest.mark.usefixtures("transactional_db")
@needs_redis
def test_a_puts_job_reaches_the_queue_through_the_running_dispatcher(api_a, processes, broker_url):
    processes.dispatcher()

    item_id = api_a.put("ERP-1").json()["itemId"]

    # Well before the dispatcher's idle catch-up (10 s): it was notified.
    assert wait_for(lambda: queue_length(broker_url) == 1, timeout=5)
    assert queued(broker_url) == [("items.process_item", [item_id])]
    assert un_nudged() == 0


@pytest.mark.usefixtures("transactional_db")
@needs_redis
def test_a_job_made_due_while_the_dispatcher_was_down_is_sent_when_it_starts(
    api_a, processes, broker_url
):
    item_id = api_a.put("ERP-1").json()["itemId"]
    assert queue_length(broker_url) == 0

    processes.dispatcher()  # returns once it listens, after catching up

    assert queued(broker_url) == [("items.process_item", [item_id])]
    assert un_nudged() == 0


@pytest.mark.usefixtures("transactional_db")
@needs_redis
def test_two_dispatchers_never_send_one_item_twice(api_a, api_b, processes, broker_url):
    processes.dispatcher("dispatcher-1")
    processes.dispatcher("dispatcher-2")

    ids = [api.put(f"ERP-{n}").json()["itemId"] for n in range(10) for api in (api_a, api_b)]

    # A dispatcher publishes before its claim commits: once no row is left un-nudged,
    # every message that will ever be sent is in the queue.
    assert wait_for(lambda: un_nudged() == 0)
    sent = queued(broker_url)
    assert sorted(args[0] for _task, args in sent) == sorted(ids)


@pytest.mark.usefixtures("transactional_db")
@needs_redis
def test_a_broker_that_is_down_holds_the_job_back_until_it_answers(api_a, processes):
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        pytest.skip("needs the redis-server program to start a broker of its own")
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    processes.dispatcher(CELERY_BROKER_URL=broker)

    item_id = api_a.put("ERP-1").json()["itemId"]

    assert wait_for(lambda: "failed" in processes.log("dispatcher"))
    assert un_nudged() == 1  # the claim was rolled back with the failed publish
    processes.start(
        "redis", [redis_server, "--port", str(port), "--save", "", "--appendonly", "no"]
    )
    assert wait_for(lambda: answers(broker))
    assert wait_for(lambda: queue_length(broker) == 1)
    assert wait_for(lambda: un_nudged() == 0)
    assert queued(broker) == [("items.process_item", [item_id])]
