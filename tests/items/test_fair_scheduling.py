"""One partner's import does not delay another partner's single item: partners take turns
at the image jobs (and at Tradera publishes), a few items at a time (partners.backlog).

The workers are driven in the broker's own order, one message at a time, as a worker with
one slot would take them; what was done first is read from the items' timelines."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import groupby

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from items import pipeline
from items.models import Item, ItemActivity
from partners import backlog, subscriptions
from partners.models import BacklogToken
from rheo.celery import app as celery_app
from tests.conftest import item_body, needs_postgres
from tests.items.imagehost import ImageHost, jpeg_bytes
from tests.items.test_item_batch import entry, post_batch

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def room_for_imports(partner_a, partner_b):
    for partner in (partner_a, partner_b):
        subscriptions.change_plan(partner=partner, plan_code="enterprise", staff=True)


@pytest.fixture
def host():
    h = ImageHost()
    yield h
    h.close()


def run_in_queue_order(capture, queue: str = "images", limit: int = 1000) -> list[tuple]:
    """Take the queue's messages one at a time, first in first out, and run each (with
    what it sends after its commit) before taking the next; those sent with a countdown
    (retries, polls for later) are set aside. (task name, args) of each message run."""
    ran: list[tuple] = []
    with celery_app.connection_for_read() as conn:
        simple = conn.SimpleQueue(queue)
        try:
            while len(ran) < limit:
                try:
                    message = simple.get(block=False)
                except simple.Empty:
                    break
                message.ack()
                if message.headers.get("eta"):
                    continue
                name, args = message.headers["task"], message.payload[0]
                with capture():
                    celery_app.tasks[name](*args)
                ran.append((name, args))
        finally:
            simple.close()
    return ran


def processed_order() -> list[str]:
    """The external ids of items in the order their image job finished."""
    return list(
        ItemActivity.objects.filter(kind="images")
        .order_by("pk")
        .values_list("item__external_id", flat=True)
    )


def import_items(api, committed, host, prefix: str, count: int, outcome="created") -> None:
    """`count` items through the batch endpoint, 100 a request, one image each."""
    url = host.serve(f"/{prefix}.jpg", jpeg_bytes())
    ids = [f"{prefix}{n:04d}" for n in range(count)]
    for start in range(0, count, 100):
        with committed():
            response = post_batch(
                api,
                [
                    entry(i, imageUrls=[url], autoPublishTradera=False)
                    for i in ids[start : start + 100]
                ],
            )
        assert response.status_code == 200
        assert {r["outcome"] for r in response.json()["results"]} == {outcome}


def test_a_single_put_waits_behind_a_few_items_of_anothers_import_not_all_of_them(
    api_a, api_b, committed, worker, host, broker_messages
):
    import_items(api_a, committed, host, "A", 150)
    with committed():
        response = api_b.put("B-ONE", item_body(imageUrls=[host.serve("/b.jpg", jpeg_bytes())]))
    assert response.status_code == 202

    ran = run_in_queue_order(committed)

    order = processed_order()
    tokens = settings.RHEO_BACKLOG_TOKENS
    # B's item is done after at most A's tokens' worth of A's items, not after 150.
    assert order.index("B-ONE") <= tokens
    assert len(order) == 151 and len(set(order)) == 151  # each item once
    assert Item.objects.filter(status=Item.Status.ACTIVE).count() == 151
    # A's import sent no message per item: its tokens, each back in line after an item.
    assert ("items.process_item", [str(Item.objects.get(external_id="B-ONE").pk)]) in ran
    assert sum(name == "items.process_item" for name, _ in ran) == 1
    # Then the tokens went idle; nothing is left queued.
    assert broker_messages("images") == []
    assert not BacklogToken.objects.filter(beat_at__isnull=False).exists()


def test_two_imports_take_turns(api_a, api_b, committed, worker, host):
    import_items(api_a, committed, host, "A", 30)
    import_items(api_b, committed, host, "B", 10)

    run_in_queue_order(committed)

    order = [external_id[0] for external_id in processed_order()]
    tokens = settings.RHEO_BACKLOG_TOKENS
    # B's ten are done among A's first, a partner's tokens' worth at a time: B's last
    # is done once A has done no more than as many of its own (and a turn's worth).
    assert order.count("A") == 30 and order.count("B") == 10
    last_b = len(order) - 1 - order[::-1].index("B")
    assert order[: last_b + 1].count("A") <= 10 + tokens
    # Neither waits for more than the other's tokens' worth of items at a time.
    runs = [len(list(run)) for _, run in groupby(order[: last_b + 1])]
    assert max(runs) <= tokens


def test_the_sweeper_sends_a_lost_token_again_and_the_lost_one_does_nothing_late(
    api_a, committed, worker, host, broker_messages, clock
):
    import_items(api_a, committed, host, "A", 3)
    lost = broker_messages("images")  # the broker lost the tokens
    assert [name for name, _ in lost] == ["items.process_backlog"] * 2

    assert worker.sweep_items() == 0  # sent just now: not taken as lost yet
    clock.shift(pipeline.nudge_grace() + timedelta(seconds=1))
    assert worker.sweep_items() == 2  # the partner's two tokens, numbered anew
    assert worker.sweep_items() == 0  # out again: not sent twice

    # The lost messages turn up after all: replaced, they do nothing.
    for _name, args in lost:
        pipeline.process_backlog(partner_id=args[0], slot=args[1], generation=args[2])
    assert processed_order() == []

    worker()
    assert sorted(processed_order()) == ["A0000", "A0001", "A0002"]
    assert host.hits == {"/A.jpg": 3}
    assert worker.sweep_items() == 0


def test_a_token_lost_between_turns_is_sent_again(
    api_a, committed, worker, host, broker_messages, clock
):
    import_items(api_a, committed, host, "A", 5)
    # Each token does one item and sends itself again; those messages are lost.
    worker(lose_nudges=True)
    assert len(processed_order()) == 2
    assert broker_messages("images") == []

    clock.shift(pipeline.nudge_grace() + timedelta(seconds=1))
    assert worker.sweep_items() == 2
    worker()
    assert len(processed_order()) == 5
    assert Item.objects.filter(status=Item.Status.ACTIVE).count() == 5


def test_a_duplicate_token_does_no_work_twice(api_a, committed, worker, host, broker_messages):
    import_items(api_a, committed, host, "A", 4)
    [first, _second] = broker_messages("images")
    _name, (partner_id, slot, generation) = first

    with committed():
        pipeline.process_backlog(partner_id=partner_id, slot=slot, generation=generation)
    with committed():  # the same message again (a redelivery)
        pipeline.process_backlog(partner_id=partner_id, slot=slot, generation=generation)

    assert processed_order() == ["A0000"]
    # The first sent itself on (one message, numbered on); the duplicate sent nothing.
    assert broker_messages("images") == [
        ("items.process_backlog", [partner_id, slot, generation + 1])
    ]


def test_a_token_and_the_items_own_nudge_do_it_once(api_a, committed, worker, host):
    """An item updated by a single PUT while it waits in its partner's backlog: the PUT's
    nudge and a token both reach it; the lease lets one of them do it."""
    import_items(api_a, committed, host, "A", 1)
    with committed():
        response = api_a.put(
            "A0000", item_body(imageUrls=[host.serve("/new.jpg", jpeg_bytes(color=(1, 2, 3)))])
        )
    assert response.status_code == 202
    worker()
    assert processed_order() == ["A0000"]
    assert host.hits == {"/new.jpg": 1}


def test_an_import_with_nothing_due_sends_no_token(api_a, committed, host, broker_messages):
    import_items(api_a, committed, host, "A", 2)
    broker_messages("images")
    Item.objects.update(processing_due_at=None)
    import_items(api_a, committed, host, "A", 2, outcome="unchanged")
    assert broker_messages("images") == []
    Item.objects.update(processing_due_at=timezone.now() + timedelta(minutes=1))
    assert pipeline.sweep_items() == 0  # due later: a retry's own nudge will come


def test_a_token_past_a_lowered_limit_retires(api_a, committed, worker, host, broker_messages):
    import_items(api_a, committed, host, "A", 3)
    tokens = broker_messages("images")
    settings.RHEO_BACKLOG_TOKENS = 1  # lowered while the tokens are out (restored below)
    try:
        for _name, args in tokens:
            with committed():
                pipeline.process_backlog(partner_id=args[0], slot=args[1], generation=args[2])
        assert processed_order() == ["A0000"]  # slot 0 did one; slot 1 retired
        assert [args[1] for _name, args in broker_messages("images")] == [0]
    finally:
        settings.RHEO_BACKLOG_TOKENS = 2


@needs_postgres
def test_concurrent_tokens_claim_each_item_once(transactional_db, partner_a):
    """Tokens of one partner running at once, on PostgreSQL (FOR UPDATE SKIP LOCKED):
    every due item is claimed exactly once."""
    Item.objects.bulk_create(
        Item(
            partner=partner_a,
            livemode=True,
            external_id=f"C{n}",
            title="t",
            price=1,
            shipping_cost=0,
        )
        for n in range(40)
    )
    barrier = threading.Barrier(4)

    def claim_all() -> list:
        barrier.wait()
        claimed = []
        try:
            while (pk := backlog.claim_next(pipeline.IMAGES, partner_a.pk)) is not None:
                claimed.append(pk)
        finally:
            connection.close()
        return claimed

    with ThreadPoolExecutor(4) as pool:
        claims = [pk for claimed in pool.map(lambda _: claim_all(), range(4)) for pk in claimed]
    assert len(claims) == 40 and len(set(claims)) == 40
