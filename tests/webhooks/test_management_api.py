"""Webhook settings, secret rotation, the test button and the delivery log, as a partner's
dashboard user drives them over /api/v1/."""

import json

import pytest
from django.test import override_settings
from standardwebhooks.webhooks import Webhook

from items.models import Item
from tests.webhooks.conftest import Reply
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db

ALL_EVENTS = ["listing.created", "listing.ended", "listing.failed", "item.sold"]


def put_webhook(client, url, mode=None, **fields):
    path = "/api/v1/webhook" + (f"?mode={mode}" if mode else "")
    return client.put(path, {"url": url, **fields}, format="json")


@pytest.fixture
def configured_a(dashboard_a, receiver):
    response = put_webhook(dashboard_a, receiver.url())
    assert response.status_code == 200, response.content
    return response.json()


def test_settings_before_anything_is_configured(dashboard_a):
    response = dashboard_a.get("/api/v1/webhook")
    assert response.status_code == 200
    assert response.json() == {
        "mode": "live",
        "url": None,
        "enabled": False,
        "eventTypes": ALL_EVENTS,
        "secret": None,
        "previousSecretExpiresAt": None,
        "disabledReason": "",
    }


def test_setting_the_url_creates_the_endpoint_and_its_secret(dashboard_a, receiver):
    response = put_webhook(dashboard_a, receiver.url(), eventTypes=["item.sold"])
    assert response.status_code == 200
    settings_ = response.json()
    assert settings_["url"] == receiver.url()
    assert settings_["enabled"] is True
    assert settings_["eventTypes"] == ["item.sold"]
    assert settings_["secret"].startswith("whsec_")
    assert dashboard_a.get("/api/v1/webhook").json() == settings_

    again = put_webhook(dashboard_a, receiver.url("/v2")).json()
    assert again["secret"] == settings_["secret"]  # changing the URL keeps the secret
    assert again["eventTypes"] == ALL_EVENTS


def test_live_and_test_mode_have_endpoints_of_their_own(dashboard_a, receiver):
    live = put_webhook(dashboard_a, receiver.url("/live")).json()
    test = put_webhook(dashboard_a, receiver.url("/test"), mode="test").json()
    assert (live["mode"], test["mode"]) == ("live", "test")
    assert live["secret"] != test["secret"]
    assert dashboard_a.get("/api/v1/webhook?mode=test").json()["url"] == receiver.url("/test")
    assert dashboard_a.get("/api/v1/webhook?mode=prod").status_code == 400


@override_settings(RHEO_ALLOW_LOCAL_URLS=False)
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/rheo", "https"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fd00:ec2::254]/", "metadata"),
        ("https://10.0.0.5/hook", "private"),
        ("https://2130706433/hook", "four decimal numbers"),  # 127.0.0.1 in decimal
        ("https://0x7f000001/hook", "four decimal numbers"),
        ("https://[::ffff:127.0.0.1]/hook", "IPv4-mapped"),
        ("https://localhost/hook", "loopback"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("https://no-such-host.invalid/hook", "resolve"),
        ("not a url", "https"),
    ],
)
def test_webhook_urls_rheo_must_not_call_are_refused(dashboard_a, url, reason):
    response = put_webhook(dashboard_a, url)
    assert response.status_code == 400, url
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert reason in error["fields"]["url"][0], error
    assert dashboard_a.get("/api/v1/webhook").json()["url"] is None


def test_metadata_addresses_are_refused_even_when_local_urls_are_allowed(dashboard_a):
    response = put_webhook(dashboard_a, "http://169.254.169.254/latest/meta-data")
    assert response.status_code == 400


def test_bad_settings_are_named(dashboard_a):
    response = dashboard_a.put(
        "/api/v1/webhook",
        {"enabled": "yes", "eventTypes": ["item.sold", "item.stolen"]},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"url", "enabled", "eventTypes[1]"}


def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_24_hours(
    dashboard_a, configured_a
):
    response = dashboard_a.post("/api/v1/webhook/rotate-secret")
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != configured_a["secret"]
    current = dashboard_a.get("/api/v1/webhook").json()
    assert current["secret"] == rotated["secret"]
    assert current["previousSecretExpiresAt"] == rotated["previousSecretExpiresAt"]


def test_rotation_without_an_endpoint_is_a_404(dashboard_a):
    assert dashboard_a.post("/api/v1/webhook/rotate-secret").status_code == 404


def test_the_test_button_sends_a_signed_webhook_test_event(
    dashboard_a, configured_a, receiver, worker, committed
):
    with committed():
        response = dashboard_a.post("/api/v1/webhook/test")
    assert response.status_code == 202
    event_id = response.json()["eventId"]
    worker()
    [request] = receiver.received
    payload = Webhook(configured_a["secret"]).verify(request.body, request.headers)
    assert payload["eventId"] == event_id
    assert payload["eventType"] == "webhook.test"

    detail = dashboard_a.get(f"/api/v1/deliveries/{response.json()['deliveryId']}").json()
    assert detail["status"] == "succeeded"
    assert detail["attemptLog"][0]["statusCode"] == 200


def test_the_test_button_needs_an_enabled_endpoint(dashboard_a, receiver):
    assert dashboard_a.post("/api/v1/webhook/test").status_code == 404
    put_webhook(dashboard_a, receiver.url(), enabled=False)
    response = dashboard_a.post("/api/v1/webhook/test")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_the_delivery_log_lists_filters_and_shows_every_attempt(
    dashboard_a, configured_a, api_a, receiver, emit, worker, partner_a
):
    api_a.put("A-1")
    api_a.put("A-2")
    a1, a2 = Item.objects.get(external_id="A-1"), Item.objects.get(external_id="A-2")
    emit(partner_a, "item.sold", a2, sale_price=500)
    worker()
    # After that success: a failure that no later success brings forward.
    receiver.reply(Reply(500, b"try later"))
    emit(partner_a, "listing.created", a1, tradera_ad_id="1")
    worker()

    listed = dashboard_a.get("/api/v1/deliveries").json()
    assert [d["eventType"] for d in listed["results"]] == ["listing.created", "item.sold"]
    assert listed["next"] is None
    (created,) = dashboard_a.get("/api/v1/deliveries?externalId=A-1").json()["results"]
    assert (created["status"], created["attempts"], created["lastStatusCode"]) == (
        "pending",
        1,
        500,
    )
    assert created["nextAttemptAt"] is not None
    assert created["mode"] == "live"
    pending = dashboard_a.get("/api/v1/deliveries?status=pending").json()["results"]
    assert [d["externalId"] for d in pending] == ["A-1"]
    sold = dashboard_a.get("/api/v1/deliveries?eventType=item.sold").json()["results"]
    assert [d["externalId"] for d in sold] == ["A-2"]

    detail = dashboard_a.get(f"/api/v1/deliveries/{created['id']}").json()
    assert detail["payload"]["data"]["externalId"] == "A-1"
    [attempt] = detail["attemptLog"]
    assert attempt["number"] == 1
    assert attempt["statusCode"] == 500
    assert attempt["responseBody"] == "try later"
    assert attempt["error"] == "HTTP 500"
    assert attempt["durationMs"] >= 0


def test_the_log_is_paginated_newest_first(dashboard_a, configured_a, api_a, emit, partner_a):
    api_a.put("A-1")
    item = Item.objects.get(external_id="A-1")
    for price in range(5):
        emit(partner_a, "item.sold", item, sale_price=price)
    first = dashboard_a.get("/api/v1/deliveries?limit=2").json()
    assert len(first["results"]) == 2
    second = dashboard_a.get(first["next"]).json()
    third = dashboard_a.get(second["next"]).json()
    prices = [
        dashboard_a.get(f"/api/v1/deliveries/{d['id']}").json()["payload"]["data"]["salePrice"]
        for page in (first, second, third)
        for d in page["results"]
    ]
    assert prices == [4, 3, 2, 1, 0]
    assert third["next"] is None


def test_redelivery_sends_the_same_event_again(
    dashboard_a, configured_a, receiver, worker, committed
):
    with committed():
        sent = dashboard_a.post("/api/v1/webhook/test").json()
    worker()
    with committed():
        response = dashboard_a.post(f"/api/v1/deliveries/{sent['deliveryId']}/redeliver")
    assert response.status_code == 202
    again = response.json()
    assert again["id"] != sent["deliveryId"]
    assert again["eventId"] == sent["eventId"]
    assert again["status"] == "pending"
    worker()
    first, second = receiver.received
    assert first.body == second.body
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == sent["eventId"]
    assert Delivery.objects.get(pk=again["id"]).status == "succeeded"


def test_redelivery_is_refused_while_the_event_is_still_pending(
    dashboard_a, configured_a, receiver, worker, committed
):
    receiver.reply(Reply(500))
    with committed():
        sent = dashboard_a.post("/api/v1/webhook/test").json()
    worker()
    response = dashboard_a.post(f"/api/v1/deliveries/{sent['deliveryId']}/redeliver")
    assert response.status_code == 409


def test_events_of_an_item(dashboard_a, configured_a, api_a, emit, partner_a, worker):
    api_a.put("A-1")
    api_a.put("A-2")
    item = Item.objects.get(external_id="A-1")
    emit(partner_a, "listing.created", item, tradera_ad_id="77")
    emit(partner_a, "item.sold", item, sale_price=950, tradera_ad_id="77")
    emit(partner_a, "item.sold", Item.objects.get(external_id="A-2"), sale_price=1)
    worker()
    events = dashboard_a.get("/api/v1/events?externalId=A-1").json()["events"]
    assert [e["eventType"] for e in events] == ["listing.created", "item.sold"]
    assert [e["sequence"] for e in events] == [1, 2]
    assert events[1]["payload"]["data"]["salePrice"] == 950
    assert events[1]["deliveries"][0]["status"] == "succeeded"
    assert json.loads(json.dumps(events[1]["payload"]))["eventId"] == events[1]["eventId"]


def test_turning_the_endpoint_off_stops_deliveries(
    dashboard_a, configured_a, api_a, receiver, emit, worker, partner_a
):
    api_a.put("A-1")
    item = Item.objects.get(external_id="A-1")
    receiver.reply(Reply(500))
    emit(partner_a, "listing.created", item)
    worker()
    put_webhook(dashboard_a, receiver.url(), enabled=False)
    assert Delivery.objects.get().status == "failed"
    emit(partner_a, "item.sold", item)
    worker()
    assert len(receiver.received) == 1


def test_partners_never_see_each_others_webhooks(
    dashboard_a, dashboard_b, configured_a, receiver, worker, committed
):
    with committed():
        sent = dashboard_a.post("/api/v1/webhook/test").json()
    worker()
    assert dashboard_b.get("/api/v1/webhook").json()["secret"] is None
    assert dashboard_b.get("/api/v1/deliveries").json()["results"] == []
    assert dashboard_b.get("/api/v1/events").json()["events"] == []
    for path in (f"/api/v1/deliveries/{sent['deliveryId']}",):
        assert dashboard_b.get(path).status_code == 404
    redeliver = dashboard_b.post(f"/api/v1/deliveries/{sent['deliveryId']}/redeliver")
    assert redeliver.status_code == 404
    assert redeliver.json()["error"]["code"] == "not_found"
    assert dashboard_b.post("/api/v1/webhook/rotate-secret").status_code == 404
    assert dashboard_b.post("/api/v1/webhook/test").status_code == 404
    assert len(receiver.received) == 1


def test_every_management_endpoint_needs_a_token(client):
    paths = [
        ("get", "/api/v1/webhook"),
        ("put", "/api/v1/webhook"),
        ("post", "/api/v1/webhook/rotate-secret"),
        ("post", "/api/v1/webhook/test"),
        ("get", "/api/v1/deliveries"),
        ("get", "/api/v1/deliveries/3fa85f64-5717-4562-b3fc-2c963f66afa6"),
        ("post", "/api/v1/deliveries/3fa85f64-5717-4562-b3fc-2c963f66afa6/redeliver"),
        ("get", "/api/v1/events"),
        ("get", "/api/v1/api-keys"),
        ("post", "/api/v1/api-keys"),
        ("delete", "/api/v1/api-keys/3fa85f64-5717-4562-b3fc-2c963f66afa6"),
    ]
    for method, path in paths:
        response = getattr(client, method)(path)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "authentication_failed"


def test_the_schema_describes_the_management_api(client):
    schema = client.get("/api/schema/?format=json").json()
    for path in (
        "/api/v1/auth/token",
        "/api/v1/auth/token/refresh",
        "/api/v1/api-keys",
        "/api/v1/api-keys/{key_id}",
        "/api/v1/webhook",
        "/api/v1/webhook/rotate-secret",
        "/api/v1/webhook/test",
        "/api/v1/deliveries",
        "/api/v1/deliveries/{delivery_id}",
        "/api/v1/deliveries/{delivery_id}/redeliver",
        "/api/v1/events",
    ):
        assert path in schema["paths"], path
    assert "jwtAuth" in schema["components"]["securitySchemes"]
    assert schema["paths"]["/api/v1/webhook"]["get"]["security"] == [{"jwtAuth": []}]


@pytest.fixture
def staff_client(client, db):
    from partners.models import User

    staff = User.objects.create_superuser(email="staff@rheo.example", password="pw")
    client.force_login(staff)
    return client


def test_staff_see_endpoints_events_and_attempts_but_never_a_secret(
    staff_client, dashboard_a, configured_a, receiver, worker, committed
):
    with committed():
        sent = dashboard_a.post("/api/v1/webhook/test").json()
    worker()
    delivery = Delivery.objects.get()
    pages = [
        "/admin/webhooks/webhookendpoint/",
        f"/admin/webhooks/webhookendpoint/{delivery.endpoint_id}/change/",
        "/admin/webhooks/event/",
        "/admin/webhooks/delivery/",
        f"/admin/webhooks/delivery/{delivery.pk}/change/",
    ]
    for page in pages:
        response = staff_client.get(page)
        assert response.status_code == 200, page
        assert configured_a["secret"] not in response.content.decode()
    detail = staff_client.get(f"/admin/webhooks/delivery/{delivery.pk}/change/").content.decode()
    assert sent["eventId"] in detail

    with committed():
        staff_client.post(
            "/admin/webhooks/delivery/",
            {"action": "redeliver", "_selected_action": [str(delivery.pk)]},
        )
    worker()
    assert len(receiver.received) == 2


def test_staff_can_disable_an_endpoint(staff_client, configured_a, committed):
    from django.core import mail

    from webhooks.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.get()
    with committed():
        staff_client.post(
            "/admin/webhooks/webhookendpoint/",
            {"action": "disable", "_selected_action": [str(endpoint.pk)]},
        )
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert len(mail.outbox) == 1
