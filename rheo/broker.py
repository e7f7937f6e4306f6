"""Rheo on a Redis broker: kombu's transport, keeping one redis-py client per channel
instead of building one for every command; and a publisher that sends a task in one LPUSH.

kombu's Redis channel creates a new `redis.Redis` (on the channel's shared connection
pool) for each command it sends, every publish included. Building one copies redis-py's
table of ~170 response callbacks: about twice the CPU of the LPUSH itself, on every PUT that
enqueues an image job. A client holds no state of its own beyond its pool, so one client
per pool does the same work. settings.py selects this transport for redis:// and
rediss:// brokers.
"""

import base64
import uuid
from dataclasses import dataclass

import redis
from celery.utils.nodenames import anon_nodename
from kombu.transport import redis as kombu_redis
from kombu.utils import json
from redis.backoff import NoBackoff
from redis.retry import Retry


class Channel(kombu_redis.Channel):
    _sync_client = None

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        # kombu replaces the pool after a fork or a disconnect; a client follows it.
        if self._sync_client is None or self._sync_client.connection_pool is not self.pool:
            self._sync_client = super()._create_client()
        return self._sync_client


class RedisTransport(kombu_redis.Transport):
    Channel = Channel


class TaskPublisher:
    """Sends a task message to a Redis broker with one LPUSH, in the very form kombu's
    Redis transport would write it, without Celery's and kombu's work per message.

    Sending a task through Celery costs ~400 µs of CPU here, of which the LPUSH is a
    quarter: the rest is send_task's option handling, routing and result object, and
    kombu's serialization, retry wrapper and virtual exchange. Every PUT that creates an
    item sends one, so that machinery was the largest part of a PUT that was its own
    (bench/README.md). The message is Celery's own (its protocol 2, built by Celery's
    `as_task_v2`), with the queue its router chooses and the time limits the task declares,
    looked up once per task name, as send_task would look them up; only the
    envelope, the transport's wire format, is written here (tests/rheo/test_broker.py
    compares it with what Celery sends). Tasks with an ETA still go through Celery."""

    def __init__(self, app, url: str):
        self.app = app
        # The sending thread's own connection (rheo.celery keeps a publisher per thread),
        # made anew and the command sent again when Redis has dropped it or not answered
        # in time (a duplicate nudge does nothing).
        self.client = redis.Redis.from_url(
            url,
            single_connection_client=True,
            retry=Retry(NoBackoff(), 1),
            socket_timeout=5,
            socket_connect_timeout=5,
        )
        self.origin = anon_nodename()
        self.routes: dict[str, _Route] = {}

    def send(self, task_name: str, args: list) -> str:
        task_id = str(uuid.uuid4())
        route = self.routes.get(task_name) or self._route(task_name)
        queue = route.queue
        message = self.app.amqp.as_task_v2(
            task_id,
            task_name,
            args=args,
            # What monitoring shows: ids, for which repr() does what Celery's saferepr does.
            argsrepr=repr(args),
            kwargsrepr="{}",
            origin=self.origin,
            reply_to=self.app.thread_oid,
            ignore_result=None,
            time_limit=route.time_limit,
            soft_time_limit=route.soft_time_limit,
        )
        body = base64.b64encode(json.dumps(message.body).encode()).decode()
        envelope = {
            "body": body,
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": message.headers,
            "properties": {
                **message.properties,
                "delivery_mode": 2,  # persistent
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
        # The default exchange delivers to the queue its routing key names; priority 0
        # lives in the list of the queue's own name.
        self.client.lpush(queue, json.dumps(envelope))
        return task_id

    def _route(self, task_name: str) -> "_Route":
        task = self.app.tasks.get(task_name)  # registered where its tasks.py was imported
        route = _Route(
            queue=self.app.amqp.router.route({}, task_name, task_type=task)["queue"].name,
            time_limit=getattr(task, "time_limit", None),
            soft_time_limit=getattr(task, "soft_time_limit", None),
        )
        self.routes[task_name] = route
        return route


@dataclass(frozen=True)
class _Route:
    queue: str
    time_limit: float | None
    soft_time_limit: float | None
