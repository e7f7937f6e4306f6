"""POST /api/v1/events/replay: a window of events sent again in the background, within
the endpoint's share, with its progress at GET /api/v1/events/replays/<id>."""

import threading

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from items.models import Item
from tests.conftest import needs_postgres
from tests.webhooks.conftest import Reply
from webhooks import replays, services
from webhooks.models import Delivery, Event


def put_webhook(client, url, **fields):
    return client.put("/api/v1/webhook", {"url": url, **fields}, format="json")


def window_of_events(api, partner, emit, count) -> list[Event]:
    assert api.put("ERP-1").status_code == 202
    item = Item.objects.get(external_id="ERP-1")
    return [emit(partner, "item.sold", item, sale_price=n) for n in range(count)]


def most_pending_at_once(deliveries) -> int:
    """From the rows: the most deliveries that were queued and not yet ended at once."""
    rows = [(d.created_at, d.completed_at) for d in deliveries]
    return max(sum(1 for c, e in rows if c <= at and (e is None or e > at)) for at, _ in rows)


@pytest.mark.django_db(transaction=True)
@override_settings(RHEO_WEBHOOK_MAX_IN_FLIGHT=2)
def test_a_replay_answers_at_once_and_sends_the_window_within_the_endpoints_share(
    dashboard_a, api_a, partner_a, receiver, emit, worker, committed
):
    before = timezone.now()
    events = window_of_events(api_a, partner_a, emit, 9)  # no endpoint yet: no deliveries
    assert put_webhook(dashboard_a, receiver.url()).status_code == 200
    with committed():
        response = dashboard_a.post(
            "/api/v1/events/replay",
            {"createdAfter": before.isoformat(), "types": ["item.sold"]},
            format="json",
        )
    assert response.status_code == 202, response.content
    started = response.json()
    assert (started["count"], started["queued"], started["status"]) == (9, 0, "running")

    worker()
    progress = dashboard_a.get(f"/api/v1/events/replays/{started['id']}").json()
    assert progress["status"] == "completed", progress
    assert (progress["queued"], progress["succeeded"], progress["pending"]) == (9, 9, 0)
    # Every event once, oldest first (one worker here, so in the order queued).
    assert [r.headers["webhook-id"] for r in receiver.received] == [e.pk for e in events]
    # Never more than 2 × the in-flight cap of its deliveries pending at once.
    assert most_pending_at_once(Delivery.objects.filter(replay_id=started["id"])) <= 4


@pytest.mark.django_db
def test_a_replay_is_refused_without_an_endpoint_or_with_a_reversed_window(
    dashboard_a, dashboard_b, receiver
):
    body = {"createdAfter": "2026-12-01T00:00:00Z"}
    no_endpoint = dashboard_a.post("/api/v1/events/replay", body, format="json")
    assert no_endpoint.status_code == 409
    put_webhook(dashboard_a, receiver.url())
    reversed_window = {**body, "createdBefore": "2026-11-01T00:00:00Z"}
    response = dashboard_a.post("/api/v1/events/replay", reversed_window, format="json")
    assert response.status_code == 400
    assert "createdAfter" in response.json()["error"]["fields"]
    missing = dashboard_a.post("/api/v1/events/replay", {}, format="json")
    assert missing.status_code == 400
    started = dashboard_a.post("/api/v1/events/replay", body, format="json").json()
    assert started["count"] == 0
    other = dashboard_b.get(f"/api/v1/events/replays/{started['id']}")
    assert other.status_code == 404


@needs_postgres
@pytest.mark.django_db(transaction=True)
@override_settings(RHEO_WEBHOOK_MAX_IN_FLIGHT=2, RHEO_WEBHOOK_TIMEOUT_SECONDS=5)
def test_a_replays_deliveries_still_go_through_the_in_flight_cap(
    dashboard_a, api_a, partner_a, receiver, emit
):
    before = timezone.now()
    window_of_events(api_a, partner_a, emit, 6)
    services.configure_endpoint(
        partner=partner_a, livemode=True, url=receiver.url(), enabled=True,
        event_types=["item.sold"],
    )  # fmt: skip
    replay = replays.start_replay(partner=partner_a, livemode=True, created_after=before)
    replays.run_replay(replay_id=replay.pk)
    queued = list(Delivery.objects.filter(replay=replay).values_list("pk", flat=True))
    assert len(queued) == 4  # its share: 2 × the cap; the other two wait their turn
    receiver.reply(*[Reply(hang=True)] * 4)

    def attempt(delivery_id):
        services.attempt_delivery(delivery_id=delivery_id)
        connection.close()

    threads = [threading.Thread(target=attempt, args=(str(pk),)) for pk in queued]
    for t in threads[:2]:
        t.start()
    assert receiver.arrived.acquire(timeout=10) and receiver.arrived.acquire(timeout=10)
    for t in threads[2:]:
        t.start()
        t.join(timeout=10)
    assert len(receiver.received) == 2  # the cap held: the other two are parked
    assert Delivery.objects.filter(replay=replay, parked=True).count() == 2
    replays.run_replay(replay_id=replay.pk)  # another run adds nothing: no room
    assert Delivery.objects.filter(replay=replay).count() == 4
    receiver.release.set()
    for t in threads[:2]:
        t.join(timeout=10)


@pytest.mark.django_db
def test_a_replay_stops_when_the_endpoint_is_turned_off(
    dashboard_a, api_a, partner_a, receiver, emit, worker, committed
):
    before = timezone.now()
    window_of_events(api_a, partner_a, emit, 3)
    put_webhook(dashboard_a, receiver.url())
    replay = replays.start_replay(partner=partner_a, livemode=True, created_after=before)
    put_webhook(dashboard_a, receiver.url(), enabled=False)
    with committed():
        replays.run_replay(replay_id=replay.pk)
    progress = dashboard_a.get(f"/api/v1/events/replays/{replay.pk}").json()
    assert (progress["status"], progress["queued"]) == ("stopped", 0)
    assert progress["stoppedReason"] == "The webhook endpoint was turned off."
    worker()
    assert receiver.received == []
