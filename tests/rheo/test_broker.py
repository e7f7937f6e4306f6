"""The Redis broker transport (rheo/broker.py) against a real Redis."""

import pytest
from django.conf import settings
from kombu import Connection, Queue

from rheo.broker import RedisTransport, TaskPublisher
from tests.conftest import needs_redis


@pytest.fixture
def broker():
    with Connection(settings.REDIS_URL, transport=RedisTransport) as connection:
        queue = Queue("rheo-broker-test", routing_key="rheo-broker-test")
        yield connection, queue
        queue(connection.default_channel).delete()


@needs_redis
def test_messages_published_through_the_transport_are_delivered_in_order(broker):
    connection, queue = broker
    producer = connection.Producer()

    for n in range(3):
        producer.publish({"n": n}, routing_key=queue.routing_key, declare=[queue])

    simple = connection.SimpleQueue(queue)
    received = []
    for _ in range(3):
        message = simple.get(timeout=2)
        received.append(message.payload["n"])
        message.ack()
    simple.close()
    assert received == [0, 1, 2]


@needs_redis
def test_a_channel_keeps_one_client_until_its_pool_is_replaced(broker):
    connection, _queue = broker
    channel = connection.default_channel

    client = channel._create_client()
    assert channel._create_client() is client

    channel._disconnect_pools()  # what kombu does after a fork
    assert channel._create_client() is not client
    assert channel._create_client().connection_pool is channel.pool


SEND_AROUND_A_DROP = """
import django, redis, sys
django.setup()
from django.conf import settings
from rheo import celery
celery.send("rheo.test_nudge", "first")
celery.send("rheo.test_nudge", "second", countdown=5)
# Redis drops every other client (a restart, a proxy's idle timeout): redis-py's retry
# reconnects the publisher, kombu's publish retry the thread's producer.
redis.Redis.from_url(settings.REDIS_URL).client_kill_filter(_type="normal", skipme=True)
celery.send("rheo.test_nudge", "third")
celery.send("rheo.test_nudge", "fourth", countdown=5)
"""


@needs_redis
def test_tasks_sent_reach_their_queue_after_a_dropped_connection():
    import base64
    import json
    import os
    import subprocess
    import sys

    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("default")
    env = {**os.environ, "CELERY_BROKER_URL": settings.REDIS_URL}
    subprocess.run([sys.executable, "-c", SEND_AROUND_A_DROP], env=env, check=True, timeout=60)

    messages = [json.loads(raw) for raw in client.lrange("default", 0, -1)]
    client.delete("default")
    sent = [
        (m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0], m["headers"]["eta"])
        for m in reversed(messages)
    ]
    assert [(task, args) for task, args, _eta in sent] == [
        ("rheo.test_nudge", ["first"]),
        ("rheo.test_nudge", ["second"]),
        ("rheo.test_nudge", ["third"]),
        ("rheo.test_nudge", ["fourth"]),
    ]
    # The countdowns travelled (through Celery); the others are due at once.
    assert [eta is not None for _task, _args, eta in sent] == [False, True, False, True]
    assert messages[-1]["headers"]["argsrepr"] == "['first']"  # what monitoring shows


def without_ids(message: dict) -> dict:
    """A task message with what differs from one message to the next taken out."""
    per_message = {"id", "root_id", "correlation_id", "delivery_tag", "argsrepr", "origin"}
    return {
        part: (
            {k: v for k, v in value.items() if k not in per_message}
            if isinstance(value, dict)
            else value
        )
        for part, value in message.items()
        if part != "body"
    }


@needs_redis
def test_the_publisher_writes_the_message_celery_would_write():
    import base64
    import json

    import redis

    from rheo.celery import app

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("images")
    app.loader.import_default_modules()  # the tasks registered, as a worker has them
    assert "items.process_item" in app.tasks
    item_id = "5d1c7a8e-0f43-4d0b-9a55-2f7f7b1c0e11"
    # Celery's own message, through kombu's transport (the connection is explicit: Celery
    # prefers CELERY_BROKER_URL, the tests' memory://).
    with app.connection_for_write(settings.REDIS_URL) as connection:
        app.send_task("items.process_item", args=[item_id], connection=connection)
    task_id = TaskPublisher(app, settings.REDIS_URL).send("items.process_item", [item_id])

    ours, celerys = (json.loads(raw) for raw in client.lrange("images", 0, -1))
    client.delete("images")
    assert without_ids(ours) == without_ids(celerys)
    assert ours["headers"]["id"] == ours["headers"]["root_id"] == task_id
    assert ours["properties"]["correlation_id"] == task_id
    assert ours["properties"]["delivery_tag"] != celerys["properties"]["delivery_tag"]
    assert json.loads(base64.b64decode(ours["body"])) == json.loads(
        base64.b64decode(celerys["body"])
    )
    assert ours["headers"]["argsrepr"] == f"['{item_id}']"
    assert ours["headers"]["timelimit"] == [600, 540]  # the task's own limits travel
