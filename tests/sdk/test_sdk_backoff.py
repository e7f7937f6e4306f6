"""The SDK's backoff against Rheo's real 429s and 503s (Django's live server on the real
PostgreSQL and Redis). The SDK's sleep is injected: it records the wait and makes the
time pass as far as Rheo is concerned (the key's rate-limit bucket forgotten, the
database back), so nothing sleeps for real."""

import pytest
import redis
import requests
from django.db import connection
from rheo_client import RetryPolicy, Rheo, RheoError

from partners.models import ApiKey
from rheo import ratelimit
from tests.conftest import integration, item_body, needs_postgres, needs_redis

pytestmark = pytest.mark.django_db(transaction=True)


class Recording(requests.Session):
    """A requests session that keeps every response it got."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[requests.Response] = []
        self.hooks["response"].append(lambda response, **_: self.answers.append(response))


def sdk(live_server, key: str, on_sleep) -> tuple[Rheo, list[float], Recording]:
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        on_sleep()

    session = Recording()
    retry = RetryPolicy(sleep=sleep, random=lambda: 0.0)
    return Rheo(key, live_server.url, retry=retry, session=session), sleeps, session


def forget_allowance(settings, key: str, tier: str):
    """What waiting out the Retry-After does to the key's bucket in Redis."""
    digest = ApiKey.objects.get(prefix=key[:14]).digest
    return lambda: redis.Redis.from_url(settings.REDIS_URL).delete(ratelimit.bucket(tier, digest))


@needs_redis
def test_a_get_refused_with_429_waits_the_retry_after_and_then_succeeds(
    live_server, partner_a, settings
):
    settings.RHEO_RATE_LIMITS = {**settings.RHEO_RATE_LIMITS, "read": "2/60s"}
    api = integration(partner_a, "test")
    assert api.put("P1", item_body()).status_code == 202
    rheo, sleeps, session = sdk(live_server, api.key, forget_allowance(settings, api.key, "read"))

    items = [rheo.get_item("P1") for _ in range(3)]

    assert [i.external_id for i in items] == ["P1"] * 3
    assert [a.status_code for a in session.answers] == [200, 200, 429, 200]
    refused = session.answers[2]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert sleeps == [float(refused.headers["Retry-After"])]
    assert sleeps[0] > 1  # Rheo's wait, not the backoff's first second


@needs_redis
def test_a_429_is_retried_for_simulate_too_as_rheo_did_not_process_it(
    live_server, partner_a, settings
):
    settings.RHEO_RATE_LIMITS = {**settings.RHEO_RATE_LIMITS, "status-update": "1/60s"}
    api = integration(partner_a, "live")  # simulate is refused (403) for a live key
    rheo, sleeps, session = sdk(
        live_server, api.key, forget_allowance(settings, api.key, "status-update")
    )

    for _ in range(2):
        with pytest.raises(RheoError) as raised:
            rheo.simulate("P1", "sold")
        assert (raised.value.status, raised.value.code) == (403, "forbidden")

    assert [a.status_code for a in session.answers] == [403, 429, 403]
    assert sleeps == [float(session.answers[1].headers["Retry-After"])]


class Database:
    """Takes PostgreSQL away from the live server's next connection (the tests' connections
    last one request), as while it restarts, and brings it back."""

    def __init__(self) -> None:
        self.port = connection.settings_dict["PORT"]

    def down(self) -> None:
        connection.close()
        connection.settings_dict["PORT"] = 1

    def back(self) -> None:
        connection.settings_dict["PORT"] = self.port


@pytest.fixture
def database():
    database = Database()
    yield database
    database.back()
    connection.close()


@needs_postgres
def test_a_get_answered_503_is_retried_after_the_retry_after_and_succeeds(
    live_server, partner_a, database
):
    api = integration(partner_a, "test")
    assert api.put("P1", item_body()).status_code == 202
    rheo, sleeps, session = sdk(live_server, api.key, database.back)
    database.down()

    item = rheo.get_item("P1")

    assert item.external_id == "P1"
    assert [a.status_code for a in session.answers] == [503, 200]
    unavailable = session.answers[0]
    assert unavailable.json()["error"]["code"] == "service_unavailable"
    # The backoff's first wait is 1 s; Rheo's Retry-After (5 s) is longer, so it counts.
    assert sleeps == [float(unavailable.headers["Retry-After"])] == [5.0]


@needs_postgres
def test_simulate_answered_503_is_not_retried_and_raises_with_the_request_id(
    live_server, partner_a, database
):
    api = integration(partner_a, "test")
    rheo, sleeps, session = sdk(live_server, api.key, database.back)
    database.down()

    with pytest.raises(RheoError) as raised:
        rheo.simulate("P1", "sold")

    assert [a.status_code for a in session.answers] == [503]
    assert sleeps == []
    error = raised.value
    assert (error.status, error.code) == (503, "service_unavailable")
    assert error.request_id == session.answers[0].headers["X-Request-Id"]
    assert error.retry_after == 5
