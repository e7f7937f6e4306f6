"""With Redis, keys in use are read from Redis (partners.key_cache): a change to a key or
its partner still takes effect at the next request, and last_used_at is written by the
minute's flush."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners import key_cache, keys, services
from partners.models import ApiKey
from partners.tasks import flush_api_key_usage
from tests.conftest import needs_redis

pytestmark = needs_redis


def key_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "partners_apikey" in q["sql"]]


def test_a_key_in_use_is_read_from_redis_not_the_database(api_a):
    api_a.get("P1")  # the first request reads the database and caches the key

    with CaptureQueriesContext(connection) as queries:
        response = api_a.put("P1")

    assert response.status_code == 202
    assert key_queries(queries.captured_queries) == []


def test_last_used_is_written_by_the_minutes_flush(api_a):
    api_a.get("P1")
    api_a.get("P1")
    assert ApiKey.objects.get().last_used_at is None  # noted in Redis only

    assert flush_api_key_usage() >= 1

    last_used = ApiKey.objects.get().last_used_at
    assert timezone.now() - last_used < timedelta(seconds=5)
    flush_api_key_usage()  # nothing new: the time stays
    assert ApiKey.objects.get().last_used_at == last_used


def test_a_cached_key_that_is_revoked_is_refused_at_once(api_a):
    api_a.get("P1")
    services.revoke_api_key(api_key=ApiKey.objects.get())

    response = api_a.get("P1")

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The API key has been revoked."


def test_a_cached_key_of_a_partner_disabled_is_refused_at_once(partner_a, api_a):
    api_a.get("P1")
    services.disable_partner(partner=partner_a)
    assert api_a.get("P1").status_code == 401

    services.enable_partner(partner=partner_a)
    assert api_a.get("P1").status_code == 404  # authenticated again: no such item


def test_a_cached_key_deleted_in_admin_is_refused_at_once(api_a):
    api_a.get("P1")
    ApiKey.objects.get().delete()

    response = api_a.get("P1")

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The API key is not valid."


def test_a_request_that_read_the_key_before_its_revoke_cannot_cache_it(api_a):
    read_before = services._find_api_key(keys.digest(api_a.key))
    services.revoke_api_key(api_key=ApiKey.objects.get())
    key_cache.remember(read_before)  # that request finishes after the revoke

    assert api_a.get("P1").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_with_redis_unreachable_keys_are_read_and_touched_in_the_database(api_a, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    response = api_a.get("P1")

    assert response.status_code == 404
    assert ApiKey.objects.get().last_used_at is not None
