"""A running auction follows the item: its price, and its end when the item leaves the
marketplace; and the partner learns what Tradera refused once bids are in."""

import pytest

from tests.tradera.conftest import push
from tradera.models import TraderaListing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rheo_on_the_sandbox")]


@pytest.fixture
def live(api_a_test, committed, worker, photo, sandbox):
    """A test item with a running sandbox auction; returns the auction's id."""
    push(api_a_test, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert listing.status == "active"
    return listing.tradera_item_id


def change(api, committed, worker, call, *args):
    with committed():
        response = getattr(api, call)("ERP_PART_12345", *args)
    assert response.status_code == 202, response.content
    worker()
    return response


def test_a_new_price_reaches_the_auction(api_a_test, committed, worker, sandbox, live):
    change(api_a_test, committed, worker, "patch_price", {"price": 1200})
    assert sandbox.auction(live)["startPrice"] == 1200
    body = api_a_test.get("ERP_PART_12345").json()
    assert (body["price"], body["issues"]) == (1200, [])


def test_with_bids_the_price_stays_and_the_partner_is_told(
    api_a_test, committed, worker, sandbox, live
):
    sandbox.bid(live, 1000)
    change(api_a_test, committed, worker, "patch_price", {"price": 1200})
    assert sandbox.auction(live)["startPrice"] == 950
    body = api_a_test.get("ERP_PART_12345").json()
    assert body["price"] == 1200  # Rheo's price changed at once all the same
    [issue] = body["issues"]
    assert issue["code"] == "tradera_price_locked_by_bids"
    assert issue["field"] is None


def test_de_listing_ends_the_auction(api_a_test, committed, worker, sandbox, live):
    change(api_a_test, committed, worker, "patch_status", {"status": "not_listed"})
    assert sandbox.auction(live)["state"] == "ended"
    assert api_a_test.get("ERP_PART_12345").json()["traderaStatus"] == "ended"


def test_an_auction_with_bids_runs_on_and_the_partner_is_told(
    api_a_test, committed, worker, sandbox, live
):
    sandbox.bid(live, 1000)
    change(api_a_test, committed, worker, "patch_status", {"status": "sold"})
    assert sandbox.auction(live)["state"] == "active"
    body = api_a_test.get("ERP_PART_12345").json()
    assert body["traderaStatus"] == "active"
    assert [i["code"] for i in body["issues"]] == ["tradera_end_refused_has_bids"]


def test_delete_takes_the_auction_down(api_a_test, committed, worker, sandbox, live):
    change(api_a_test, committed, worker, "delete")
    assert sandbox.auction(live)["state"] == "ended"
    assert TraderaListing.objects.get().status == "ended"
