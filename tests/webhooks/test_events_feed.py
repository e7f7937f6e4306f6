"""The events feed (GET /api/v1/events, GET /integration/v1/events): oldest first, pages
followed with `after`, a stable order under concurrent writers, each item's events
numbered by `sequence`, and the consumer's recipe of docs/webhooks.md."""

import json
import re
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection, transaction

from items.models import Item
from tests.conftest import integration, needs_postgres
from webhooks import feed, services
from webhooks.models import Event

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def items(api, count: int) -> list[Item]:
    for n in range(count):
        assert api.put(f"ERP-{n}").status_code == 202
    return list(Item.objects.order_by("external_id"))


def get_feed(api, **params):
    response = api.client.get("/integration/v1/events", params, HTTP_X_API_KEY=api.key)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
def test_the_feed_is_oldest_first_with_the_payload_as_sent(
    api_a, partner_a, receiver, emit, worker, dashboard_a
):
    services.configure_endpoint(
        partner=partner_a, livemode=True, url=receiver.url(), enabled=True,
        event_types=["item.sold", "listing.created"],
    )  # fmt: skip
    first, second = items(api_a, 2)
    emit(partner_a, "listing.created", first, tradera_ad_id="77")
    emit(partner_a, "item.sold", first, sale_price=950.5, tradera_ad_id="77")
    emit(partner_a, "listing.ended", second)  # not subscribed: no delivery
    worker()
    page = get_feed(api_a)
    assert [e["eventType"] for e in page["events"]] == [
        "listing.created",
        "item.sold",
        "listing.ended",
    ]
    assert page["hasMore"] is False
    assert page["nextCursor"] == page["events"][-1]["eventId"]
    created, sold, ended = page["events"]
    assert (created["sequence"], sold["sequence"], ended["sequence"]) == (1, 2, 1)
    assert sold["payload"]["data"]["sequence"] == 2 and sold["externalId"] == "ERP-0"
    # The payload gives back the exact bytes that were signed and sent.
    sent = [r.body for r in receiver.received]
    for event, body in zip((created, sold), sent, strict=True):
        assert json.dumps(event["payload"], separators=(",", ":"), ensure_ascii=False) == body
    [delivery] = sold["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("succeeded", 1)
    assert delivery["attemptLog"][0]["statusCode"] == 200
    assert ended["deliveries"] == []
    # The Management API shows the same feed, with both modes unless asked.
    management = dashboard_a.get("/api/v1/events").json()
    assert [e["eventId"] for e in management["events"]] == [e["eventId"] for e in page["events"]]
    assert dashboard_a.get("/api/v1/events?mode=test").json()["events"] == []


@pytest.mark.django_db
def test_pages_follow_the_cursor_and_an_empty_page_keeps_it(api_a, partner_a, emit):
    item = items(api_a, 1)[0]
    ids = [emit(partner_a, "listing.created", item).pk for _ in range(5)]
    one = get_feed(api_a, limit=2)
    assert [e["eventId"] for e in one["events"]] == ids[:2] and one["hasMore"] is True
    two = get_feed(api_a, limit=2, after=one["nextCursor"])
    three = get_feed(api_a, limit=2, after=two["nextCursor"])
    assert [e["eventId"] for e in two["events"] + three["events"]] == ids[2:]
    assert three["hasMore"] is False
    empty = get_feed(api_a, after=three["nextCursor"])
    assert empty == {"events": [], "nextCursor": ids[-1], "hasMore": False}
    assert get_feed(api_a) ["nextCursor"] == ids[-1]  # fmt: skip
    newer = emit(partner_a, "item.sold", item, sale_price=1)
    assert [e["eventId"] for e in get_feed(api_a, after=ids[-1])["events"]] == [newer.pk]


@pytest.mark.django_db
def test_filters(api_a, partner_a, emit, clock):
    first, second = items(api_a, 2)
    emit(partner_a, "listing.created", first)
    clock.shift(3600)
    emit(partner_a, "listing.created", second)
    sold = emit(partner_a, "item.sold", second, sale_price=1)

    def ids(**params):
        return [e["eventId"] for e in get_feed(api_a, **params)["events"]]

    assert ids(type="item.sold") == [sold.pk]
    assert len(ids(type="item.sold,listing.created")) == 3
    assert len(ids(externalId="ERP-1")) == 2
    assert len(ids(createdAfter="2026-11-23T12:30:00Z")) == 2
    assert len(ids(createdBefore="2026-11-23T12:30:00Z")) == 1
    assert len(ids(type="", externalId="", limit="")) == 3


@pytest.mark.django_db
def test_a_key_sees_only_its_modes_events_and_a_partner_only_its_own(
    api_a, api_a_test, api_b, partner_a, emit
):
    live = items(api_a, 1)[0]
    api_a_test.put("T-1")
    test_item = Item.objects.get(external_id="T-1")
    live_event = emit(partner_a, "listing.created", live)
    test_event = emit(partner_a, "listing.created", test_item)
    assert [e["eventId"] for e in get_feed(api_a)["events"]] == [live_event.pk]
    assert [e["eventId"] for e in get_feed(api_a_test)["events"]] == [test_event.pk]
    assert get_feed(api_b)["events"] == []
    # Another mode's or partner's event is no cursor.
    response = api_a_test.client.get(
        "/integration/v1/events", {"after": live_event.pk}, HTTP_X_API_KEY=api_a_test.key
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_an_item_without_events_and_the_test_event_have_their_sequence(
    dashboard_a, partner_a, receiver, worker, committed
):
    services.configure_endpoint(
        partner=partner_a, livemode=True, url=receiver.url(), enabled=True, event_types=[]
    )
    with committed():
        services.send_test_event(partner=partner_a, livemode=True)
    worker()
    [event] = dashboard_a.get("/api/v1/events").json()["events"]
    assert event["eventType"] == "webhook.test" and event["sequence"] is None
    assert "sequence" not in event["payload"]["data"]


# --- Concurrent writers (PostgreSQL) ----------------------------------------------------


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_an_event_that_commits_late_never_lands_behind_the_cursor(partner_a):
    api = integration(partner_a)
    slow_item, fast_item = items(api, 2)
    written, release = threading.Event(), threading.Event()

    def slow_writer():
        with transaction.atomic():
            services.emit(partner_a, "listing.created", slow_item)
            written.set()
            assert release.wait(10)
        connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert written.wait(10)
    fast = services.emit(partner_a, "listing.created", fast_item)  # committed at once
    # The fast event is committed, but the slow transaction began first and is still in
    # flight: the feed holds back rather than show the fast one and move the cursor past
    # the place where the slow one will be.
    page = get_feed(api)
    assert page["events"] == [] and page["nextCursor"] is None
    release.set()
    thread.join(10)
    page = get_feed(api)
    slow = Event.objects.get(item=slow_item)
    assert [e["eventId"] for e in page["events"]] == [slow.pk, fast.pk]


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_paging_under_concurrent_writers_has_no_gap_and_no_repeat(partner_a):
    api = integration(partner_a)
    shared = items(api, 3)
    writers, per_writer = 4, 15
    start = threading.Barrier(writers + 1)
    done = threading.Event()
    finished = []

    def write(n):
        try:
            start.wait()
            for k in range(per_writer):
                # Two events per transaction, on items other writers also write to (in
                # the items' order, as Rheo's jobs lock items: no deadlock).
                first, second = sorted(((n + k) % 3, (n + k + 1) % 3))
                with transaction.atomic():
                    services.emit(partner_a, "listing.created", shared[first])
                    services.emit(partner_a, "item.sold", shared[second], sale_price=k)
        finally:
            connection.close()
            finished.append(n)
            if len(finished) == writers:
                done.set()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    start.wait()
    seen, cursor = [], None
    while True:
        writing = not done.is_set()
        page = feed.read_feed(partner=partner_a, livemode=True, after_id=cursor, limit=7)
        seen += [e.pk for e in page.events]
        cursor = page.next_cursor
        if not writing and not page.has_more:
            break
    for t in threads:
        t.join()
    every = list(
        feed.visible(feed.window(partner=partner_a, livemode=True)).values_list("pk", flat=True)
    )
    assert len(every) == writers * per_writer * 2
    assert len(seen) == len(set(seen)), "an event was shown twice"
    assert seen == every, "an event was skipped, or the order changed"
    # Each item's events are numbered 1, 2, 3… without a gap or a repeat. (In the order
    # they committed: the feed's order, by the transactions' start, may swap two of one
    # item's events written side by side; a consumer keeps the higher sequence.)
    for item in shared:
        numbers = list(
            feed.window(partner=partner_a, livemode=True)
            .filter(item=item)
            .values_list("sequence", flat=True)
        )
        assert sorted(numbers) == list(range(1, len(numbers) + 1))


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_transaction_in_another_database_does_not_hold_the_feed_back(partner_a, settings):
    import psycopg

    api = integration(partner_a)
    [item] = items(api, 1)
    db = settings.DATABASES["default"]
    other = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"],
        dbname="postgres",
    )  # fmt: skip
    try:
        other.execute("SELECT pg_current_xact_id()")  # a write transaction, left open
        event = services.emit(partner_a, "listing.created", item)
        assert [e["eventId"] for e in get_feed(api)["events"]] == [event.pk]
    finally:
        other.close()


# --- The consumer's recipe --------------------------------------------------------------


def docs_consumer():
    """The ten-line example of docs/webhooks.md, as written there."""
    text = DOCS.read_text()
    match = re.search(r"<!-- consumer-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/webhooks.md lost its consumer example"
    code = match.group(1)
    assert len(code.strip().splitlines()) <= 12
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - our own documentation
    return namespace


@pytest.mark.django_db
def test_a_consumer_drops_duplicates_and_out_of_order_events_by_sequence(api_a, partner_a, emit):
    item = items(api_a, 1)[0]
    created = emit(partner_a, "listing.created", item)
    sold = emit(partner_a, "item.sold", item, sale_price=100)
    first, second = (json.loads(e.body) for e in (created, sold))
    consumer = docs_consumer()
    applied = []
    consumer["apply"] = lambda payload: applied.append(payload["eventId"])
    # The sale arrives first, then the creation late, then the sale again (a retry).
    for payload in (second, first, second):
        consumer["handle"](payload)
    assert applied == [sold.pk]
    assert [e["data"]["sequence"] for e in (first, second)] == [1, 2]


@pytest.mark.django_db
def test_the_migration_puts_events_written_before_the_feed_in_order(api_a, partner_a, emit):
    from importlib import import_module

    from django.apps import apps

    from webhooks.models import ItemEventCounter

    first, second = items(api_a, 2)
    written = [
        emit(partner_a, "listing.created", first),
        emit(partner_a, "listing.created", second),
        emit(partner_a, "item.sold", first, sale_price=1),
    ]
    # As the rows were before the migration: no place in the feed, no numbers.
    Event.objects.update(txid=0, position=0, sequence=None)
    ItemEventCounter.objects.all().delete()
    migration = import_module("webhooks.migrations.0003_event_feed")
    migration.backfill(apps, SimpleNamespace(connection=connection))  # all it reads
    page = feed.read_feed(partner=partner_a, livemode=True)
    assert [e.pk for e in page.events] == [e.pk for e in written]
    assert [e.sequence for e in page.events] == [1, 1, 2]
    later = emit(partner_a, "item.sold", second, sale_price=2)
    assert later.sequence == 2
    after = feed.read_feed(partner=partner_a, livemode=True, after_id=written[-1].pk)
    assert [e.pk for e in after.events] == [later.pk]
