"""Guarded reconciliation: a preview of what a partner's complete set of ids would de-list,
the guard, expiry, and the apply job (idempotent, resumable after a worker dies)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from items import reconciliations
from items.models import Item, ItemActivity, Reconciliation
from partners import subscriptions
from rheo.celery import app as celery_app
from tests.conftest import integration
from tests.items.market import listed

pytestmark = pytest.mark.django_db

PATH = "/integration/v1/reconciliations"


def preview(api, ids, **extra):
    return api.client.post(
        PATH,
        data=json.dumps({"externalIds": ids}),
        content_type="application/json",
        HTTP_X_API_KEY=api.key,
        **extra,
    )


def apply(api, reconciliation_id, body=None):
    return api.client.post(
        f"{PATH}/{reconciliation_id}/apply",
        data=json.dumps(body or {}),
        content_type="application/json",
        HTTP_X_API_KEY=api.key,
    )


def look(api, reconciliation_id):
    return api.client.get(f"{PATH}/{reconciliation_id}", HTTP_X_API_KEY=api.key)


def run_jobs(broker_messages, committed) -> list[str]:
    """What a worker on the default queue runs: every message there, and those they send."""
    celery_app.loader.import_default_modules()  # as a worker does: finds every tasks.py
    ran = []
    while messages := broker_messages("default"):
        for name, args in messages:
            with committed():
                celery_app.tasks[name](*args)
            ran.append(name)
    return ran


def stock(partner, *ids, livemode=True) -> list[Item]:
    if len(ids) > 50:  # beyond the Free plan's 100 items
        subscriptions.change_plan(partner=partner, plan_code="enterprise", staff=True)
    return [listed(partner, external_id, livemode=livemode) for external_id in ids]


def statuses(*ids) -> dict[str, str]:
    items = Item.objects.filter(external_id__in=ids, deleted_at__isnull=True)
    return {item.external_id: item.status for item in items}


TEN = [f"P{n}" for n in range(1, 11)]


class TestPreview:
    def test_preview_counts_absent_present_and_unknown_and_changes_nothing(self, api_a, partner_a):
        stock(partner_a, "A1", "A2", "A3", "A4")
        listed(partner_a, "A5")
        Item.objects.filter(external_id="A5").update(status="not_listed")  # de-listed before
        response = preview(api_a, ["A1", "A2", "X1", "X2", "X2"])

        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["status"], body["submitted"], body["present"]) == ("previewed", 4, 2)
        assert (body["absent"], body["unknown"]) == (2, 2)
        assert body["absentExternalIds"] == ["A3", "A4"]
        assert body["progress"] == {"total": 2, "done": 0, "delisted": 0, "skipped": 0}
        assert body["guard"] == {
            "listedItems": 4,
            "thresholdPercent": 10.0,
            "limit": 0,
            "needsForce": True,
        }
        assert set(statuses("A1", "A2", "A3", "A4").values()) == {"active"}

    def test_the_preview_lists_the_first_100_absent_items(self, api_a, partner_a):
        ids = [f"P{n:03}" for n in range(105)]
        stock(partner_a, *ids)
        body = preview(api_a, ["P000"]).json()
        assert body["absent"] == 104
        assert body["absentExternalIds"] == ids[1:101]

    def test_a_csv_body_with_an_external_id_column(self, api_a, partner_a):
        stock(partner_a, "A1", "A2")
        response = api_a.client.post(
            PATH,
            data="sku,externalId\nx,A1\ny,NEW\n\n",
            content_type="text/csv",
            HTTP_X_API_KEY=api_a.key,
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["present"], body["absent"], body["unknown"]) == (1, 1, 1)
        assert body["absentExternalIds"] == ["A2"]

    def test_a_csv_body_of_one_id_per_line(self, api_a, partner_a):
        stock(partner_a, "A1", "A2")
        response = api_a.client.post(
            PATH, data="A1\r\nA2\r\n", content_type="text/csv", HTTP_X_API_KEY=api_a.key
        )
        assert (response.json()["present"], response.json()["absent"]) == (2, 0)

    def test_an_empty_set_is_refused(self, api_a):
        response = preview(api_a, [])
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {
            "externalIds": ["Send at least one external id."]
        }

    def test_an_id_that_is_not_a_string_is_named(self, api_a):
        response = preview(api_a, ["A1", 7])
        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == ["externalIds[1]"]

    def test_the_body_limit_is_its_own_and_larger_than_the_global_one(
        self, api_a, partner_a, settings
    ):
        settings.RHEO_MAX_BODY_BYTES = 1000
        settings.RHEO_RECONCILIATION_MAX_BODY_BYTES = 5000
        assert preview(api_a, [f"ID{n:05}" for n in range(200)]).status_code == 201
        too_large = preview(api_a, [f"ID{n:05}" for n in range(1000)])
        assert too_large.status_code == 413
        assert too_large.json()["error"]["code"] == "payload_too_large"

    def test_the_set_is_of_the_keys_mode_only(self, api_a_test, partner_a):
        stock(partner_a, "LIVE1")
        stock(partner_a, "TEST1", livemode=False)
        body = preview(api_a_test, ["TEST1"]).json()
        assert (body["present"], body["absent"], body["unknown"]) == (1, 0, 0)


class TestIsolation:
    def test_another_partners_reconciliation_is_not_found(self, api_a, partner_a, partner_b):
        stock(partner_a, "A1")
        reconciliation_id = preview(api_a, ["A1"]).json()["id"]
        api_b = integration(partner_b)
        for response in (look(api_b, reconciliation_id), apply(api_b, reconciliation_id)):
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"

    def test_the_other_modes_reconciliation_is_not_found(self, api_a, api_a_test, partner_a):
        stock(partner_a, "A1")
        reconciliation_id = preview(api_a, ["A1"]).json()["id"]
        assert look(api_a_test, reconciliation_id).status_code == 404
        assert apply(api_a_test, reconciliation_id).status_code == 404

    def test_an_id_that_is_no_uuid_is_not_found(self, api_a):
        response = look(api_a, "not-a-uuid")
        assert response.status_code == 404


class TestApply:
    def test_apply_de_lists_exactly_the_absent_items(
        self, api_a, partner_a, committed, broker_messages
    ):
        stock(partner_a, *TEN)
        Item.objects.filter(external_id="P10").update(status="sold")
        reconciliation_id = preview(api_a, TEN[1:]).json()["id"]  # P1 is gone from the ERP
        with committed():  # 1 of 9 listed items is more than 10 %
            response = apply(api_a, reconciliation_id, {"force": True})
        assert response.status_code == 202, response.content
        assert response.json()["status"] == "applying"
        assert run_jobs(broker_messages, committed) == ["items.apply_reconciliation"]

        assert statuses(*TEN) == {
            "P1": "not_listed",
            **{p: "active" for p in TEN[1:9]},
            "P10": "sold",
        }
        body = look(api_a, reconciliation_id).json()
        assert body["status"] == "applied"
        assert body["progress"] == {"total": 1, "done": 1, "delisted": 1, "skipped": 0}
        assert body["appliedAt"] is not None
        item = Item.objects.get(external_id="P1")
        assert list(item.activities.values_list("kind", flat=True))[-2:] == [
            "status",
            "reconciled",
        ]

    def test_applying_twice_de_lists_once(self, api_a, partner_a, committed, broker_messages):
        stock(partner_a, *TEN)
        reconciliation_id = preview(api_a, TEN[1:]).json()["id"]
        with committed():
            assert apply(api_a, reconciliation_id).status_code == 202
            assert apply(api_a, reconciliation_id).status_code == 202
        run_jobs(broker_messages, committed)
        with committed():
            again = apply(api_a, reconciliation_id)
        assert (again.status_code, again.json()["status"]) == (202, "applied")
        run_jobs(broker_messages, committed)
        reconciliations.run_apply(reconciliation_id=reconciliation_id)  # a duplicate message

        assert again.json()["progress"] == {"total": 1, "done": 1, "delisted": 1, "skipped": 0}
        assert ItemActivity.objects.filter(kind="reconciled").count() == 1
        assert Reconciliation.objects.get().done_count == 1

    def test_an_item_re_sent_after_the_preview_is_skipped(
        self, api_a, partner_a, committed, broker_messages, clock
    ):
        stock(partner_a, *TEN)
        reconciliation_id = preview(api_a, TEN[2:]).json()["id"]  # P1 and P2 absent
        clock.shift(timedelta(seconds=5))
        with committed():
            assert api_a.patch_price("P2", {"price": 990}).status_code == 202
            assert apply(api_a, reconciliation_id, {"force": True}).status_code == 202
        run_jobs(broker_messages, committed)

        assert statuses("P1", "P2") == {"P1": "not_listed", "P2": "active"}
        progress = look(api_a, reconciliation_id).json()["progress"]
        assert progress == {"total": 2, "done": 2, "delisted": 1, "skipped": 1}


class TestGuard:
    def test_more_than_the_threshold_is_refused_without_force(self, api_a, partner_a):
        stock(partner_a, *TEN)
        reconciliation_id = preview(api_a, TEN[2:]).json()["id"]  # 2 of 10 > 10 %
        response = apply(api_a, reconciliation_id)
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "conflict"
        assert "de-list 2 of your 10 listed items" in error["message"]
        assert "(1 items)" in error["message"]
        assert look(api_a, reconciliation_id).json()["status"] == "previewed"
        assert set(statuses(*TEN).values()) == {"active"}

    def test_force_applies_over_the_threshold(self, api_a, partner_a, committed, broker_messages):
        stock(partner_a, *TEN)
        reconciliation_id = preview(api_a, TEN[2:]).json()["id"]
        with committed():
            response = apply(api_a, reconciliation_id, {"force": True})
        assert response.status_code == 202
        run_jobs(broker_messages, committed)
        assert statuses("P1", "P2") == {"P1": "not_listed", "P2": "not_listed"}

    def test_within_the_threshold_no_force_is_needed(self, api_a, partner_a, settings):
        settings.RHEO_RECONCILIATION_GUARD_PERCENT = 20
        stock(partner_a, *TEN)
        body = preview(api_a, TEN[2:]).json()
        assert body["guard"]["needsForce"] is False
        assert apply(api_a, body["id"]).status_code == 202


class TestExpiry:
    def test_a_preview_expires_after_an_hour(self, api_a, partner_a, clock):
        stock(partner_a, *TEN)
        body = preview(api_a, TEN).json()
        clock.shift(timedelta(minutes=59))
        assert look(api_a, body["id"]).json()["status"] == "previewed"
        clock.shift(timedelta(minutes=1))
        assert look(api_a, body["id"]).json()["status"] == "expired"
        response = apply(api_a, body["id"], {"force": True})
        assert response.status_code == 409
        assert "expired" in response.json()["error"]["message"]


class TestResume:
    def test_a_job_whose_worker_died_is_resumed_by_the_sweeper(
        self, api_a, partner_a, django_capture_on_commit_callbacks, broker_messages, clock
    ):
        """A worker claimed the job, de-listed its first chunk and was killed: its nudge
        is gone and its lease runs on. Once the lease and the grace are over, one sweeper
        pass sends the job again and it finishes the rest, without redoing the first."""
        ids = [f"P{n:03}" for n in range(reconciliations.CHUNK + 50)]
        stock(partner_a, *ids)
        reconciliation_id = preview(api_a, ids[:10]).json()["id"]
        with django_capture_on_commit_callbacks(execute=False):  # the nudge is lost
            assert apply(api_a, reconciliation_id, {"force": True}).status_code == 202
        Reconciliation.objects.update(apply_locked_until=timezone.now() + timedelta(seconds=60))
        reconciliations._apply_chunk(reconciliation_id)  # the worker's first chunk, committed
        assert look(api_a, reconciliation_id).json()["progress"]["done"] == 200

        committed = lambda: django_capture_on_commit_callbacks(execute=True)  # noqa: E731
        with committed():
            assert reconciliations.sweep_reconciliations() == 0  # held by the dead worker
        clock.shift(timedelta(seconds=61))
        with committed():
            assert reconciliations.sweep_reconciliations() == 1
        assert run_jobs(broker_messages, committed) == ["items.apply_reconciliation"]

        body = look(api_a, reconciliation_id).json()
        assert body["status"] == "applied"
        assert body["progress"] == {"total": 240, "done": 240, "delisted": 240, "skipped": 0}
        assert ItemActivity.objects.filter(kind="reconciled").count() == 240
        assert Item.objects.filter(status="not_listed").count() == 240
