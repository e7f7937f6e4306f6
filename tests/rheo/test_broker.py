"""The Redis broker transport (rheo/broker.py) against a real Redis."""

import pytest
from django.conf import settings
from kombu import Connection, Queue

from rheo.broker import RedisTransport
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


SEND_TWICE = """
import django, redis, sys
django.setup()
from django.conf import settings
from rheo import celery
celery.send("rheo.test_nudge", "first")
# Redis drops every other client (a restart, a proxy's idle timeout): kombu's publish
# retry reconnects the thread's producer.
redis.Redis.from_url(settings.REDIS_URL).client_kill_filter(_type="normal", skipme=True)
celery.send("rheo.test_nudge", "second", countdown=5)
"""


@needs_redis
def test_tasks_sent_through_the_threads_producer_reach_their_queue_after_a_dropped_connection():
    import base64
    import json
    import os
    import subprocess
    import sys

    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("default")
    env = {**os.environ, "CELERY_BROKER_URL": settings.REDIS_URL}
    subprocess.run([sys.executable, "-c", SEND_TWICE], env=env, check=True, timeout=60)

    messages = [json.loads(raw) for raw in client.lrange("default", 0, -1)]
    client.delete("default")
    sent = [
        (m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0])
        for m in reversed(messages)
    ]
    assert sent == [("rheo.test_nudge", ["first"]), ("rheo.test_nudge", ["second"])]
    assert messages[0]["headers"]["eta"] is not None  # the countdown travelled
    assert messages[-1]["headers"]["argsrepr"] == "['first']"  # what monitoring shows
