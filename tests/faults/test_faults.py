"""The fault suite's scenarios 1, 2, 6 and 9 in short (bench/faults for the full ones), with
real processes: what a partner would notice after a worker is killed or Redis restarts
empty is that every part is listed exactly once, that a part it sold is no longer on
sale on Tradera, and that a reconciliation de-lists what it showed, once."""

import threading
import time

import pytest
import requests

from bench.common import HOST
from items import reconciliations
from items.models import Item, Reconciliation
from tests.conftest import integration, needs_postgres, needs_redis
from tests.faults.conftest import auctions_by_item
from tests.items.imagehost import jpeg_bytes
from tests.items.test_reconciliations import stock
from tradera.models import TraderaListing

pytestmark = [needs_postgres, needs_redis, pytest.mark.django_db(transaction=True)]

WAIT = 90  # seconds; the shortened sweeps and leases need far less


def wait_for(predicate, timeout=WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


def published(external_ids, sandbox) -> bool:
    items = Item.objects.filter(external_id__in=external_ids, status=Item.Status.ACTIVE)
    listed = TraderaListing.objects.filter(item__in=items, status=TraderaListing.Status.ACTIVE)
    return listed.count() == len(external_ids)


def assert_listed_exactly_once(external_ids, sandbox) -> None:
    auctions = auctions_by_item(sandbox)
    for item in Item.objects.filter(external_id__in=external_ids):
        assert item.status == Item.Status.ACTIVE, item.external_id
        states = [a["state"] for a in auctions.get(str(item.id), [])]
        assert states == ["active"], (item.external_id, states)


def test_a_worker_killed_three_times_mid_burst_still_lists_every_part_once(rheo, erp, sandbox):
    ids = [f"P-{n}" for n in range(1, 7)]
    pushing = erp.push(ids, per_second=2)
    for _ in range(3):
        time.sleep(0.7)
        rheo["worker"].kill()  # SIGKILL to its whole process group
        time.sleep(0.5)
        rheo["worker"].start()
    pushing.join()

    assert wait_for(lambda: published(ids, sandbox)), rheo.logs()
    assert_listed_exactly_once(ids, sandbox)


def test_redis_restarting_empty_three_times_mid_burst_still_lists_every_part_once(
    rheo, erp, sandbox, private_redis
):
    ids = [f"P-{n}" for n in range(1, 7)]
    pushing = erp.push(ids, per_second=2)
    for _ in range(3):
        time.sleep(1)
        # Down for 2 s, then up again without the queued and unacknowledged messages.
        private_redis.restart_empty(down_seconds=2)
    pushing.join()

    assert wait_for(lambda: published(ids, sandbox)), rheo.logs()
    assert_listed_exactly_once(ids, sandbox)
    assert all(c.died() is None for c in rheo.components.values()), rheo.logs()


def test_a_redis_restart_while_a_job_runs_leaves_the_worker_alive_and_at_work(
    rheo, erp, images, sandbox, private_redis
):
    """The worker holds a running job's message unacknowledged when Redis goes away:
    Celery 5.7.0 died here ("Unrecoverable error: AttributeError ... 'hostname'"), and
    nothing took the images and tradera queues any more."""
    downloading, go_on = threading.Event(), threading.Event()

    def held(_hit):
        downloading.set()
        go_on.wait(30)
        return 200, jpeg_bytes()

    images.serve("/G-1.jpg", held)
    images.serve("/G-2.jpg", jpeg_bytes())
    erp.put("G-1")
    assert downloading.wait(WAIT), rheo.logs()
    private_redis.restart_empty(down_seconds=2)
    time.sleep(1)  # the worker meets the closed connection while the job still runs
    go_on.set()

    erp.put("G-2")  # work that reaches the worker only after it has reconnected
    assert wait_for(lambda: published(["G-1", "G-2"], sandbox)), states() + rheo.logs()
    assert_listed_exactly_once(["G-1", "G-2"], sandbox)
    assert rheo["worker"].died() is None, rheo.logs()


def test_every_auction_ends_when_parts_are_marked_sold_while_the_worker_dies(rheo, erp, sandbox):
    """Tradera answers the first EndItem of each auction with a 500, so the worker holds
    every end's retry (a countdown) when it is SIGKILLed: the moment the issue's double
    sale came from, made certain rather than left to chance."""
    ids = [f"P-{n}" for n in range(1, 5)]
    erp.push(ids, per_second=4).join()
    assert wait_for(lambda: published(ids, sandbox)), rheo.logs()

    sandbox.fail("server_error", operation="EndItem", count=len(ids))
    for external_id in ids:
        erp.mark_sold(external_id)
    assert wait_for(lambda: sandbox.calls().get("EndItem", 0) >= len(ids), 30), rheo.logs()
    rheo["worker"].kill()
    time.sleep(0.5)
    rheo["worker"].start()

    def all_ended() -> bool:
        auctions = auctions_by_item(sandbox)
        sold = Item.objects.filter(external_id__in=ids, status=Item.Status.SOLD)
        return len(sold) == len(ids) and not any(
            a["state"] in ("queued", "active") for i in sold for a in auctions.get(str(i.id), [])
        )

    assert wait_for(all_ended), _running(ids, sandbox) + rheo.logs()


def states() -> str:
    rows = Item.objects.values_list("external_id", "status", "tradera_listing__status")
    return f"items: {sorted(rows)}\n"


def _running(ids, sandbox) -> str:
    auctions = auctions_by_item(sandbox)
    running = [
        i.external_id
        for i in Item.objects.filter(external_id__in=ids)
        if any(a["state"] == "active" for a in auctions.get(str(i.id), []))
    ]
    return f"auctions still running for parts marked sold: {running}\n"


def test_a_reconciliation_apply_whose_worker_is_killed_delists_each_absent_item_once(
    rheo, partner_a
):
    """The fault suite's scenario 9 in short: the worker is SIGKILLed the moment the apply
    job claims the reconciliation, with its first chunk in hand. Once the lease runs out
    the sweeper hands the job on; it de-lists each absent item exactly once and leaves the
    items in the set as they were."""
    absent = [f"R{n:03}" for n in range(reconciliations.CHUNK + 50)]
    kept = ["K1", "K2", "K3"]
    rheo["worker"].kill()  # the stock is made ready here: no image or channel job left
    stock(partner_a, *absent, *kept, livemode=False)
    Item.objects.update(processing_due_at=None, channels_due_at=None)
    rheo["worker"].start()
    before = {
        i.external_id: (i.status, i.updated_at) for i in Item.objects.filter(external_id__in=kept)
    }
    api = f"http://{HOST}:{rheo.port}/integration/v1/reconciliations"
    headers = {"x-api-key": integration(partner_a, "test").key}
    preview = requests.post(api, json={"externalIds": kept}, headers=headers, timeout=30).json()
    assert preview["absent"] == len(absent)

    answer = requests.post(f"{api}/{preview['id']}/apply", json={"force": True}, headers=headers)
    assert answer.status_code == 202
    claimed = Reconciliation.objects.filter(pk=preview["id"], apply_locked_until__isnull=False)
    deadline = time.monotonic() + 30
    while not claimed.exists() and time.monotonic() < deadline:
        time.sleep(0.002)  # the job de-lists a chunk in a fraction of a second
    rheo["worker"].kill()
    at_kill = Reconciliation.objects.get(pk=preview["id"])
    rheo["worker"].start()

    def applied() -> dict:
        return requests.get(f"{api}/{preview['id']}", headers=headers, timeout=30).json()

    assert wait_for(lambda: applied()["status"] == "applied"), rheo.logs()
    assert (at_kill.status, at_kill.done_count < len(absent)) == ("applying", True)
    assert applied()["progress"] == {
        "total": len(absent), "done": len(absent), "delisted": len(absent), "skipped": 0
    }  # fmt: skip
    for item in Item.objects.filter(external_id__in=absent):
        assert item.status == Item.Status.NOT_LISTED, item.external_id
        assert item.activities.filter(kind="reconciled").count() == 1, item.external_id
    after = {
        i.external_id: (i.status, i.updated_at) for i in Item.objects.filter(external_id__in=kept)
    }
    assert after == before
