"""Personas and helpers. partner_a and partner_b are two dismantlers; each test gets fresh
API keys, so rate-limit state never leaks from one test to the next."""

import importlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import time_machine
from django.apps import apps as django_apps
from django.conf import settings
from rest_framework.test import APIClient

from items import pipeline
from partners import services as partner_services
from partners.models import Plan
from rheo.celery import app as celery_app
from tradera import services as tradera_services
from tradera.models import CategoryRule
from webhooks import services as webhook_services


@pytest.fixture(scope="session", autouse=True)
def _live_server_backlog():
    """Django's test server listens with a backlog of 10; the concurrency tests connect
    fifty clients at once, as a real load balancer would."""
    from django.core.servers.basehttp import ThreadedWSGIServer

    ThreadedWSGIServer.request_queue_size = 128


# What data migrations seed: (a model holding the rows, the migration, its function).
SEEDED = [
    (Plan, "partners.migrations.0002_subscriptions", "seed_plans_and_subscribe_partners"),
    (CategoryRule, "tradera.migrations.0003_category_rules", "add_rules"),
]


@pytest.fixture(autouse=True)
def _seeded_rows(request):
    """The rows data migrations seed. A transactional test ends by emptying every table,
    and under pytest-xdist any test may run after one, so a test that uses the database
    gets them again (inside its own transaction, unless it is transactional)."""
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and marker.kwargs.get("transaction")
    if transactional or "transactional_db" in request.fixturenames:
        request.getfixturevalue("transactional_db")
    elif marker is not None or "db" in request.fixturenames:
        request.getfixturevalue("db")
    else:
        return
    for model, migration, function in SEEDED:
        if not model.objects.exists():
            getattr(importlib.import_module(migration), function)(django_apps, None)


needs_postgres = pytest.mark.skipif(
    not settings.USING_POSTGRES, reason="needs PostgreSQL (set DATABASE_URL or run it locally)"
)
needs_redis = pytest.mark.skipif(
    not settings.USING_REDIS, reason="needs Redis (set REDIS_URL or run it locally)"
)


def item_body(**overrides) -> dict:
    """The Quick Start's item, with overrides (a None value removes the field)."""
    body = {
        "title": "Volvo XC90 bromsok fram vänster — 2018",
        "description": "Testad och fungerande. Skick B.",
        "price": 950,
        "shippingCost": 149,
        "weightKg": 3.2,
        "imageUrls": [
            "https://your-cdn.example.com/parts/12345/1.jpg",
            "https://your-cdn.example.com/parts/12345/2.jpg",
        ],
        "domain": {
            "domain": "automotive_part",
            "oemCode": "31400452",
            "manufacturer": "Volvo",
            "compatibleModels": ["XC90"],
            "donorVehicleYear": 2018,
            "conditionGrade": "B",
        },
        "autoPublishTradera": True,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


@dataclass
class Integration:
    """A partner's ERP talking to the Integration API with one key."""

    key: str
    client: APIClient

    def _call(self, method, path, body=None, **extra):
        kwargs = {"HTTP_X_API_KEY": self.key, **extra}
        if body is not None:
            kwargs.setdefault("content_type", "application/json")
            kwargs["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
        return getattr(self.client, method)(f"/integration/v1/items/{path}", **kwargs)

    def put(self, external_id, body=None, **extra):
        return self._call("put", external_id, item_body() if body is None else body, **extra)

    def get(self, external_id, **extra):
        return self._call("get", external_id, **extra)

    def patch_price(self, external_id, body, **extra):
        return self._call("patch", f"{external_id}/price", body, **extra)

    def patch_status(self, external_id, body, **extra):
        return self._call("patch", f"{external_id}/status", body, **extra)

    def delete(self, external_id, **extra):
        return self._call("delete", external_id, **extra)


def make_partner(name: str, email: str):
    partner, _ = partner_services.create_partner(name=name, email=email, password="pw-for-tests")
    return partner


def integration(partner, mode: str = "live") -> Integration:
    issued = partner_services.create_api_key(partner=partner, name=f"{mode} key", mode=mode)
    return Integration(key=issued.secret, client=APIClient())


@pytest.fixture
def partner_a(db):
    return make_partner("Recopart AB", "ops@recopart.example")


@pytest.fixture
def partner_b(db):
    return make_partner("Bildelar Norr AB", "it@bildelarnorr.example")


@pytest.fixture
def api_a(partner_a) -> Integration:
    return integration(partner_a, "live")


@pytest.fixture
def api_a_test(partner_a) -> Integration:
    return integration(partner_a, "test")


@pytest.fixture
def api_b(partner_b) -> Integration:
    return integration(partner_b, "live")


@pytest.fixture
def broker_messages():
    """Reads what reached the (in-memory) broker: drain(queue) → [(task name, args)]."""

    def drain(queue: str) -> list[tuple[str, list]]:
        found = []
        with celery_app.connection_for_read() as conn:
            simple = conn.SimpleQueue(queue)
            while True:
                try:
                    message = simple.get(block=False)
                except simple.Empty:
                    break
                found.append((message.headers["task"], message.payload[0]))
                message.ack()
            simple.close()
        return found

    for queue in ("images", "default", "webhooks", "tradera"):
        drain(queue)
    return drain


@pytest.fixture
def dashboard_a(partner_a):
    """partner_a's user, logged in to the Management API with a bearer token."""
    return login("ops@recopart.example")


@pytest.fixture
def dashboard_b(partner_b):
    return login("it@bildelarnorr.example")


def login(email: str, password: str = "pw-for-tests") -> APIClient:  # noqa: S107
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token", {"email": email, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


@pytest.fixture
def clock():
    """Time as the project sees it, moved on by the test (it ticks from where it is put)."""
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), tick=True) as traveller:
        yield traveller


class Worker:
    """Runs what Celery workers on the images, webhooks and tradera queues would run, one message
    at a time, holding back messages whose countdown (ETA) has not come yet by the
    project's clock; and what beat would run, one sweeper pass at a time."""

    queues = ("images", "webhooks", "tradera")

    def __init__(self, capture_on_commit):
        celery_app.loader.import_default_modules()  # as a worker does: finds every tasks.py
        self.capture_on_commit = capture_on_commit
        self.held: list[tuple[datetime, str, list]] = []

    def _receive(self) -> None:
        with celery_app.connection_for_read() as conn:
            for queue in self.queues:
                simple = conn.SimpleQueue(queue)
                while True:
                    try:
                        message = simple.get(block=False)
                    except simple.Empty:
                        break
                    eta = message.headers.get("eta")
                    eta = datetime.fromisoformat(eta) if eta else datetime.min.replace(tzinfo=UTC)
                    self.held.append((eta, message.headers["task"], message.payload[0]))
                    message.ack()
                simple.close()

    def work_off(self, *, lose_nudges: bool = False) -> list[str]:
        """Runs every message that is due, and those they send, until none is due. With
        `lose_nudges`, what the tasks send after their commit is lost (as in a crash right
        after it, or a broker that drops it)."""
        ran = []
        while True:
            self._receive()
            now = datetime.now(UTC)
            due = [m for m in self.held if m[0] <= now]
            if not due:
                return ran
            self.held = [m for m in self.held if m[0] > now]
            for _eta, name, args in due:
                with self.capture_on_commit(execute=not lose_nudges):
                    celery_app.tasks[name](*args)
                ran.append(name)

    def sweep_deliveries(self) -> int:
        with self.capture_on_commit(execute=True):
            return webhook_services.sweep_deliveries()

    def sweep_items(self) -> int:
        with self.capture_on_commit(execute=True):
            return pipeline.sweep_items()

    def sweep_listings(self) -> int:
        with self.capture_on_commit(execute=True):
            return tradera_services.sweep_listings()

    def __call__(self, *, lose_nudges: bool = False) -> list[str]:
        return self.work_off(lose_nudges=lose_nudges)


@pytest.fixture
def worker(broker_messages, django_capture_on_commit_callbacks):
    return Worker(django_capture_on_commit_callbacks)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed():` runs what the code inside sends after commit, as it would
    outside a test's transaction."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
