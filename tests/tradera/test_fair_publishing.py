"""Partners take turns at Tradera publishes too: an import's auctions do not queue ahead
of another partner's single item (partners.backlog), and each item still gets one
auction. Over real HTTP against the sandbox; the tradera queue is driven in the broker's
order, one message at a time."""

from datetime import timedelta

import pytest

from items import pipeline
from items.models import Item, ItemActivity
from partners import subscriptions
from tests.conftest import integration, item_body
from tests.items.imagehost import ImageHost, jpeg_bytes
from tests.items.test_fair_scheduling import processed_order, run_in_queue_order
from tests.items.test_item_batch import entry, post_batch
from tradera.models import TraderaListing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rheo_on_the_sandbox")]


def sent_order() -> list[str]:
    """External ids in the order their auction was first sent to Tradera."""
    return list(
        ItemActivity.objects.filter(kind="tradera", message__startswith="Sent to Tradera")
        .order_by("pk")
        .values_list("item__external_id", flat=True)
    )


def test_a_single_items_auction_waits_behind_a_few_of_anothers_import(
    partner_a, partner_b, committed, worker, broker_messages, clock, sandbox, settings
):
    subscriptions.change_plan(partner=partner_a, plan_code="enterprise", staff=True)
    api_a, api_b = integration(partner_a, "test"), integration(partner_b, "test")
    host = ImageHost()
    try:
        url = host.serve("/p.jpg", jpeg_bytes())
        with committed():
            response = post_batch(api_a, [entry(f"A{n}", imageUrls=[url]) for n in range(8)])
        assert response.status_code == 200
        run_in_queue_order(committed, "images")  # A's items are active
        with committed():
            assert api_b.put("B-ONE", item_body(imageUrls=[url])).status_code == 202
        run_in_queue_order(committed, "images")
        assert processed_order()[-1] == "B-ONE"

        # On the tradera queue: A's eight follow-ups, then B's. Each wakes its partner's
        # publish tokens; the publishes then take turns.
        run_in_queue_order(committed, "tradera")
        order = sent_order()
        assert order.index("B-ONE") <= settings.RHEO_BACKLOG_TOKENS
        assert sorted(order) == sorted([f"A{n}" for n in range(8)] + ["B-ONE"])

        # Whatever is left (Tradera's answers not in yet) ends with one auction each.
        clock.shift(pipeline.nudge_grace() + timedelta(seconds=1))
        worker.sweep_listings()
        worker()
    finally:
        host.close()
    assert TraderaListing.objects.filter(status=TraderaListing.Status.ACTIVE).count() == 9
    auctions = sandbox._get("auctions")["auctions"]
    assert len(auctions) == 9
    assert len({a["ownReferences"][0] for a in auctions}) == 9
    assert Item.objects.filter(status=Item.Status.ACTIVE).count() == 9
    assert broker_messages("tradera") == []
