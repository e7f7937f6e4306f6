"""An event sent to the current webhook endpoint afterwards (POST /api/v1/events/<id>/resend
and the dashboard's Send button): the Quick Start's first listing.created, recorded before
the partner set up a webhook, reaches it once they have."""

import pytest
from django.test import Client
from standardwebhooks.webhooks import Webhook

from items.models import Item
from tests.tradera.conftest import (  # noqa: F401 - fixtures
    photo,
    push,
    rheo_on_the_sandbox,
    sandbox,
    sandbox_server,
)
from webhooks import selectors
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.django_db


def put_webhook(client, url, mode="live", **fields):
    return client.put(f"/api/v1/webhook?mode={mode}", {"url": url, **fields}, format="json")


def resend(client, event_id, mode="live"):
    return client.post(f"/api/v1/events/{event_id}/resend?mode={mode}")


@pytest.fixture
def browser(partner_a) -> Client:
    browser = Client()
    browser.login(username="ops@recopart.example", password="pw-for-tests")  # noqa: S106
    return browser


@pytest.fixture
def item_event(api_a, emit, partner_a) -> Event:
    """A live item's listing.created, recorded while partner_a has no endpoint."""
    api_a.put("A-1")
    return emit(partner_a, "listing.created", Item.objects.get(), tradera_ad_id="77")


def test_a_first_listing_created_without_an_endpoint_is_sent_once_there_is_one(
    rheo_on_the_sandbox,  # noqa: F811
    api_a_test,
    committed,
    worker,
    photo,  # noqa: F811
    dashboard_a,
    receiver,
    partner_a,
    browser,
):
    push(api_a_test, committed, photo)
    worker()
    event = Event.objects.get(event_type="listing.created")
    item = Item.objects.get()
    assert not event.deliveries.exists()
    timeline = browser.get(f"/dashboard/items/{item.pk}/").content.decode()
    assert "No webhook endpoint took this event." in timeline

    assert put_webhook(dashboard_a, receiver.url(), mode="test").status_code == 200
    with committed():
        response = resend(dashboard_a, event.pk, mode="test")
    assert response.status_code == 202
    body = response.json()
    assert (body["eventId"], body["eventType"], body["mode"]) == (
        event.pk,
        "listing.created",
        "test",
    )
    assert (body["status"], body["attempts"], body["url"]) == ("pending", 0, receiver.url())
    worker()

    [received] = receiver.received
    secret = selectors.get_endpoint(partner=partner_a, livemode=False).secret
    payload = Webhook(secret).verify(received.body, received.headers)
    assert payload["eventId"] == event.pk
    assert payload["data"]["externalId"] == "ERP_PART_12345"
    assert received.headers["webhook-id"] == event.pk
    assert Delivery.objects.get(pk=body["id"]).status == "succeeded"
    timeline = browser.get(f"/dashboard/items/{item.pk}/").content.decode()
    assert "No webhook endpoint took this event." not in timeline
    assert f"/dashboard/integration/deliveries/{body['id']}/" in timeline


def test_the_delivery_is_written_at_once_and_nudged_only_after_commit(
    dashboard_a, receiver, item_event, broker_messages, committed
):
    put_webhook(dashboard_a, receiver.url())
    response = resend(dashboard_a, item_event.pk)  # inside the test's open transaction
    assert response.status_code == 202
    assert str(Delivery.objects.get().pk) == response.json()["id"]  # the row, in the transaction
    assert broker_messages("webhooks") == []  # no message before the commit

    Delivery.objects.all().delete()
    with committed():
        response = resend(dashboard_a, item_event.pk)
    assert broker_messages("webhooks") == [("webhooks.deliver", [response.json()["id"]])]


def test_another_partners_or_another_modes_or_an_unknown_event_is_not_found(
    dashboard_a, dashboard_b, receiver, item_event
):
    put_webhook(dashboard_b, receiver.url())
    put_webhook(dashboard_a, receiver.url(), mode="test")
    for client, event_id, mode in (
        (dashboard_b, item_event.pk, "live"),  # partner_a's event
        (dashboard_a, item_event.pk, "test"),  # a live event
        (dashboard_a, "evt_nosuchevent", "live"),
    ):
        response = resend(client, event_id, mode)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert not Delivery.objects.exists()
    assert resend(dashboard_a, item_event.pk, "sometimes").status_code == 400
    assert dashboard_a.post("/api/v1/events/evt_%00/resend").status_code == 404


def test_without_an_enabled_endpoint_the_resend_is_refused(
    dashboard_a, receiver, item_event, worker, committed
):
    response = resend(dashboard_a, item_event.pk)
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "conflict",
        "message": "No webhook endpoint is configured for live mode; set one first.",
        "requestId": response["X-Request-Id"],
    }
    put_webhook(dashboard_a, receiver.url(), enabled=False)
    response = resend(dashboard_a, item_event.pk)
    assert response.status_code == 409
    assert "disabled" in response.json()["error"]["message"]
    assert not Delivery.objects.exists()


def test_it_is_sent_whatever_the_endpoint_subscribes_to_but_not_twice_at_once(
    dashboard_a, receiver, item_event, worker, committed
):
    put_webhook(dashboard_a, receiver.url(), eventTypes=["item.sold"])
    with committed():
        assert resend(dashboard_a, item_event.pk).status_code == 202
    again = resend(dashboard_a, item_event.pk)  # the first is still pending
    assert again.status_code == 409
    assert again.json()["error"]["message"] == "This event is already on its way to the endpoint."
    worker()
    assert ['"listing.created"' in r.body for r in receiver.received] == [True]


def test_the_send_button_on_the_timeline_and_in_the_delivery_log(
    browser, dashboard_a, receiver, item_event, worker, django_capture_on_commit_callbacks
):
    item_page = f"/dashboard/items/{item_event.item_id}/"
    send = f"/dashboard/integration/events/{item_event.pk}/send"
    assert f'action="{send}"' in browser.get(item_page).content.decode()
    refused = browser.post(send, {"next": item_page}, follow=True)
    assert "No webhook endpoint is configured for live mode" in refused.content.decode()

    put_webhook(dashboard_a, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        sent = browser.post(send, {"next": item_page})
    assert sent["Location"] == item_page
    worker()
    assert len(receiver.received) == 1
    delivery = Delivery.objects.get()
    assert (
        f"/dashboard/integration/deliveries/{delivery.pk}/"
        in browser.get(item_page).content.decode()
    )

    browser.post("/dashboard/mode", {"mode": "live"})
    log = browser.get("/dashboard/integration/deliveries/").content.decode()
    assert f'action="{send}"' in log
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(send, {"next": "/dashboard/integration/deliveries/"})
    worker()
    assert len(receiver.received) == 2
    assert Delivery.objects.count() == 2


def test_another_partners_event_cannot_be_sent_from_the_dashboard(item_event, partner_b):
    other = Client()
    other.login(username="it@bildelarnorr.example", password="pw-for-tests")  # noqa: S106
    assert other.post(f"/dashboard/integration/events/{item_event.pk}/send").status_code == 404


def test_the_schema_documents_the_resend(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/events/{event_id}/resend"]["post"]
    assert operation["operationId"] == "resendEvent"
    assert {"202", "400", "401", "404", "409", "429"} <= set(operation["responses"])
    answer = operation["responses"]["202"]["content"]["application/json"]
    assert answer["schema"] == {"$ref": "#/components/schemas/Delivery"}
    assert answer["examples"]["OnItsWay"]["value"]["status"] == "pending"
    assert operation["security"] == [{"jwtAuth": []}]
    assert client.post("/api/v1/events/evt_x/resend").status_code == 401
