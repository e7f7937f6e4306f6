"""Where a partner's publishing stands against Tradera's call quota
(tradera.selectors.tradera_queue): the items queued for Tradera, the calls they still
need, the calls left in the window and the time at the current quota, from real rows and
the real budget in Redis; and the dashboard pages that show it."""

import pytest
import redis

from items.imports import services as imports
from items.imports.models import StockImport
from items.models import Item
from tests.conftest import item_body, needs_redis
from tests.portal.test_dashboard import logged_in, page
from tests.tradera.conftest import push
from tradera import client as tradera_client
from tradera.models import TraderaListing
from tradera.selectors import tradera_queue

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("rheo_on_the_sandbox"),
    needs_redis,
]


@pytest.fixture
def small_quota(settings):
    """The sandbox's quota as Rheo budgets it: 15 calls a day, 12 of them for publishing,
    none spent yet."""
    settings.TRADERA_SANDBOX_DAILY_CALLS = 15
    tradera_client.for_mode.cache_clear()
    budget = tradera_client.for_mode(False).budget
    redis.Redis.from_url(settings.REDIS_URL).delete(
        "tradera:budget:sandbox:calls", "tradera:budget:sandbox:blocked"
    )
    return budget


@pytest.fixture
def import_under_way(api_a_test, committed, worker, photo, sandbox, small_quota):
    """Four items queued for Tradera: one whose image upload failed (uncommitted, 3 calls
    to go), two committed and waiting for Tradera to process them (0 calls to go besides
    the poll), one still fetching its image (3 calls to go); and one not for Tradera."""
    sandbox.settings(processingSeconds=3600)
    sandbox.fail("server_error", operation="AddItemImage", count=1)
    for external_id in ("A", "B", "C"):
        push(api_a_test, committed, photo, external_id)
    worker()
    push(api_a_test, committed, photo, "D")  # its image is not fetched yet
    with committed():
        api_a_test.put("E", item_body(imageUrls=[photo], autoPublishTradera=False))


def test_the_backlog_counts_the_queued_items_their_calls_and_the_time_at_the_quota(
    partner_a, sandbox, small_quota, import_under_way
):
    listings = TraderaListing.objects.order_by("pk")
    assert [(lst.committed, lst.status) for lst in listings].count((True, "pending_sync")) == 2
    assert [lst.committed for lst in listings].count(False) == 1
    assert Item.objects.get(external_id="D").status == "draft"

    backlog = tradera_queue(partner=partner_a, livemode=False)

    assert backlog.queued == 4
    # A: AddItem, AddItemImage, AddItemCommit; D the same; one poll for them all.
    assert backlog.calls_needed == 3 + 3 + 1
    # Spent: A's AddItem and failed image, B's and C's three each, one poll.
    assert sandbox.calls() == {
        "AddItem": 3,
        "AddItemImage": 3,
        "AddItemCommit": 2,
        "GetRequestResults": 1,
    }
    assert small_quota.used() == 9
    assert (backlog.calls_per_window, backlog.calls_left) == (12, 3)
    # 4 calls beyond those left, at 12 a day.
    assert backlog.seconds == 4 / 12 * 86_400
    assert not backlog.fits


def test_a_backlog_the_calls_left_cover_fits_and_other_partners_and_modes_do_not_count(
    partner_a, partner_b, api_a_test, committed, photo, sandbox, settings
):
    settings.TRADERA_SANDBOX_DAILY_CALLS = 100_000
    tradera_client.for_mode.cache_clear()
    push(api_a_test, committed, photo, "A")

    mine = tradera_queue(partner=partner_a, livemode=False)
    assert (mine.queued, mine.calls_needed, mine.seconds, mine.fits) == (1, 4, 0, True)
    assert tradera_queue(partner=partner_a, livemode=True).queued == 0
    assert tradera_queue(partner=partner_b, livemode=False).queued == 0


def test_the_overview_and_the_item_list_show_the_backlog(partner_a, import_under_way):
    browser = logged_in("ops@recopart.example", mode="test")
    for path in ("/dashboard/", "/dashboard/items/"):
        html = page(browser, path)
        assert 'id="tradera-backlog"' in html
        assert "4 queued for Tradera" in html
        assert "about 8 h at the current quota" in html


def test_a_stock_imports_progress_shows_the_backlog(partner_a, import_under_way):
    stock_import = imports.create_import(
        partner=partner_a, livemode=False, name="lager.csv", data=b"Artikelnr;Titel\nP1;Bromsok\n"
    )
    StockImport.objects.filter(pk=stock_import.pk).update(status=StockImport.Status.IMPORTED)
    browser = logged_in("ops@recopart.example", mode="test")
    html = page(browser, f"/dashboard/items/import/{stock_import.pk}/")
    assert 'id="progress"' in html
    assert "4 queued for Tradera" in html


def test_without_a_backlog_the_pages_show_none(partner_a):
    browser = logged_in("ops@recopart.example", mode="test")
    for path in ("/dashboard/", "/dashboard/items/"):
        assert 'id="tradera-backlog"' not in page(browser, path)
