"""The dashboard's Events page: search and filters, one event's payload and deliveries,
Send again, and Replay from here with the job's progress."""

import pytest
from django.test import Client

from items.models import Item
from webhooks import services
from webhooks.models import Delivery, EventReplay

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(partner_a) -> Client:
    browser = Client()
    browser.login(username="ops@recopart.example", password="pw-for-tests")  # noqa: S106
    browser.post("/dashboard/mode", {"mode": "live"})
    return browser


@pytest.fixture
def events(api_a, partner_a, emit):
    api_a.put("ERP-1")
    api_a.put("ERP-2")
    first, second = Item.objects.order_by("external_id")
    return [
        emit(partner_a, "listing.created", first),
        emit(partner_a, "item.sold", first, sale_price=900),
        emit(partner_a, "listing.created", second),
    ]


def test_the_events_page_lists_searches_and_filters(browser, events):
    page = browser.get("/dashboard/integration/events/")
    assert page.status_code == 200
    text = page.text
    assert all(f"/dashboard/integration/events/{e.pk}/" in text for e in events)
    assert 'href="/dashboard/integration/events/"' in text  # in the Integration nav
    by_item = browser.get("/dashboard/integration/events/", {"q": "ERP-2"}).text
    assert f"/dashboard/integration/events/{events[2].pk}/" in by_item
    assert f"/dashboard/integration/events/{events[0].pk}/" not in by_item
    by_id = browser.get("/dashboard/integration/events/", {"q": events[1].pk}).text
    assert f"/dashboard/integration/events/{events[1].pk}/" in by_id
    sold = browser.get("/dashboard/integration/events/", {"event_type": "item.sold"}).text
    assert f"/dashboard/integration/events/{events[0].pk}/" not in sold
    old = browser.get("/dashboard/integration/events/", {"created_before": "2020-01-01"}).text
    assert "No events match these filters" in old


def test_an_event_shows_its_payload_and_is_sent_again(
    browser, events, dashboard_a, receiver, worker, django_capture_on_commit_callbacks
):
    sold = events[1]
    url = f"/dashboard/integration/events/{sold.pk}/"
    text = browser.get(url).text
    assert "&quot;salePrice&quot;: 900" in text and "No webhook endpoint took this event" in text
    dashboard_a.put("/api/v1/webhook", {"url": receiver.url()}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        sent = browser.post(f"/dashboard/integration/events/{sold.pk}/send", {"next": url})
    assert sent["Location"] == url
    worker()
    assert [r.headers["webhook-id"] for r in receiver.received] == [sold.pk]
    assert "succeeded" in browser.get(url).text


def test_replay_from_here_shows_the_jobs_progress(
    browser, events, partner_a, receiver, worker, django_capture_on_commit_callbacks
):
    services.configure_endpoint(
        partner=partner_a, livemode=True, url=receiver.url(), enabled=True,
        event_types=["listing.created", "item.sold"],
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(f"/dashboard/integration/events/{events[1].pk}/replay")
    replay = EventReplay.objects.get()
    assert response["Location"] == f"/dashboard/integration/replays/{replay.pk}/"
    running = browser.get(response["Location"]).text
    assert 'http-equiv="refresh"' in running and "0 of 2 events queued" in running
    worker()
    done = browser.get(response["Location"]).text
    assert "2 of 2 events queued: 2 delivered" in done and "completed" in done
    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(
        e.pk for e in events[1:]
    )
    assert Delivery.objects.filter(replay=replay).count() == 2


def test_another_partners_event_or_replay_is_not_found(browser, partner_b, api_b, emit):
    api_b.put("B-1")
    other = emit(partner_b, "listing.created", Item.objects.get())
    assert browser.get(f"/dashboard/integration/events/{other.pk}/").status_code == 404
    assert browser.post(f"/dashboard/integration/events/{other.pk}/replay").status_code == 404
