"""An auction that ends unsold on Tradera is relisted at a stepped-down price, linked to
its predecessor, down to the floor: against the real sandbox, with the events and their
payloads, the item's price and timeline, and GET's relist state."""

import json
from datetime import timedelta

import pytest

from items.models import Item, ItemActivity
from tests.conftest import item_body
from tests.tradera.conftest import publish_all
from tradera import sync
from tradera.models import RelistRules, TraderaAccount, TraderaListing
from webhooks.models import Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rheo_on_the_sandbox")]

RELIST = {"enabled": True, "maxRelists": 3, "stepPercent": 10, "floorPrice": 800}


def listing_events() -> list[tuple[str, dict]]:
    events = Event.objects.filter(event_type__in=["listing.created", "listing.ended"])
    return [(e.event_type, json.loads(e.body)["data"]) for e in events.order_by("pk")]


def end_unsold_and_sync(sandbox, committed, worker, clock) -> int:
    """The running auction ends with no bid; a sync pass records it; the worker does what
    follows (the relist's publish). Returns the auction that ended."""
    ended = TraderaListing.objects.get().tradera_item_id
    sandbox.end(ended)
    with committed():
        sync.sync_account(account_id=TraderaAccount.objects.get().pk)
    publish_all(worker, clock)
    return ended


def put(api, committed, photo, **overrides):
    with committed():
        response = api.put("P1", item_body(imageUrls=[photo], price=1000, **overrides))
    assert response.status_code in (200, 202), response.json()
    return response


def test_a_relist_chain_steps_down_to_the_floor_then_stays_on_the_marketplace(
    clock, api_a_test, committed, worker, sandbox, photo
):
    put(api_a_test, committed, photo, relist=RELIST)
    worker()
    first = TraderaListing.objects.get()
    assert first.status == "active"
    assert sandbox.auction(first.tradera_item_id)["startPrice"] == 1000

    chain, prices = [first.tradera_item_id], []
    for _ in range(2):
        end_unsold_and_sync(sandbox, committed, worker, clock)
        listing = TraderaListing.objects.get()
        assert listing.status == "active"
        assert listing.tradera_item_id not in chain  # a new auction, a new id
        chain.append(listing.tradera_item_id)
        prices.append(sandbox.auction(listing.tradera_item_id)["startPrice"])
    assert prices == [900, 800]  # 10 % of the first price a step, down to the floor
    assert [sandbox.auction(i)["state"] for i in chain] == ["ended", "ended", "active"]

    body = api_a_test.get("P1").json()
    assert body["price"] == 800
    assert body["traderaAdId"] == str(chain[-1])
    assert body["relist"] == {
        "enabled": True,
        "relistCount": 2,
        "maxRelists": 3,
        "previousTraderaAdId": str(chain[1]),
        "nextPrice": None,  # at the floor: no more relists
        "nextAt": None,
    }

    # At the floor the last auction ends unsold: no relist, the item stays on sale.
    end_unsold_and_sync(sandbox, committed, worker, clock)
    assert TraderaListing.objects.get().status == "ended"
    item = Item.objects.get()
    assert (item.status, item.price) == ("active", 800)

    events = listing_events()
    assert [t for t, _ in events] == [
        "listing.created",
        "listing.ended",
        "listing.created",
        "listing.ended",
        "listing.created",
        "listing.ended",
    ]
    links = [(d["traderaAdId"], d["relistCount"], d["previousTraderaAdId"]) for _, d in events]
    a, b, c = (str(i) for i in chain)
    assert links == [
        (a, 0, None),
        (a, 0, None),
        (b, 1, a),
        (b, 1, a),
        (c, 2, b),
        (c, 2, b),
    ]
    timeline = list(ItemActivity.objects.filter(item=item).values_list("message", flat=True))
    assert any("Relist 1 of 3" in m and f"replaces {a}" in m for m in timeline)
    assert any("Relist 2 of 3" in m and f"replaces {b}" in m for m in timeline)
    assert any("Not relisted on Tradera: the floor" in m for m in timeline)


def test_partner_rules_apply_and_an_item_without_rules_is_not_relisted(
    clock, api_a_test, partner_a, committed, worker, sandbox, photo
):
    put(api_a_test, committed, photo)
    worker()
    end_unsold_and_sync(sandbox, committed, worker, clock)
    assert TraderaListing.objects.get().status == "ended"  # relisting is off by default
    assert api_a_test.get("P1").json()["relist"]["relistCount"] == 0

    RelistRules.objects.create(
        partner=partner_a, enabled=True, max_relists=1, step_percent=None, step_amount=150
    )
    with committed():
        api_a_test.put("P2", item_body(imageUrls=[photo], price=1000))
    worker()
    listing = TraderaListing.objects.get(item__external_id="P2")
    body = api_a_test.get("P2").json()
    assert (body["relist"]["nextPrice"], body["relist"]["maxRelists"]) == (850, 1)
    sandbox.end(listing.tradera_item_id)
    with committed():
        sync.sync_account(account_id=TraderaAccount.objects.get().pk)
    publish_all(worker, clock)
    listing.refresh_from_db()
    assert listing.status == "active"
    assert sandbox.auction(listing.tradera_item_id)["startPrice"] == 850
    assert api_a_test.get("P2").json()["relist"]["nextPrice"] is None  # maxRelists made


def test_patch_price_restarts_the_schedule_and_not_listed_stops_relisting(
    clock, api_a_test, committed, worker, sandbox, photo
):
    put(api_a_test, committed, photo, relist={**RELIST, "maxRelists": 1})
    worker()
    end_unsold_and_sync(sandbox, committed, worker, clock)
    assert api_a_test.get("P1").json()["relist"]["nextPrice"] is None  # the one relist made

    with committed():
        assert api_a_test.patch_price("P1", {"price": 1200}).status_code in (200, 202)
    worker()
    relist = api_a_test.get("P1").json()["relist"]
    assert (relist["relistCount"], relist["nextPrice"]) == (1, 1080)  # a new schedule

    with committed():
        assert api_a_test.patch_status("P1", {"status": "not_listed"}).status_code in (200, 202)
    worker()
    listing = TraderaListing.objects.get()
    assert listing.status == "ended"  # the auction was ended, and is not relisted
    assert api_a_test.get("P1").json()["relist"]["nextPrice"] is None


def test_the_relist_object_is_validated(api_a_test, photo):
    response = api_a_test.put(
        "P1", item_body(imageUrls=[photo], relist={"stepPercent": 10, "stepAmount": 50})
    )
    assert response.status_code == 400
    assert "stepAmount" in json.dumps(response.json())


def test_batch_items_carry_their_relist_object_and_an_identical_put_keeps_the_step(
    clock, api_a_test, committed, worker, sandbox, photo
):
    from tests.items.test_item_batch import entry, post_batch

    with committed():
        answer = post_batch(
            api_a_test,
            [
                entry(
                    "B1",
                    imageUrls=[photo],
                    price=1000,
                    relist={**RELIST, "stepAmount": 250, "stepPercent": None},
                ),
                entry("B2", imageUrls=[photo], relist={"stepPercent": 5, "stepAmount": 5}),
            ],
        )
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert results[1]["error"]["fields"] == {
        "relist.stepAmount": ["Give stepPercent or stepAmount, not both."]
    }
    worker()
    assert Item.objects.get(external_id="B1").relist["stepAmount"] == 250
    assert api_a_test.get("B1").json()["relist"]["nextPrice"] == 800  # 1000 - 250, floor 800

    end_unsold_and_sync(sandbox, committed, worker, clock)
    assert Item.objects.get(external_id="B1").price == 800
    # The ERP sends the item again as it was: unchanged, so the stepped-down price stays.
    with committed():
        again = post_batch(
            api_a_test,
            [
                entry(
                    "B1",
                    imageUrls=[photo],
                    price=1000,
                    relist={**RELIST, "stepAmount": 250, "stepPercent": None},
                )
            ],
        )
    assert again.json()["results"][0]["outcome"] == "unchanged", again.json()
    assert Item.objects.get(external_id="B1").price == 800


def test_the_wait_holds_the_relist_back_until_it_is_due_then_the_sweeper_publishes_it(
    clock, api_a_test, committed, worker, sandbox, photo
):
    put(api_a_test, committed, photo, relist={**RELIST, "waitHours": 6})
    worker()
    first = TraderaListing.objects.get().tradera_item_id
    sandbox.end(first)
    with committed():
        sync.sync_account(account_id=TraderaAccount.objects.get().pk)
    worker()
    worker.sweep_listings()
    worker()
    listing = TraderaListing.objects.get()
    assert (listing.status, listing.request_id) == ("pending_sync", None)  # nothing sent yet
    relist = api_a_test.get("P1").json()["relist"]
    assert relist["nextPrice"] == 900
    assert relist["nextAt"] == listing.next_attempt_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    clock.shift(timedelta(hours=6, minutes=1))
    worker.sweep_listings()  # no message was sent for it: beat's sweeper finds it due
    publish_all(worker, clock)
    listing.refresh_from_db()
    assert listing.status == "active" and listing.tradera_item_id != first
    assert sandbox.auction(listing.tradera_item_id)["startPrice"] == 900
