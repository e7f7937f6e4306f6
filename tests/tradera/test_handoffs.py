"""Every hand-off between an item's change and Tradera survives a lost nudge: a crash right
after the commit, a broker that drops the message, a worker killed before it acts. The
change itself writes what Tradera must do; the sweeper finds it."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from items.models import Item
from rheo.celery import app as celery_app
from tests.conftest import item_body
from tests.tradera.conftest import push
from tradera.models import TraderaListing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rheo_on_the_sandbox")]


def past_the_grace(clock) -> None:
    clock.shift(timedelta(seconds=settings.RHEO_NUDGE_GRACE_SECONDS + 1))


def auctions(sandbox) -> list[dict]:
    return sandbox._get("auctions")["auctions"]


@pytest.fixture
def running(api_a_test, committed, worker, photo, sandbox) -> int:
    """A test item with a running sandbox auction; its Tradera item id."""
    push(api_a_test, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert listing.status == "active"
    return listing.tradera_item_id


def test_a_crash_between_activation_and_tradera_still_ends_in_exactly_one_auction(
    api_a_test, committed, worker, photo, sandbox, clock
):
    push(api_a_test, committed, photo)
    worker(lose_nudges=True)  # the item goes active; the nudge to Tradera is lost
    assert Item.objects.get().status == "active"
    assert TraderaListing.objects.count() == 0
    assert Item.objects.get().channels_due_at is not None  # written with the activation

    past_the_grace(clock)
    assert worker.sweep_listings() == 1
    worker()
    worker.sweep_listings()  # nothing more to do, and nothing done twice
    worker()

    [auction] = auctions(sandbox)
    assert auction["state"] == "active"
    assert api_a_test.get("ERP_PART_12345").json()["traderaStatus"] == "active"


def test_a_lost_nudge_after_patch_sold_still_ends_the_auction_in_one_sweeper_pass(
    api_a_test, django_capture_on_commit_callbacks, worker, sandbox, running, clock
):
    with django_capture_on_commit_callbacks(execute=False):  # the nudge never leaves
        response = api_a_test.patch_status("ERP_PART_12345", {"status": "sold"})
    assert response.status_code == 202
    assert worker() == []
    assert sandbox.auction(running)["state"] == "active"

    past_the_grace(clock)
    worker.sweep_listings()
    worker()

    assert sandbox.auction(running)["state"] == "ended"
    assert api_a_test.get("ERP_PART_12345").json()["traderaStatus"] == "ended"


def test_an_end_whose_own_nudge_is_lost_is_sent_by_the_sweeper(
    api_a_test, committed, worker, sandbox, running, clock
):
    with committed():
        api_a_test.patch_status("ERP_PART_12345", {"status": "not_listed"})
    worker(lose_nudges=True)  # Tradera's follow wants the end; its nudge is lost
    listing = TraderaListing.objects.get()
    assert (listing.status, listing.end_wanted) == ("active", True)

    past_the_grace(clock)
    worker.sweep_listings()
    worker()

    assert sandbox.auction(running)["state"] == "ended"
    assert sandbox.calls()["EndItem"] == 1


def test_a_price_change_whose_nudge_is_lost_reaches_the_auction_once(
    api_a_test, django_capture_on_commit_callbacks, worker, sandbox, running, clock
):
    with django_capture_on_commit_callbacks(execute=False):
        api_a_test.patch_price("ERP_PART_12345", {"price": 1200})
    past_the_grace(clock)
    worker.sweep_listings()
    worker()
    past_the_grace(clock)
    worker.sweep_listings()
    worker()

    assert sandbox.auction(running)["startPrice"] == 1200
    assert sandbox.calls()["SetPricesOnNonShopItems"] == 1


def test_an_item_sold_before_its_auction_is_committed_is_never_sent(
    api_a_test, committed, worker, photo, sandbox, clock
):
    push(api_a_test, committed, photo)
    worker(lose_nudges=True)  # active; Tradera's follow waits for the sweeper
    past_the_grace(clock)
    worker.sweep_listings()
    worker(lose_nudges=True)  # the follow queues the publish; its nudge is lost
    assert TraderaListing.objects.get().status == "pending_sync"

    with committed():
        api_a_test.patch_status("ERP_PART_12345", {"status": "sold"})
    worker()

    assert TraderaListing.objects.get().status == "ended"
    assert auctions(sandbox) == []
    assert "AddItem" not in sandbox.calls()


def test_an_item_sold_while_tradera_processes_its_auction_has_it_ended_once_it_runs(
    api_a_test, committed, worker, photo, sandbox, clock
):
    sandbox.settings(processingSeconds=60)
    push(api_a_test, committed, photo)
    worker()  # AddItem, image, commit; Tradera still processing
    assert TraderaListing.objects.get().committed

    with committed():
        api_a_test.patch_status("ERP_PART_12345", {"status": "sold"})
    worker()
    sandbox.advance(seconds=61)  # Tradera has processed it: the auction runs
    clock.shift(timedelta(seconds=3))
    worker()

    [auction] = auctions(sandbox)
    assert auction["state"] == "ended"
    assert TraderaListing.objects.get().status == "ended"
    assert sandbox.calls()["EndItem"] == 1


@pytest.fixture
def broker_down():
    """The broker unreachable (nothing listens on port 1), as during a Redis outage."""
    url = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    celery_app.close()
    yield
    celery_app.conf.broker_url = url
    celery_app.close()


def test_with_the_broker_down_a_put_still_gets_its_202_and_the_item_is_processed_later(
    api_a_test, committed, worker, photo, sandbox, clock, broker_down
):
    with committed():
        response = api_a_test.put("ERP_PART_12345", item_body(imageUrls=[photo]))
    assert response.status_code == 202
    assert response.json()["message"] == "Item is being processed in the background."

    celery_app.conf.broker_url = "memory://"
    celery_app.close()
    past_the_grace(clock)
    assert worker.sweep_items() == 1
    worker()
    assert Item.objects.get().status == "active"
    assert len(auctions(sandbox)) == 1


def test_a_publish_step_that_fails_unexpectedly_gives_its_listing_back_at_once(
    api_a_test, committed, worker, photo, sandbox, clock
):
    push(api_a_test, committed, photo)
    worker(lose_nudges=True)  # active; Tradera's follow waits for the sweeper
    stored = Item.objects.get().images.get().stored
    default_storage.delete(stored.full)  # the hosted image is gone: the step will fail
    past_the_grace(clock)
    worker.sweep_listings()
    with pytest.raises(FileNotFoundError):
        worker()

    listing = TraderaListing.objects.get()
    assert listing.status == "pending_sync"
    assert listing.locked_until is None  # not held until a lease runs out
    assert listing.next_attempt_at is not None  # tried again soon
