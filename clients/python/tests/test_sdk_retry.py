"""The retry policy: which failures are tried again, and after how long. Sleeps are
recorded, never slept; the network failures are real (a port nothing listens on)."""

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from rheo_client import RetryPolicy, Rheo, RheoError
from rheo_client.retry import parse_retry_after


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def policy(jitter_draw: float = 0.0, **overrides) -> RetryPolicy:
    return RetryPolicy(sleep=Sleeps(), random=lambda: jitter_draw, **overrides)


def test_backoff_starts_at_one_second_and_doubles_up_to_its_cap():
    retry = policy()
    assert [retry.backoff(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_jitter_adds_up_to_half_of_the_delay():
    assert [policy(1.0).backoff(n) for n in range(3)] == [1.5, 3, 6]
    assert policy(0.5).backoff(0) == 1.25


def test_a_429_waits_its_retry_after_for_every_call_even_one_that_is_not_idempotent():
    retry = policy()
    assert retry.delay(0, status=429, retry_after=7, idempotent=False) == 7
    assert retry.delay(3, status=429, retry_after=0, idempotent=True) == 0
    # Without the header: the backoff.
    assert retry.delay(2, status=429, retry_after=None, idempotent=False) == 4


def test_a_retry_after_beyond_the_limit_fails_the_call_rather_than_hang():
    assert policy().delay(0, status=429, retry_after=3600, idempotent=True) is None


def test_5xx_and_network_errors_are_retried_only_for_idempotent_calls():
    retry = policy()
    for status in (500, 502, 503, 504, None):
        assert retry.delay(1, status=status, retry_after=None, idempotent=True) == 2
        assert retry.delay(1, status=status, retry_after=None, idempotent=False) is None


def test_a_503s_retry_after_is_a_floor_under_the_backoff():
    retry = policy()
    assert retry.delay(0, status=503, retry_after=5, idempotent=True) == 5
    assert retry.delay(4, status=503, retry_after=5, idempotent=True) == 16


def test_client_errors_are_never_retried():
    for status in (400, 401, 404, 409, 412, 413):
        assert policy().delay(0, status=status, retry_after=None, idempotent=True) is None


def test_retries_stop_after_max_retries():
    retry = policy(max_retries=2)
    assert retry.delay(1, status=503, retry_after=None, idempotent=True) == 2
    assert retry.delay(2, status=503, retry_after=None, idempotent=True) is None


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    now = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3
    date = format_datetime(now + timedelta(seconds=20), usegmt=True)
    assert parse_retry_after(date, now=now.timestamp) == 20
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the with ends


def test_a_get_that_cannot_connect_is_retried_with_backoff_then_raises():
    retry = policy(1.0)
    rheo = Rheo("rheo_test_x", f"http://127.0.0.1:{closed_port()}", retry=retry)

    with pytest.raises(RheoError) as raised:
        rheo.get_item("P1")

    assert raised.value.code == "connection_error"
    assert raised.value.status is None
    assert retry.sleep == [1.5, 3, 6, 12, 24]


def test_simulate_that_cannot_connect_is_not_retried():
    retry = policy()
    rheo = Rheo("rheo_test_x", f"http://127.0.0.1:{closed_port()}", retry=retry)

    with pytest.raises(RheoError) as raised:
        rheo.simulate("P1", "sold")

    assert raised.value.code == "connection_error"
    assert retry.sleep == []


def test_the_batch_is_retried_as_an_idempotent_call():
    retry = policy(max_retries=1)
    rheo = Rheo("rheo_test_x", f"http://127.0.0.1:{closed_port()}", retry=retry)

    with pytest.raises(RheoError):
        rheo.batch_upsert([{"externalId": "P1"}])

    assert retry.sleep == [1]


def test_key_and_address_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("RHEO_KEY", "rheo_test_from_readme")
    monkeypatch.setenv("RHEO", "http://localhost:8000/")
    rheo = Rheo()
    assert (rheo.api_key, rheo.base_url) == ("rheo_test_from_readme", "http://localhost:8000")

    monkeypatch.setenv("RHEO_API_KEY", "rheo_test_preferred")
    monkeypatch.setenv("RHEO_BASE_URL", "http://rheo.example")
    rheo = Rheo()
    assert (rheo.api_key, rheo.base_url) == ("rheo_test_preferred", "http://rheo.example")

    monkeypatch.delenv("RHEO_API_KEY")
    monkeypatch.delenv("RHEO_KEY")
    with pytest.raises(ValueError, match="API key"):
        Rheo()
