"""The sync notices sales and unsold ends on Tradera and tells the partner, once; and a
partner's test key can make them happen on demand."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from items.models import Item
from tests.conftest import item_body
from tests.tradera.conftest import push
from tradera import sync
from tradera.models import TraderaAccount, TraderaListing
from webhooks.models import Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rheo_on_the_sandbox")]


@pytest.fixture
def live(api_a_test, committed, worker, photo):
    push(api_a_test, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert listing.status == "active"
    return listing.tradera_item_id


def sync_pass(committed, worker):
    account = TraderaAccount.objects.get()
    with committed():
        result = sync.sync_account(account_id=account.pk)
    worker()
    return result


def payloads(event_type) -> list[dict]:
    return [json.loads(e.body) for e in Event.objects.filter(event_type=event_type)]


def test_a_sale_on_tradera_marks_the_item_sold_and_sends_item_sold_once(
    api_a_test, committed, worker, sandbox, live
):
    sandbox.bid(live, 1100)
    sandbox.end(live)
    result = sync_pass(committed, worker)
    assert (result.sales, result.unsold) == (1, 0)

    body = api_a_test.get("ERP_PART_12345").json()
    assert (body["rheoStatus"], body["traderaStatus"]) == ("sold", "sold")
    [sold] = payloads("item.sold")
    assert sold["data"]["salePrice"] == 1100
    assert sold["data"]["platform"] == "tradera"
    assert sold["data"]["traderaAdId"] == str(live)
    assert sold["data"]["traderaAdUrl"] == f"{sandbox.url}item/{live}"  # test mode's ad page
    listing = TraderaListing.objects.get()
    assert (listing.sale_price, listing.buyer_alias) == (1100, "budgivare")

    sync_pass(committed, worker)  # a second pass, or one interrupted and run again
    assert len(payloads("item.sold")) == 1


def test_an_auction_that_ends_unsold_sends_listing_ended(
    api_a_test, committed, worker, sandbox, live
):
    sandbox.end(live)
    result = sync_pass(committed, worker)
    assert (result.sales, result.unsold) == (0, 1)
    body = api_a_test.get("ERP_PART_12345").json()
    assert (body["rheoStatus"], body["traderaStatus"]) == ("active", "ended")
    [ended] = payloads("listing.ended")
    assert ended["data"]["traderaAdId"] == str(live)
    assert ended["data"]["traderaAdUrl"] == f"{sandbox.url}item/{live}"
    sync_pass(committed, worker)
    assert len(payloads("listing.ended")) == 1


def calls_of_a_pass(sandbox, committed, worker) -> dict[str, int]:
    """The Tradera calls one sync pass makes, as the sandbox counted them."""
    before = sandbox.calls()
    sync_pass(committed, worker)
    after = sandbox.calls()
    return {op: after[op] - before.get(op, 0) for op in after if after[op] > before.get(op, 0)}


def test_a_pass_spends_two_calls_however_many_listings_and_changes_there_are(
    api_a_test, committed, worker, photo, sandbox
):
    push(api_a_test, committed, photo, external_id="P0")
    worker()
    sync_pass(committed, worker)  # catches up on the publishing
    sandbox.end(TraderaListing.objects.get().tradera_item_id)  # one listing, one change
    one = calls_of_a_pass(sandbox, committed, worker)

    for n in range(1, 10):
        push(api_a_test, committed, photo, external_id=f"P{n}")
    worker()
    running = TraderaListing.objects.filter(status="active").order_by("pk")
    assert running.count() == 9
    for listing in running[:3]:
        sandbox.end(listing.tradera_item_id)
    for listing in running[3:6]:
        sandbox.bid(listing.tradera_item_id, 1200)
        sandbox.end(listing.tradera_item_id)
    many = calls_of_a_pass(sandbox, committed, worker)  # ten listings, six changes

    assert one == many == {"GetSellerOrders": 1, "GetSellerItems": 1}
    assert len(payloads("listing.ended")) == 4
    assert len(payloads("item.sold")) == 3


def test_a_won_auction_waits_for_its_order_and_never_sends_listing_ended(
    api_a_test, committed, worker, sandbox, live
):
    sandbox.settings(orderSeconds=30)  # Tradera makes the order half a minute after the end
    sandbox.bid(live, 1100)
    sandbox.end(live)

    result = sync_pass(committed, worker)  # ended, won, no order yet

    assert (result.sales, result.unsold) == (0, 0)
    assert api_a_test.get("ERP_PART_12345").json()["traderaStatus"] == "active"
    assert payloads("listing.ended") == []

    sandbox.advance(seconds=31)
    result = sync_pass(committed, worker)

    assert (result.sales, result.unsold) == (1, 0)
    body = api_a_test.get("ERP_PART_12345").json()
    assert (body["rheoStatus"], body["traderaStatus"]) == ("sold", "sold")
    assert [p["data"]["salePrice"] for p in payloads("item.sold")] == [1100]
    assert payloads("listing.ended") == []


def test_a_won_auction_whose_order_never_comes_ends_unsold_after_a_day(
    api_a_test, committed, worker, sandbox, live
):
    sandbox.settings(orderSeconds=30 * 86_400)  # never, as far as this test goes
    sandbox.bid(live, 1100)
    sandbox.end(live)
    sync_pass(committed, worker)
    assert payloads("listing.ended") == []

    with time_machine.travel(timezone.now() + timedelta(hours=25), tick=True):
        result = sync_pass(committed, worker)

    assert (result.sales, result.unsold) == (0, 1)
    assert api_a_test.get("ERP_PART_12345").json()["traderaStatus"] == "ended"
    assert len(payloads("listing.ended")) == 1


def test_simulate_sold_sends_the_real_webhook(api_a_test, committed, worker, live):
    with committed():
        response = api_a_test._call(
            "post", "ERP_PART_12345/simulate", {"event": "sold", "salePrice": 1100}
        )
    assert response.status_code == 202
    worker()  # the account's sync runs at once
    assert Item.objects.get().status == "sold"
    assert payloads("item.sold")[0]["data"]["salePrice"] == 1100


def test_a_second_simulated_sale_before_the_sync_is_a_conflict(api_a_test, live):
    # No worker runs between the two: the first sale's sync has not told the listing yet.
    sold = {"event": "sold", "salePrice": 1100}
    assert api_a_test._call("post", "ERP_PART_12345/simulate", sold).status_code == 202

    again = api_a_test._call("post", "ERP_PART_12345/simulate", sold)

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert "already ended" in again.json()["error"]["message"]


def test_simulate_ended_and_failed(api_a_test, committed, worker, photo, live):
    with committed():
        api_a_test._call("post", "ERP_PART_12345/simulate", {"event": "ended"})
    worker()
    assert len(payloads("listing.ended")) == 1

    push(api_a_test, committed, photo, external_id="P2")
    worker()
    with committed():
        response = api_a_test._call(
            "post", "P2/simulate", {"event": "failed", "errorCode": "tradera_token_expired"}
        )
    assert response.status_code == 202
    [failed] = payloads("listing.failed")
    assert failed["data"]["error"]["code"] == "tradera_token_expired"
    assert api_a_test.get("P2").json()["traderaStatus"] == "sync_error"


def test_simulate_is_for_test_keys_and_running_auctions(api_a, api_a_test, committed, worker):
    refused = api_a._call("post", "X/simulate", {"event": "sold"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    with committed():
        api_a_test.put("NOPE", item_body(autoPublishTradera=False))
    no_auction = api_a_test._call("post", "NOPE/simulate", {"event": "sold"})
    assert no_auction.status_code == 409
    bad = api_a_test._call("post", "NOPE/simulate", {"event": "exploded"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"event"}


def test_an_account_whose_sync_fails_does_not_stop_the_others(
    api_a_test, api_b, partner_b, committed, worker, photo, sandbox, live
):
    from tests.conftest import integration

    api_b_test = integration(partner_b, "test")
    push(api_b_test, committed, photo, external_id="B-1")
    worker()
    account_a = TraderaAccount.objects.get(partner__name="Recopart AB")
    sandbox.expire_token(sync.Seller(account_a.user_id, account_a.token))
    b_item = TraderaListing.objects.get(item__external_id="B-1").tradera_item_id
    sandbox.bid(b_item, 999)
    sandbox.end(b_item)

    with committed():
        assert sync.sync_all_accounts() == 2  # one job per account
    worker()  # A's job fails; B's records its sale
    assert [p["data"]["externalId"] for p in payloads("item.sold")] == ["B-1"]
    assert TraderaAccount.objects.get(pk=account_a.pk).last_sync_error != ""


def test_the_item_timeline_says_when_tradera_last_confirmed_its_state(
    api_a_test, committed, worker, live, partner_a
):
    from django.test import Client

    browser = Client()
    browser.login(username="ops@recopart.example", password="pw-for-tests")  # noqa: S106
    browser.post("/dashboard/mode", {"mode": "test"})
    page = f"/dashboard/items/{Item.objects.get().pk}/"
    assert "Not checked with Tradera since the auction went live" in browser.get(page).text
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sync_pass(committed, worker)
        clock.shift(timedelta(minutes=4))
        text = browser.get(page).text
    assert "Tradera state checked with Tradera 4\xa0minutes ago" in text
