import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from rheo import ratelimit
from rheo.ratelimit import LocalLimiter, Rate
from tests.conftest import integration, item_body, needs_redis

TEN_PER_SECOND = Rate.parse("10/1s")


class Clock:
    def __init__(self):
        self.ns = 1_000_000_000_000

    def __call__(self):
        return self.ns

    def advance(self, seconds: float):
        self.ns += int(seconds * 1_000_000_000)


class TestGcra:
    def test_a_full_burst_passes_then_the_next_request_waits_one_interval(self):
        clock = Clock()
        limiter = LocalLimiter(clock)

        results = [limiter.hit("k", TEN_PER_SECOND) for _ in range(11)]

        assert [r[0] for r in results] == [True] * 10 + [False]
        assert [r[1] for r in results[:10]] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
        allowed, remaining, reset_us, retry_us = results[10]
        assert retry_us == 100_000  # one request every 100 ms
        assert reset_us == 1_000_000

    def test_the_allowance_refills_at_the_rate(self):
        clock = Clock()
        limiter = LocalLimiter(clock)
        for _ in range(10):
            limiter.hit("k", TEN_PER_SECOND)

        clock.advance(0.1)
        assert limiter.hit("k", TEN_PER_SECOND)[0] is True
        assert limiter.hit("k", TEN_PER_SECOND)[0] is False

        clock.advance(1.0)
        assert limiter.hit("k", TEN_PER_SECOND)[:2] == (True, 9)

    def test_subjects_do_not_share_an_allowance(self):
        limiter = LocalLimiter(Clock())
        for _ in range(10):
            limiter.hit("a", TEN_PER_SECOND)

        assert limiter.hit("a", TEN_PER_SECOND)[0] is False
        assert limiter.hit("b", TEN_PER_SECOND)[0] is True

    def test_rates_parse(self):
        assert Rate.parse("20/1s") == Rate(20, 1_000_000)
        assert Rate.parse("30/s") == Rate(30, 1_000_000)
        assert Rate.parse("10/60s").interval_us == 6_000_000


@pytest.mark.parametrize(
    ("call", "tier", "limit"),
    [
        (lambda api: api.put("P1"), "item-sync", 10),
        (lambda api: api.delete("P1"), "item-sync", 10),
        (lambda api: api.get("P1"), "read", 30),
        (lambda api: api.patch_price("P1", {"price": 5}), "price-update", 20),
        (lambda api: api.patch_status("P1", {"status": "sold"}), "status-update", 20),
    ],
)
def test_every_authenticated_response_carries_its_tiers_headers(api_a, call, tier, limit):
    response = call(api_a)

    assert response["RateLimit-Policy"] == f'"{tier}";q={limit};w=1'
    assert response["RateLimit"] == f'"{tier}";r={limit - 1};t=1'
    assert response["RateLimit-Limit"] == str(limit)
    assert response["RateLimit-Remaining"] == str(limit - 1)
    assert response["RateLimit-Reset"] == "1"


def test_exceeding_the_limit_is_429_with_retry_after(api_a, settings):
    # A minute-long window keeps the test independent of how fast it runs.
    settings.RHEO_RATE_LIMITS = {**settings.RHEO_RATE_LIMITS, "item-sync": "10/60s"}
    statuses = [api_a.put(f"P{i}").status_code for i in range(10)]

    response = api_a.put("P10")

    assert statuses == [202] * 10
    assert response.status_code == 429
    assert response["Retry-After"] == "6"
    assert response["RateLimit-Remaining"] == "0"
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert "10 requests" in error["message"]


def test_tiers_are_counted_separately(api_a, settings):
    settings.RHEO_RATE_LIMITS = {**settings.RHEO_RATE_LIMITS, "item-sync": "1/60s"}
    assert api_a.put("P1").status_code == 202
    assert api_a.put("P2").status_code == 429

    assert api_a.get("P1").status_code == 200
    assert api_a.patch_status("P1", {"status": "sold"}).status_code == 202


def test_keys_are_limited_separately(partner_a, settings):
    settings.RHEO_RATE_LIMITS = {**settings.RHEO_RATE_LIMITS, "read": "1/60s"}
    first, second = integration(partner_a), integration(partner_a)

    assert first.get("P1").status_code == 404
    assert first.get("P1").status_code == 429
    assert second.get("P1").status_code == 404


@pytest.mark.parametrize("method", ["head", "options", "post"])
def test_other_methods_count_as_reads(api_a, settings, method):
    settings.RHEO_RATE_LIMITS = {**settings.RHEO_RATE_LIMITS, "read": "1/60s"}
    api_a.get("P1")

    response = getattr(api_a.client, method)("/integration/v1/items/P1", HTTP_X_API_KEY=api_a.key)

    assert response.status_code == 429
    assert response["RateLimit-Policy"] == '"read";q=1;w=60'


def test_unauthenticated_requests_carry_no_rate_limit_headers(api_a):
    response = api_a.client.get("/integration/v1/items/P1")
    assert response.status_code == 401
    assert "RateLimit" not in response


def fire_concurrently(url: str, keys_and_bodies, method: str = "get") -> list[int]:
    """Send all requests at once (released together by a barrier); return status codes."""
    barrier = threading.Barrier(len(keys_and_bodies))

    def send(key_and_body):
        key, body = key_and_body
        session = requests.Session()
        barrier.wait()
        return session.request(method, url, headers={"x-api-key": key}, json=body, timeout=30)

    with ThreadPoolExecutor(len(keys_and_bodies)) as pool:
        return [r.status_code for r in pool.map(send, keys_and_bodies)]


@pytest.mark.parametrize(
    "store", [pytest.param("redis", marks=needs_redis), pytest.param("process", marks=[])]
)
def test_concurrent_requests_beyond_the_allowance_are_refused_exactly(
    transactional_db, live_server, partner_a, settings, store
):
    if store == "process":
        settings.REDIS_URL = ""
    settings.RHEO_RATE_LIMITS = {**settings.RHEO_RATE_LIMITS, "read": "10/60s"}
    api = integration(partner_a)

    statuses = fire_concurrently(
        f"{live_server.url}/integration/v1/items/P1", [(api.key, None)] * 25
    )

    assert sorted(statuses) == [404] * 10 + [429] * 15


@needs_redis
def test_the_redis_store_is_shared_by_every_process(partner_a, settings):
    """A second limiter (as another web process or machine would hold) sees the count."""
    settings.RHEO_RATE_LIMITS = {**settings.RHEO_RATE_LIMITS, "item-sync": "3/60s"}
    api = integration(partner_a)
    for i in range(2):
        assert api.put(f"P{i}").status_code == 202

    other_process = ratelimit.RedisLimiter(settings.REDIS_URL)
    allowed, remaining, *_ = other_process.hit(
        ratelimit.bucket("item-sync", partner_a.api_keys.get().digest), Rate.parse("3/60s")
    )

    assert (allowed, remaining) == (True, 0)
    assert api.put("P3").status_code == 429


def test_a_redis_outage_does_not_take_the_api_down(api_a, settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    response = api_a.put("P1", item_body())

    assert response.status_code == 202
    assert response["RateLimit-Policy"] == '"item-sync";q=10;w=1'
    assert "Rate limiter unavailable" in caplog.text  # failed open, and said so
