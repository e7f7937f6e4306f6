import logging
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners import keys, services
from partners.models import ApiKey, Partner, Plan, Subscription
from tests.conftest import Integration, needs_redis

KEY_FORMAT = re.compile(r"^rheo_(live|test)_[0-9A-Za-z]{32}$")
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens there


@pytest.mark.parametrize("mode", ["live", "test"])
def test_new_keys_have_the_documented_format_and_a_valid_checksum(partner_a, mode):
    issued = services.create_api_key(partner=partner_a, name="ERP", mode=mode)

    assert KEY_FORMAT.match(issued.secret)
    assert issued.secret.startswith(f"rheo_{mode}_")
    assert keys.mode_of(issued.secret) == mode
    assert issued.api_key.mode == mode


def test_keys_are_stored_only_as_a_digest_and_a_display_prefix(partner_a):
    issued = services.create_api_key(partner=partner_a, name="ERP", mode="live")

    row = ApiKey.objects.filter(pk=issued.api_key.pk).values().get()
    assert issued.secret not in [str(v) for v in row.values()]
    assert row["digest"] == keys.digest(issued.secret)
    assert row["prefix"] == issued.secret[:14]


def test_a_valid_key_authenticates(api_a):
    assert api_a.get("NOPE").status_code == 404


def test_missing_key_is_401_in_the_error_format(api_a):
    response = api_a.client.get("/integration/v1/items/P1")

    assert response.status_code == 401
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "authentication_failed"
    assert "x-api-key" in response.json()["error"]["message"]
    assert "x-api-key" in response["WWW-Authenticate"]


def test_a_malformed_key_is_refused_without_a_database_read(api_a, django_assert_num_queries):
    mistyped = api_a.key[:-1] + ("A" if api_a.key[-1] != "A" else "B")
    for bad in (mistyped, api_a.key[:-1], "rheo_prod_" + api_a.key[10:], "sk_live_abc"):
        with django_assert_num_queries(0):
            response = Integration(bad, api_a.client).get("P1")
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "The API key is malformed."


def test_a_well_formed_unknown_key_is_401(api_a):
    unknown = keys.generate("live")

    response = Integration(unknown, api_a.client).get("P1")

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The API key is not valid."


def test_a_revoked_key_is_refused_at_once(api_a):
    api_a.put("P1")
    services.revoke_api_key(api_key=ApiKey.objects.get())

    response = api_a.get("P1")

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The API key has been revoked."


def test_an_inactive_partners_keys_are_refused(partner_a, api_a):
    partner_a.is_active = False
    partner_a.save()

    response = api_a.put("P1")

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The partner account is disabled."


# --- Every request reads its key from the database: nothing to go stale -------------


@needs_redis
def test_a_key_revoked_while_redis_is_unreachable_is_refused_at_once(api_a, settings):
    real_redis = settings.REDIS_URL
    assert api_a.get("P1").status_code == 404  # in use, with Redis up

    settings.REDIS_URL = UNREACHABLE_REDIS
    services.revoke_api_key(api_key=ApiKey.objects.get())
    while_down = api_a.get("P1")
    settings.REDIS_URL = real_redis
    after = api_a.get("P1")

    assert while_down.status_code == 401
    assert after.status_code == 401
    assert after.json()["error"]["message"] == "The API key has been revoked."


def test_a_partner_disabled_with_a_queryset_update_is_refused_on_the_next_request(partner_a, api_a):
    assert api_a.get("P1").status_code == 404

    Partner.objects.filter(pk=partner_a.pk).update(is_active=False)
    assert api_a.get("P1").status_code == 401

    Partner.objects.filter(pk=partner_a.pk).update(is_active=True)
    assert api_a.get("P1").status_code == 404  # authenticated again: no such item


def test_a_key_deleted_is_refused_on_the_next_request(api_a):
    assert api_a.get("P1").status_code == 404
    ApiKey.objects.get().delete()

    response = api_a.get("P1")

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The API key is not valid."


def test_a_plan_changed_while_redis_is_unreachable_counts_on_the_next_request(
    partner_a, api_a, settings
):
    settings.REDIS_URL = UNREACHABLE_REDIS
    assert api_a.put("P1").status_code == 202

    Subscription.objects.filter(partner=partner_a).update(
        plan=Plan.objects.create(code="tiny", name="Tiny", max_active_items=1)
    )

    assert api_a.put("P2").status_code == 402


def test_one_query_reads_the_key_with_its_partner(api_a):
    api_a.get("P1")  # last_used_at written: not again within the minute

    with CaptureQueriesContext(connection) as queries:
        response = api_a.get("P1")

    assert response.status_code == 404
    key_queries = [q["sql"] for q in queries.captured_queries if "partners_apikey" in q["sql"]]
    assert len(key_queries) == 1
    assert "partners_partner" in key_queries[0]  # the partner in the same query
    assert "UPDATE" not in key_queries[0]


def test_last_used_is_written_at_most_once_a_minute(api_a):
    api_a.get("P1")
    first = ApiKey.objects.get().last_used_at
    assert first is not None

    api_a.get("P1")
    assert ApiKey.objects.get().last_used_at == first

    ApiKey.objects.update(last_used_at=first - timedelta(minutes=2))
    api_a.get("P1")
    assert ApiKey.objects.get().last_used_at > first - timedelta(seconds=1)


def test_keys_never_appear_in_the_logs(api_a, caplog):
    with caplog.at_level(logging.DEBUG):
        api_a.put("P1")
        api_a.get("P1")

    assert caplog.records
    assert api_a.key not in caplog.text
    assert api_a.key[:14] in caplog.text  # the display prefix names the key


def test_create_partner_and_create_api_key_commands(db, capsys):
    call_command("create_partner", "Recopart AB", "--email", "ops@recopart.example")
    assert "Created partner Recopart AB" in capsys.readouterr().out

    call_command("create_api_key", "--partner", "ops@recopart.example", "--test")
    out = capsys.readouterr().out.strip().splitlines()
    key = out[-1]
    assert KEY_FORMAT.match(key) and key.startswith("rheo_test_")

    call_command("create_api_key", "--partner", "OPS@recopart.example", "--name", "Prod")
    live_key = capsys.readouterr().out.strip().splitlines()[-1]
    assert live_key.startswith("rheo_live_")
    assert ApiKey.objects.get(name="Prod").mode == "live"

    from rest_framework.test import APIClient

    assert Integration(key, APIClient()).get("P1").status_code == 404


def test_create_api_key_for_an_unknown_email_fails_clearly(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No partner has a user"):
        call_command("create_api_key", "--partner", "nobody@example.com")


def test_create_partner_refuses_a_taken_email(partner_a):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="already exists"):
        call_command("create_partner", "Again", "--email", "ops@recopart.example")
