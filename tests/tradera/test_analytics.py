"""Tradera's side of a partner's figures, from auctions that really ran on the sandbox."""

import pytest

from portal import analytics
from tests.conftest import item_body
from tests.tradera.conftest import publish_all, push

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rheo_on_the_sandbox")]


def simulate(api, committed, worker, external_id, body):
    with committed():
        response = api._call("post", f"{external_id}/simulate", body)
    assert response.status_code == 202, response.content
    worker()


def test_inventory_and_auction_sell_through_follow_the_listings(
    clock, api_a_test, partner_a, committed, worker, photo, sandbox
):
    for n in range(1, 5):
        push(api_a_test, committed, photo, external_id=f"P{n}")
    publish_all(worker, clock)
    simulate(api_a_test, committed, worker, "P2", {"event": "sold", "salePrice": 1100})
    simulate(api_a_test, committed, worker, "P3", {"event": "ended"})
    failed = {"event": "failed", "errorCode": "tradera_token_expired"}
    simulate(api_a_test, committed, worker, "P4", failed)
    sandbox.settings(processingSeconds=3600)  # P5's auction waits to go live
    push(api_a_test, committed, photo, external_id="P5")
    with committed():
        api_a_test.put("P6", item_body(imageUrls=[photo], autoPublishTradera=False))
    worker()

    inventory = analytics.inventory(partner=partner_a, livemode=False)
    assert inventory.total == 6
    assert inventory.by_status == {
        "draft": 0,
        "active": 5,
        "sold": 1,
        "not_listed": 0,
        "archived": 0,
    }
    assert inventory.by_tradera_status == {
        "active": 1,
        "sold": 1,
        "ended": 1,
        "pending_sync": 1,
        "sync_error": 1,
    }
    assert inventory.not_on_tradera == 1

    figures = analytics.sell_through(partner=partner_a, livemode=False)
    assert (figures.auctions_sold, figures.auctions_ended, figures.auction_rate) == (1, 1, 0.5)
    assert (figures.sold, figures.unsold, figures.rate) == (1, 0, 1.0)
    [november] = analytics.revenue_by_month(partner=partner_a, livemode=False, months=1)
    assert (november.revenue, november.sales) == (
        {"tradera": 1100, "rheo": 0},
        {"tradera": 1, "rheo": 0},
    )
    assert analytics.inventory(partner=partner_a, livemode=True).total == 0
