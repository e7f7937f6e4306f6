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
