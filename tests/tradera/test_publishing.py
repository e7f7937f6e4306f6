"""An item pushed with a test key and autoPublishTradera becomes a sandbox auction, over
real HTTP (Rheo → client → sandbox), and the partner hears of it by a signed webhook."""

import json
from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from items.models import Item
from tests.conftest import item_body
from tests.tradera.conftest import push
from tests.webhooks.conftest import Receiver
from tradera import client as tradera_client
from tradera import services as tradera_services
from tradera.models import TraderaAccount, TraderaListing
from tradera.services import jobs
from webhooks import selectors
from webhooks import services as webhooks
from webhooks.models import Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rheo_on_the_sandbox")]


@pytest.fixture
def receiver(partner_a):
    r = Receiver()
    webhooks.configure_endpoint(
        partner=partner_a,
        livemode=False,
        url=r.url(),
        enabled=True,
        event_types=["listing.created", "listing.failed"],
    )
    yield r
    r.close()


def live_auctions(sandbox) -> list[dict]:
    return [a for a in sandbox._get("auctions")["auctions"] if a["state"] == "active"]


def events(event_type) -> list[dict]:
    return [json.loads(e.body) for e in Event.objects.filter(event_type=event_type)]


def test_a_test_item_becomes_a_sandbox_auction_and_the_partner_is_told(
    api_a_test, committed, worker, photo, sandbox, receiver, partner_a
):
    push(api_a_test, committed, photo)
    worker()

    body = api_a_test.get("ERP_PART_12345").json()
    [auction] = live_auctions(sandbox)
    assert body["rheoStatus"] == "active"
    assert body["traderaStatus"] == "active"
    assert body["traderaAdId"] == str(auction["itemId"])
    # The sandbox's own page for the auction, not tradera.com.
    assert body["traderaAdUrl"] == f"{sandbox.url}item/{auction['itemId']}"
    assert auction["title"] == "Volvo XC90 bromsok fram vänster — 2018"
    assert auction["ownReferences"] == [body["rheoItemId"]]
    assert auction["images"] == 1
    assert auction["startPrice"] == 950
    # The partner's own sandbox seller, made on first use.
    assert (
        TraderaAccount.objects.get(partner=partner_a, livemode=False).user_id
        == (auction["sellerId"])
    )

    [request] = [r for r in receiver.received if "listing.created" in r.body]
    secret = selectors.get_endpoint(partner=partner_a, livemode=False).secret
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["data"]["traderaAdId"] == body["traderaAdId"]
    assert payload["data"]["traderaAdUrl"] == body["traderaAdUrl"]
    assert payload["data"]["externalId"] == "ERP_PART_12345"


def test_a_test_items_ad_url_serves_its_auction_page_from_the_sandbox(
    api_a_test, committed, worker, photo, sandbox, partner_a
):
    push(api_a_test, committed, photo)
    worker()
    url = api_a_test.get("ERP_PART_12345").json()["traderaAdUrl"]
    auction_id = url.rsplit("/", 1)[1]
    sandbox.bid(int(auction_id), 1200)

    page = requests.get(url, timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert "Volvo XC90 bromsok fram vänster — 2018" in html
    assert "Testad och fungerande. Skick B." in html
    assert "950 kr" in html  # the starting price
    assert "1 (highest 1200 kr)" in html
    assert "running" in html
    image = requests.get(f"{url}/images/1", timeout=5)
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/jpeg"
    assert image.content[:2] == b"\xff\xd8"  # the JPEG Rheo sent

    sandbox.end(int(auction_id))
    assert "sold to budgivare" in requests.get(url, timeout=5).text
    assert requests.get(f"{sandbox.url}item/1", timeout=5).status_code == 404

    # The dashboard's item page links to the same page.
    browser = Client()
    browser.login(username="ops@recopart.example", password="pw-for-tests")  # noqa: S106
    item = Item.objects.get()
    assert f'href="{url}"' in browser.get(f"/dashboard/items/{item.pk}/").content.decode()


def test_until_tradera_confirms_the_ad_id_is_pending(
    api_a_test, committed, worker, photo, sandbox, clock
):
    sandbox.settings(processingSeconds=30)
    push(api_a_test, committed, photo)
    worker()
    body = api_a_test.get("ERP_PART_12345").json()
    listing = TraderaListing.objects.get()
    assert body["traderaStatus"] == "pending_sync"
    assert body["traderaAdId"] == f"pending-{listing.request_id}"
    assert body["traderaAdUrl"] is None
    calls = sandbox.calls()

    clock.shift(timedelta(seconds=31))
    worker()
    body = api_a_test.get("ERP_PART_12345").json()
    assert body["traderaStatus"] == "active"
    assert body["traderaAdId"] == str(listing.tradera_item_id)
    # Polling asked for results only; nothing was sent twice.
    after = sandbox.calls()
    assert after.get("AddItem") == calls.get("AddItem") == 1
    assert after.get("AddItemCommit") == 1


def test_server_errors_twice_then_success_make_one_auction(
    api_a_test, committed, worker, photo, sandbox, clock
):
    sandbox.fail("server_error", operation="AddItem", count=2)
    push(api_a_test, committed, photo)
    worker()
    for wait in (1, 2):
        assert TraderaListing.objects.get().status == "pending_sync"
        clock.shift(timedelta(seconds=wait * 1.2 + 0.1))  # the retry's wait, jitter and all
        worker()
    assert TraderaListing.objects.get().status == "active"
    assert len(live_auctions(sandbox)) == 1


def test_a_crash_before_the_commit_still_makes_one_auction(
    api_a_test, committed, worker, photo, sandbox, clock
):
    sandbox.fail("server_error", operation="AddItemImage", count=1)  # dies mid-way
    push(api_a_test, committed, photo)
    worker()
    first_request = TraderaListing.objects.get().request_id
    clock.shift(timedelta(seconds=1.3))
    worker()
    listing = TraderaListing.objects.get()
    assert listing.status == "active"
    assert listing.request_id != first_request  # the uncommitted one was abandoned
    assert len(live_auctions(sandbox)) == 1


def test_a_lost_commit_answer_is_not_sent_as_a_new_auction(
    api_a_test, committed, worker, photo, sandbox, clock
):
    sandbox.fail("timeout", operation="AddItemCommit", count=1)  # committed, answer lost
    push(api_a_test, committed, photo)
    worker()
    clock.shift(timedelta(seconds=1.3))
    worker()
    assert TraderaListing.objects.get().status == "active"
    assert len(live_auctions(sandbox)) == 1
    assert sandbox.calls().get("AddItem") == 1


def test_a_commit_tradera_acknowledged_is_not_sent_again_when_the_poll_fails(
    api_a_test, committed, worker, photo, sandbox, clock
):
    sandbox.fail("server_error", operation="GetRequestResults", count=1)
    push(api_a_test, committed, photo)
    worker()
    assert TraderaListing.objects.get().commit_acknowledged  # saved with the retry's state
    clock.shift(timedelta(seconds=1.3))
    worker()
    assert TraderaListing.objects.get().status == "active"
    assert sandbox.calls() == {
        "AddItem": 1,
        "AddItemImage": 1,
        "AddItemCommit": 1,
        "GetRequestResults": 2,
    }


def test_the_call_budget_counts_exactly_the_calls_tradera_received(
    api_a_test, committed, worker, photo, sandbox, clock
):
    budget = tradera_client.for_mode(False).budget
    used, by_operation = budget.used(), budget.usage()
    sandbox.fail("server_error", operation="AddItemImage", count=1)  # stops after 2 of 4
    push(api_a_test, committed, photo)
    worker()
    clock.shift(timedelta(seconds=1.3))
    worker()

    assert TraderaListing.objects.get().status == "active"
    spent = {op: n - by_operation.get(op, 0) for op, n in budget.usage().items()}
    assert {op: n for op, n in spent.items() if n} == sandbox.calls()
    assert budget.used() - used == sum(sandbox.calls().values()) == 6


def test_an_expired_token_fails_at_once_without_retries(
    api_a_test, committed, worker, photo, sandbox, partner_a, receiver
):
    seller = tradera_client.for_mode(False).sandbox_seller(f"partner-{partner_a.pk}")
    sandbox.expire_token(seller)
    push(api_a_test, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert (listing.status, listing.error_code) == ("sync_error", "tradera_token_expired")
    assert api_a_test.get("ERP_PART_12345").json()["traderaStatus"] == "sync_error"
    [failed] = events("listing.failed")
    assert failed["data"]["error"]["code"] == "tradera_token_expired"
    assert sandbox.calls().get("AddItem") == 1


def test_tradera_down_for_a_long_time_delays_the_auction_but_never_fails_it(
    api_a_test, committed, worker, photo, sandbox, clock
):
    sandbox.fail("server_error", operation="AddItem", count=12)
    push(api_a_test, committed, photo)
    worker()
    waited = timedelta(0)
    while TraderaListing.objects.get().status == "pending_sync":
        listing = TraderaListing.objects.get()
        assert listing.error_code == "tradera_server_error"
        [issue] = api_a_test.get("ERP_PART_12345").json()["issues"]
        assert issue["code"] == "tradera_server_error"
        assert "tries again until it does" in issue["message"]
        wait = listing.next_attempt_at - timezone.now() + timedelta(seconds=0.1)
        assert wait <= jobs.RETRY_CAP * 1.2 + timedelta(seconds=1)
        clock.shift(wait)
        waited += wait
        worker.sweep_listings()  # waits past a minute are the sweeper's to nudge
        worker()
    assert TraderaListing.objects.get().status == "active"
    assert waited > timedelta(minutes=20)  # twelve failures: 1 s, 2 s, … then every 5 min
    assert sandbox.calls()["AddItem"] == 13
    assert len(live_auctions(sandbox)) == 1
    assert events("listing.failed") == []
    timeline = [a.message for a in Item.objects.get().activities.filter(kind="tradera")]
    assert sum("retrying until Tradera answers" in line for line in timeline) == 1


def test_a_live_item_without_a_connected_account_fails_as_not_connected(
    api_a, committed, worker, photo, sandbox
):
    push(api_a, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert (listing.status, listing.error_code) == ("sync_error", "tradera_not_connected")
    assert events("listing.failed")[0]["data"]["error"]["code"] == "tradera_not_connected"
    assert sandbox.calls().get("AddItem") is None


def test_an_item_is_queued_for_tradera_once_however_often_it_is_started(
    api_a_test, committed, worker, photo, sandbox, broker_messages
):
    push(api_a_test, committed, photo)
    worker()
    item = Item.objects.get()
    with committed():
        tradera_services.follow_item(item_id=item.pk)  # nothing due: nothing happens
        Item.objects.filter(pk=item.pk).update(channels_due_at=timezone.now())
        tradera_services.follow_item(item_id=item.pk)  # due again: already queued
    assert broker_messages("tradera") == []
    assert TraderaListing.objects.count() == 1
    assert len(live_auctions(sandbox)) == 1


def test_items_without_auto_publish_stay_off_tradera(api_a_test, committed, worker, photo):
    with committed():
        api_a_test.put("P1", item_body(imageUrls=[photo], autoPublishTradera=False))
    worker()
    assert Item.objects.get().status == "active"
    assert not TraderaListing.objects.exists()


def test_the_category_comes_from_rules_staff_edit(api_a_test, committed, worker, photo, sandbox):
    from tradera.models import CategoryRule

    push(api_a_test, committed, photo)  # "… bromsok …"
    CategoryRule.objects.filter(keyword="bromsok").update(category_id=344481)
    with committed():
        api_a_test.put("P2", item_body(title="Vindruta Volvo V70", imageUrls=[photo]))
    worker()
    by_title = {a["title"]: a for a in sandbox._get("auctions")["auctions"]}
    assert by_title["Volvo XC90 bromsok fram vänster — 2018"]["categoryId"] == 344481
    assert by_title["Vindruta Volvo V70"]["categoryId"] == 343434  # Övriga reservdelar


def test_a_publish_whose_nudge_was_lost_is_picked_up_by_the_sweeper(
    api_a_test, committed, worker, photo, sandbox, clock, broker_messages
):
    sandbox.settings(processingSeconds=30)
    push(api_a_test, committed, photo)
    worker()  # committed; Tradera is still processing it
    clock.shift(timedelta(seconds=31))
    broker_messages("tradera")  # the poll's nudge is lost
    worker.held.clear()
    assert worker() == []
    assert TraderaListing.objects.get().status == "pending_sync"
    clock.shift(timedelta(minutes=3))
    assert worker.sweep_listings() == 1
    worker()
    assert TraderaListing.objects.get().status == "active"
    # One auction (by now ended: the sandbox's auction days last a second here).
    published = [a for a in sandbox._get("auctions")["auctions"] if a["state"] != "uncommitted"]
    assert len(published) == 1


def test_when_the_call_quota_is_spent_publishing_waits_and_says_so(
    api_a_test, committed, worker, photo, sandbox, settings
):
    settings.TRADERA_SANDBOX_DAILY_CALLS = 3  # the publish share is 2 of them
    tradera_client.for_mode.cache_clear()
    push(api_a_test, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert (listing.status, listing.attempts) == ("pending_sync", 0)  # deferred, not failed
    body = api_a_test.get("ERP_PART_12345").json()
    assert body["traderaStatus"] == "pending_sync"
    assert [i["code"] for i in body["issues"]] == ["tradera_quota_wait"]
    assert not Event.objects.filter(event_type="listing.failed").exists()


def test_staff_see_the_call_quota_spent_per_operation_and_what_waits(
    api_a_test, committed, worker, photo
):
    from django.test import Client

    from partners.models import User

    push(api_a_test, committed, photo)
    worker()
    staff = User.objects.create_superuser(email="staff@rheo.example", password="pw")
    client = Client()
    client.force_login(staff)
    page = client.get("/admin/tradera/traderaaccount/").content.decode()
    assert "Tradera call quota" in page
    assert "Sandbox (test keys)" in page
    assert "AddItem: " in page and "AddItemCommit: " in page
    assert TraderaAccount.objects.get().token not in page


def test_one_results_call_serves_every_pending_publish_of_an_account(
    api_a_test, committed, worker, photo, sandbox, clock
):
    sandbox.settings(processingSeconds=30)
    for n in range(3):
        push(api_a_test, committed, photo, external_id=f"P{n}")
    worker()
    assert TraderaListing.objects.filter(status="pending_sync").count() == 3
    before = sandbox.calls().get("GetRequestResults", 0)
    clock.shift(timedelta(seconds=31))
    worker()
    assert TraderaListing.objects.filter(status="active").count() == 3
    assert sandbox.calls()["GetRequestResults"] - before == 1
    assert len(events("listing.created")) == 3


def test_polls_coalesce_to_one_results_call_per_account_and_interval(
    api_a_test, committed, worker, photo, sandbox, clock
):
    sandbox.settings(processingSeconds=30)
    budget = tradera_client.for_mode(False).budget
    before = budget.usage().get("GetRequestResults", 0)
    for n in range(5):
        push(api_a_test, committed, photo, external_id=f"P{n}")
    worker()
    # The first to commit polled; the four after it, within the interval, waited.
    assert sandbox.calls()["GetRequestResults"] == 1
    clock.shift(timedelta(seconds=2.1))  # all five ask again: one poll serves them
    worker()
    assert sandbox.calls()["GetRequestResults"] == 2
    assert TraderaListing.objects.filter(status="pending_sync").count() == 5
    clock.shift(timedelta(seconds=30))  # processed: the next poll takes all five live
    worker()

    assert TraderaListing.objects.filter(status="active").count() == 5
    assert len(events("listing.created")) == 5
    assert sandbox.calls() == {
        "AddItem": 5,
        "AddItemImage": 5,
        "AddItemCommit": 5,
        "GetRequestResults": 3,
    }
    assert budget.usage()["GetRequestResults"] - before == 3


def test_a_poll_asks_about_at_most_the_batch_limit(
    api_a_test, committed, worker, photo, sandbox, clock, monkeypatch
):
    from tradera.services import publishing

    monkeypatch.setattr(publishing, "RESULTS_BATCH", 2)
    sandbox.settings(processingSeconds=30)
    for n in range(5):
        push(api_a_test, committed, photo, external_id=f"P{n}")
    worker()
    clock.shift(timedelta(seconds=31))
    worker()  # one poll: its own request and the oldest other one
    assert TraderaListing.objects.filter(status="active").count() == 2
    assert sandbox.calls()["GetRequestResults"] == 2
    for _ in range(2):
        clock.shift(timedelta(seconds=2.1))
        worker()
    assert TraderaListing.objects.filter(status="active").count() == 5
    assert sandbox.calls()["GetRequestResults"] == 4
