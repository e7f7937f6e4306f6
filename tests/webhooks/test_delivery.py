"""Deliveries as a partner's receiver sees them: signed, retried on schedule, logged,
never lost, and never sent anywhere Rheo must not call."""

import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from items.models import Item
from tests.webhooks.conftest import Receiver, Reply
from webhooks import services, signing
from webhooks.models import Delivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def item_a(api_a):
    assert api_a.put("ERP_PART_12345").status_code == 202
    return Item.objects.get(external_id="ERP_PART_12345")


@pytest.fixture
def item_b(api_b):
    assert api_b.put("ERP_PART_B").status_code == 202
    return Item.objects.get(external_id="ERP_PART_B")


@pytest.fixture
def endpoint_a(partner_a, receiver):
    return services.configure_endpoint(
        partner=partner_a,
        livemode=True,
        url=receiver.url(),
        enabled=True,
        event_types=["listing.created", "listing.ended", "listing.failed", "item.sold"],
    )


def created(emit, partner, item):
    return emit(
        partner,
        "listing.created",
        item,
        tradera_ad_id="398271634",
        tradera_ad_url="https://www.tradera.com/item/398271634",
    )


def only_delivery() -> Delivery:
    return Delivery.objects.get()


def test_delivery_is_signed_so_the_standard_webhooks_library_verifies_it(
    partner_a, item_a, endpoint_a, receiver, emit, worker
):
    event = created(emit, partner_a, item_a)
    assert worker() == ["webhooks.deliver"]

    [request] = receiver.received
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "Rheo-Webhooks/1"
    assert request.headers["webhook-id"] == event.id
    # The partner's code, exactly as the standardwebhooks README shows it:
    wh = Webhook(endpoint_a.secret)
    payload = wh.verify(request.body, request.headers)
    assert payload["eventId"] == event.id
    assert payload["eventType"] == "listing.created"
    assert payload["data"]["traderaAdId"] == "398271634"

    tampered = request.body.replace("398271634", "398271635")
    with pytest.raises(WebhookVerificationError):
        wh.verify(tampered, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.generate_secret()).verify(request.body, request.headers)

    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    [attempt] = delivery.attempt_log.all()
    assert (attempt.number, attempt.status_code, attempt.response_body, attempt.error) == (
        1,
        200,
        "ok",
        "",
    )
    assert attempt.url == receiver.url()


def test_payload_is_exactly_the_quick_starts(partner_a, item_a, endpoint_a, receiver, emit, worker):
    event = created(emit, partner_a, item_a)
    worker()
    body = json.loads(receiver.received[0].body)
    assert re.fullmatch(r"evt_[0-9a-hjkmnp-tv-z]{26}", body["eventId"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"])
    assert body == {
        "eventId": event.id,
        "eventType": "listing.created",
        "timestamp": body["timestamp"],
        "data": {
            "externalId": "ERP_PART_12345",
            "rheoItemId": str(item_a.id),
            "platform": "tradera",
            "salePrice": 0,
            "currency": "SEK",
            "traderaAdId": "398271634",
            "traderaAdUrl": "https://www.tradera.com/item/398271634",
            "sequence": 1,
            # Relisting: the first auction of the item, relisted from none.
            "relistCount": 0,
            "previousTraderaAdId": None,
        },
    }


def test_sold_and_failed_events_carry_their_price_and_error(
    partner_a, item_a, endpoint_a, receiver, emit, worker
):
    emit(partner_a, "item.sold", item_a, sale_price=1100, tradera_ad_id="398271634")
    emit(
        partner_a,
        "listing.failed",
        item_a,
        error={"code": "tradera_token_expired", "message": "Reconnect Tradera."},
    )
    worker()
    sold, failed = (json.loads(r.body) for r in receiver.received)
    assert sold["eventType"] == "item.sold"
    assert sold["data"]["salePrice"] == 1100
    assert failed["data"]["error"] == {
        "code": "tradera_token_expired",
        "message": "Reconnect Tradera.",
    }
    with pytest.raises(ValueError):
        services.emit(partner_a, "listing.failed", item_a)


def test_failed_attempts_are_retried_on_schedule_then_succeed(
    partner_a, item_a, endpoint_a, receiver, closed_port_url, emit, worker, clock
):
    receiver.reply(Reply(500, b"database down"))
    created(emit, partner_a, item_a)
    worker()
    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=3.9) <= wait <= timedelta(seconds=6.1)  # 5 s ± 20 %

    clock.shift(timedelta(seconds=7))
    worker()  # the second attempt rode on a countdown message
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    log = list(delivery.attempt_log.values_list("number", "status_code", "response_body", "error"))
    assert log == [(1, 500, "database down", "HTTP 500"), (2, 200, "ok", "")]
    assert len(receiver.received) == 2
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]


def test_a_refused_connection_is_retried(
    partner_a, item_a, endpoint_a, receiver, closed_port_url, emit, worker, clock
):
    WebhookEndpoint.objects.filter(pk=endpoint_a.pk).update(url=closed_port_url)
    created(emit, partner_a, item_a)
    worker()
    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert "Could not connect" in delivery.last_error

    WebhookEndpoint.objects.filter(pk=endpoint_a.pk).update(url=receiver.url())
    clock.shift(timedelta(seconds=7))
    worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


@override_settings(RHEO_WEBHOOK_TIMEOUT_SECONDS=0.3)
def test_a_timeout_waits_at_least_a_minute_before_the_next_attempt(
    partner_a, item_a, endpoint_a, receiver, emit, worker, clock
):
    receiver.reply(Reply(hang=True))
    created(emit, partner_a, item_a)
    worker()
    delivery = only_delivery()
    assert delivery.status == "pending"
    assert "Timed out" in delivery.last_error
    assert delivery.next_attempt_at - timezone.now() >= timedelta(seconds=59)
    [attempt] = delivery.attempt_log.all()
    assert attempt.status_code is None and attempt.duration_ms >= 300


@override_settings(RHEO_WEBHOOK_TIMEOUT_SECONDS=0.5)
def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_time_limit(
    partner_a, item_a, endpoint_a, receiver, emit, worker
):
    receiver.reply(Reply(trickle=True))
    created(emit, partner_a, item_a)
    worker()
    delivery = only_delivery()
    assert "Timed out" in delivery.last_error
    assert 500 <= delivery.attempt_log.get().duration_ms < 2000


def test_429_waits_at_least_a_minute(partner_a, item_a, endpoint_a, receiver, emit, worker):
    receiver.reply(Reply(429, b"slow down"))
    created(emit, partner_a, item_a)
    worker()
    delivery = only_delivery()
    assert delivery.last_status_code == 429
    assert delivery.next_attempt_at - timezone.now() >= timedelta(seconds=59)


def test_a_redirect_is_a_failure_and_is_not_followed(
    partner_a, item_a, endpoint_a, receiver, emit, worker
):
    receiver.reply(Reply(302, b"", headers={"Location": receiver.url("/elsewhere")}))
    created(emit, partner_a, item_a)
    worker()
    delivery = only_delivery()
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)
    assert "Redirects are not followed" in delivery.last_error
    assert [r.path for r in receiver.received] == ["/hooks/rheo"]


def test_only_the_first_2_kb_of_a_response_are_kept(
    partner_a, item_a, endpoint_a, receiver, emit, worker
):
    receiver.reply(Reply(200, b"x" * 10_000))
    created(emit, partner_a, item_a)
    worker()
    assert only_delivery().attempt_log.get().response_body == "x" * 2048


def test_after_the_last_attempt_the_delivery_has_failed(
    partner_a, item_a, endpoint_a, receiver, emit, worker, clock
):
    """Thirteen attempts: at once, then after 5 s, 30 s, 2 min, 5 min, 10 min, 30 min, 1 h,
    2 h, 4 h, 8 h, 10 h and 10 h (±20 %), the later ones nudged by the sweeper: dense while
    a receiver is down for minutes, and still trying after a day."""
    receiver.reply(*[Reply(503)] * 13)
    created(emit, partner_a, item_a)
    worker()
    schedule = [timedelta(seconds=s) for s in (5, 30)]
    schedule += [timedelta(minutes=m) for m in (2, 5, 10, 30)]
    schedule += [timedelta(hours=h) for h in (1, 2, 4, 8, 10, 10)]
    for step in schedule:
        delivery = only_delivery()
        wait = delivery.next_attempt_at - timezone.now()
        assert step * 0.79 <= wait <= step * 1.21, (delivery.attempts, wait)
        clock.shift(wait + timedelta(seconds=1))
        worker.sweep_deliveries()
        worker()
    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 13, None)
    assert delivery.attempt_log.count() == 13
    assert len(receiver.received) == 13
    assert sum(schedule, timedelta()) > timedelta(days=1)
    assert WebhookEndpoint.objects.get().enabled  # failing for ~36 h, not 5 days


def test_a_success_brings_the_endpoints_waiting_deliveries_forward(
    partner_a, partner_b, item_a, item_b, endpoint_a, receiver, emit, worker, clock
):
    """A receiver that is back gets its backlog at once, not at each delivery's next
    retry; another endpoint's deliveries keep their schedule."""
    other = Receiver()
    try:
        services.configure_endpoint(
            partner=partner_b, livemode=True, url=other.url(), enabled=True,
            event_types=["listing.created"],
        )  # fmt: skip
        other.reply(Reply(503), Reply(503))
        receiver.reply(*[Reply(503)] * 6)
        for _ in range(3):
            created(emit, partner_a, item_a)
        created(emit, partner_b, item_b)
        worker()  # every first attempt fails: retries in 5 s
        clock.shift(timedelta(seconds=7))
        worker()  # and the second ones: retries in 30 s
        waiting = Delivery.objects.filter(endpoint=endpoint_a)
        assert [d.attempts for d in waiting] == [2, 2, 2]
        assert all(d.next_attempt_at > timezone.now() + timedelta(seconds=20) for d in waiting)
        elsewhere = Delivery.objects.exclude(endpoint=endpoint_a).get()
        assert elsewhere.attempts == 2
        its_retry = elsewhere.next_attempt_at

        # The receiver is back: a new event's first attempt succeeds...
        created(emit, partner_a, item_a)
        worker()

        # ...and the three waiting deliveries follow at once, through the in-flight cap.
        assert set(waiting.values_list("status", flat=True)) == {"succeeded"}
        assert len(receiver.received) == 3 + 3 + 1 + 3
        elsewhere.refresh_from_db()
        assert (elsewhere.status, elsewhere.attempts) == ("pending", 2)
        assert elsewhere.next_attempt_at == its_retry
        assert len(other.received) == 2
    finally:
        other.close()


def test_410_gone_disables_the_endpoint_at_once_and_emails_the_partner(
    partner_a, item_a, endpoint_a, receiver, emit, worker
):
    receiver.reply(Reply(410, b"gone"))
    created(emit, partner_a, item_a)
    worker()
    endpoint_a.refresh_from_db()
    assert not endpoint_a.enabled
    assert "410" in endpoint_a.disabled_reason
    delivery = only_delivery()
    assert delivery.status == "failed"
    [message] = mail.outbox
    assert message.to == ["ops@recopart.example"]
    assert endpoint_a.url in message.body

    # Later events are recorded but not sent.
    created(emit, partner_a, item_a)
    assert worker() == []
    assert Delivery.objects.count() == 1


def test_an_endpoint_failing_every_delivery_for_5_days_is_disabled(
    partner_a, item_a, endpoint_a, receiver, emit, worker, clock
):
    receiver.reply(*[Reply(500)] * 20)
    for day in range(6):
        created(emit, partner_a, item_a)
        worker()
        endpoint_a.refresh_from_db()
        assert endpoint_a.enabled == (day < 5), day
        clock.shift(timedelta(days=1))
    assert len(mail.outbox) == 1
    assert "5 days" in endpoint_a.disabled_reason
    assert not Delivery.objects.filter(status="pending").exists()


def test_a_success_resets_the_endpoints_failing_streak(
    partner_a, item_a, endpoint_a, receiver, emit, worker, clock
):
    receiver.reply(*[Reply(500)] * 4)
    for _ in range(4):
        created(emit, partner_a, item_a)
        worker()
        clock.shift(timedelta(days=1))
    created(emit, partner_a, item_a)  # answered 200
    worker()
    clock.shift(timedelta(days=2))
    receiver.reply(Reply(500))
    created(emit, partner_a, item_a)
    worker()
    endpoint_a.refresh_from_db()
    assert endpoint_a.enabled and endpoint_a.failing_since is not None
    assert mail.outbox == []


def test_during_a_rotation_both_secrets_sign_for_24_hours(
    partner_a, item_a, endpoint_a, receiver, emit, worker, clock
):
    old_secret = endpoint_a.secret
    new_secret = services.rotate_secret(endpoint=endpoint_a)
    assert new_secret != old_secret
    created(emit, partner_a, item_a)
    worker()
    request = receiver.received[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(request.body, request.headers)
    Webhook(new_secret).verify(request.body, request.headers)

    clock.shift(timedelta(hours=24, seconds=1))
    created(emit, partner_a, item_a)
    worker()
    request = receiver.received[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    Webhook(new_secret).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(request.body, request.headers)


def test_the_secret_is_encrypted_at_rest(endpoint_a):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_webhookendpoint")
        [(stored,)] = cursor.fetchall()
    assert endpoint_a.secret.startswith("whsec_")
    assert endpoint_a.secret not in stored
    assert endpoint_a.secret.removeprefix("whsec_") not in stored


def test_a_duplicate_nudge_does_nothing(partner_a, item_a, endpoint_a, receiver, emit, worker):
    created(emit, partner_a, item_a)
    delivery_id = str(only_delivery().pk)
    services.attempt_delivery(delivery_id=delivery_id)
    services.attempt_delivery(delivery_id=delivery_id)
    worker()  # and the original message, late
    assert len(receiver.received) == 1
    assert only_delivery().attempts == 1


def test_the_sweeper_delivers_what_the_broker_lost(
    partner_a, item_a, endpoint_a, receiver, emit, broker_messages, worker, clock
):
    created(emit, partner_a, item_a)
    assert len(broker_messages("webhooks")) == 1  # gone: the broker lost it
    assert worker.sweep_deliveries() == 0  # nudged just now; not yet taken as lost
    clock.shift(services.NUDGE_GRACE + timedelta(seconds=1))
    assert worker.sweep_deliveries() == 1
    worker()
    assert only_delivery().status == "succeeded"
    assert len(receiver.received) == 1
    assert worker.sweep_deliveries() == 0


def test_an_event_rolled_back_with_its_cause_is_never_sent(
    partner_a, item_a, endpoint_a, receiver, django_capture_on_commit_callbacks, worker
):
    from django.db import transaction

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.emit(partner_a, "item.sold", item_a, sale_price=900)
        raise RuntimeError("the sale did not commit")
    assert callbacks == []
    assert not Delivery.objects.exists()
    assert worker() == []


def test_events_go_only_to_an_enabled_endpoint_of_the_items_mode_that_wants_them(
    partner_a, api_a_test, receiver, emit, worker
):
    assert api_a_test.put("TEST-1").status_code == 202
    test_item = Item.objects.get(external_id="TEST-1")
    services.configure_endpoint(
        partner=partner_a,
        livemode=True,
        url=receiver.url("/live"),
        enabled=True,
        event_types=["item.sold"],
    )
    emit(partner_a, "item.sold", test_item, sale_price=10)  # a test item: no test endpoint
    services.configure_endpoint(
        partner=partner_a,
        livemode=False,
        url=receiver.url("/test"),
        enabled=True,
        event_types=["item.sold"],
    )
    emit(partner_a, "listing.created", test_item)  # not subscribed
    emit(partner_a, "item.sold", test_item, sale_price=10)
    worker()
    assert [r.path for r in receiver.received] == ["/test"]


@override_settings(RHEO_ALLOW_LOCAL_URLS=False)
def test_the_address_is_checked_again_when_sending(partner_a, item_a, receiver, emit, worker):
    # Saved while local receivers were allowed (as under make run), sent when they are not.
    with override_settings(RHEO_ALLOW_LOCAL_URLS=True):
        services.configure_endpoint(
            partner=partner_a,
            livemode=True,
            url=receiver.url().replace("http://", "https://"),
            enabled=True,
            event_types=["listing.created"],
        )
    created(emit, partner_a, item_a)
    worker()
    delivery = only_delivery()
    assert delivery.status == "pending"
    assert delivery.last_error.startswith("Refused:")
    assert "127.0.0.1" in delivery.last_error
    assert receiver.received == []
