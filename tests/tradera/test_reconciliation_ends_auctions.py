"""A reconciliation's apply de-lists through the item's lifecycle, so the de-listed items'
running auctions end as they would on a PATCH status; one with bids runs on and the partner
is told."""

import pytest

from tests.items.test_reconciliations import apply, preview, run_jobs
from tests.tradera.conftest import publish_all, push
from tradera.models import TraderaListing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rheo_on_the_sandbox")]


def test_applying_ends_the_absent_items_auctions(
    clock, api_a_test, committed, worker, photo, sandbox, broker_messages
):
    for external_id in ("KEEP", "GONE", "GONE_WITH_BIDS"):
        push(api_a_test, committed, photo, external_id)
    publish_all(worker, clock)
    auction = {
        listing.item.external_id: listing.tradera_item_id
        for listing in TraderaListing.objects.select_related("item")
    }
    assert len(auction) == 3
    sandbox.bid(auction["GONE_WITH_BIDS"], 1000)

    body = preview(api_a_test, ["KEEP"]).json()
    assert (body["absent"], body["absentExternalIds"]) == (2, ["GONE", "GONE_WITH_BIDS"])
    with committed():
        assert apply(api_a_test, body["id"], {"force": True}).status_code == 202
    run_jobs(broker_messages, committed)
    worker()

    assert sandbox.auction(auction["GONE"])["state"] == "ended"
    assert sandbox.auction(auction["GONE_WITH_BIDS"])["state"] == "active"
    assert sandbox.auction(auction["KEEP"])["state"] == "active"
    gone = api_a_test.get("GONE").json()
    assert (gone["rheoStatus"], gone["traderaStatus"]) == ("not_listed", "ended")
    with_bids = api_a_test.get("GONE_WITH_BIDS").json()
    assert with_bids["rheoStatus"] == "not_listed"
    assert [i["code"] for i in with_bids["issues"]] == ["tradera_end_refused_has_bids"]
    assert api_a_test.get("KEEP").json()["rheoStatus"] == "active"
