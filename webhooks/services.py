"""Webhook events and their delivery.

`emit` records an event in the caller's transaction and one delivery per endpoint that
wants it. Deliveries are a queue in the database: `next_attempt_at` says when a delivery
is due, `locked_until` is the lease of the worker attempting it, `nudged_at` when a Celery
message about it was last sent. A message only nudges: `attempt_delivery` claims the row
itself, so a duplicate or late message does nothing, and `sweep_deliveries` re-sends
nudges that were lost, so a broker that loses messages or a worker killed mid-attempt
loses no delivery.
"""

import json
import logging
import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from ulid import ULID

from partners.models import Partner
from rheo import outbound
from rheo.celery import send_on_commit
from rheo.errors import ServiceError
from webhooks import signing
from webhooks.models import (
    SUBSCRIBABLE_EVENT_TYPES,
    Delivery,
    DeliveryAttempt,
    Event,
    EventType,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)

USER_AGENT = "Rheo-Webhooks/1"
# After the first attempt fails, the next ones wait this long (±20 %): about 28 hours in
# all, as Standard Webhooks senders (Svix) do.
RETRY_DELAYS = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.2
# A receiver that said 429 or did not answer in time gets at least this long to recover.
MIN_DELAY_AFTER_OVERLOAD = timedelta(seconds=60)
# An endpoint whose every attempt has failed for this long is disabled.
DISABLE_AFTER = timedelta(days=5)
ROTATION_OVERLAP = timedelta(hours=24)
RESPONSE_BODY_LIMIT = 2048
# A worker's hold on a delivery it is attempting: well past the attempt's timeout.
LEASE = timedelta(seconds=60)
# A nudge not acted on within this long is taken as lost and sent again by the sweeper.
NUDGE_GRACE = timedelta(minutes=2)
# Delays at most this long ride on a Celery countdown; longer ones wait for the sweeper.
COUNTDOWN_LIMIT = timedelta(seconds=30)
SWEEP_BATCH = 500

DELIVER_TASK = "webhooks.deliver"


# --- Events --------------------------------------------------------------------------


def emit(partner: Partner, event_type: str, item, **data) -> Event:
    """Record that `event_type` happened to `item`, inside the caller's transaction, so the
    event exists if and only if the change that caused it commits. Each endpoint of the
    item's mode that is enabled and subscribed gets a delivery, nudged after commit.

    `data` (all optional): platform ("tradera"), sale_price, tradera_ad_id,
    tradera_ad_url, and for listing.failed `error={"code": …, "message": …}`.
    """
    if event_type not in SUBSCRIBABLE_EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}.")
    if item.partner_id != partner.pk:
        raise ValueError("The item belongs to another partner.")
    return _record_event(
        partner=partner,
        livemode=item.livemode,
        event_type=event_type,
        item=item,
        data=_item_data(event_type, item, **data),
    )


def send_test_event(*, partner: Partner, livemode: bool) -> tuple[Event, Delivery]:
    """A webhook.test event to the partner's endpoint of that mode, whatever it subscribes
    to. Refused when there is no enabled endpoint."""
    endpoint = _endpoint_for(partner, livemode)
    if endpoint is None:
        raise ServiceError("not_found", "No webhook endpoint is configured.")
    if not endpoint.enabled:
        raise ServiceError("conflict", "The webhook endpoint is disabled; enable it first.")
    data = {"test": True, "message": "A test event from Rheo. Your endpoint works."}
    event = _record_event(
        partner=partner, livemode=livemode, event_type=EventType.WEBHOOK_TEST, item=None, data=data
    )
    return event, event.deliveries.get()


def _item_data(
    event_type,
    item,
    *,
    platform="tradera",
    sale_price=0,
    tradera_ad_id=None,
    tradera_ad_url=None,
    error=None,
) -> dict:
    data = {
        "externalId": item.external_id,
        "rheoItemId": str(item.id),
        "platform": platform,
        "salePrice": _json_number(sale_price),
        "currency": item.currency,
        "traderaAdId": tradera_ad_id,
        "traderaAdUrl": tradera_ad_url,
    }
    if event_type == EventType.LISTING_FAILED:
        if not error or not {"code", "message"} <= error.keys():
            raise ValueError("listing.failed needs error={'code': …, 'message': …}.")
        data["error"] = {"code": error["code"], "message": error["message"]}
    return data


def _json_number(value):
    value = Decimal(str(value))
    return int(value) if value == value.to_integral_value() else float(value)


def _record_event(*, partner, livemode, event_type, item, data) -> Event:
    now = timezone.now()
    event_id = "evt_" + str(ULID()).lower()
    body = {
        "eventId": event_id,
        "eventType": str(event_type),
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": data,
    }
    with transaction.atomic():
        event = Event.objects.create(
            id=event_id,
            partner=partner,
            livemode=livemode,
            event_type=event_type,
            item=item,
            external_id=item.external_id if item else "",
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            created_at=now,
        )
        endpoint = _endpoint_for(partner, livemode)
        wanted = event_type == EventType.WEBHOOK_TEST or (
            endpoint is not None and endpoint.enabled and event_type in endpoint.event_types
        )
        if wanted:
            delivery = Delivery.objects.create(
                event=event, endpoint=endpoint, next_attempt_at=now, nudged_at=now, created_at=now
            )
            _nudge_on_commit(delivery.pk)
    return event


def _endpoint_for(partner, livemode) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(partner=partner, livemode=livemode).first()


def _nudge_on_commit(delivery_id, countdown: float | None = None) -> None:
    send_on_commit(DELIVER_TASK, str(delivery_id), countdown=countdown)


# --- Endpoint settings ---------------------------------------------------------------


def configure_endpoint(
    *, partner: Partner, livemode: bool, url: str, enabled: bool, event_types: list[str]
) -> WebhookEndpoint:
    """Create or change the partner's endpoint of that mode. The URL must be one Rheo may
    call (checked again on every attempt). Enabling a disabled endpoint resets its health."""
    try:
        outbound.resolve(url)
    except outbound.UnsafeURL as exc:
        raise _url_error(str(exc)) from None
    except outbound.OutboundError as exc:
        raise _url_error(exc.message) from None
    unknown = sorted(set(event_types) - set(SUBSCRIBABLE_EVENT_TYPES))
    if unknown:
        message = f"Unknown event types: {', '.join(unknown)}."
        raise ServiceError("validation_error", message, fields={"eventTypes": [message]})
    with transaction.atomic():
        endpoint = (
            WebhookEndpoint.objects.select_for_update()
            .filter(partner=partner, livemode=livemode)
            .first()
        )
        if endpoint is None:
            endpoint = WebhookEndpoint(
                partner=partner, livemode=livemode, secret=signing.generate_secret()
            )
        if enabled and not endpoint.enabled:
            endpoint.failing_since = None
            endpoint.disabled_reason = ""
        if not enabled and endpoint.enabled and not endpoint._state.adding:
            _fail_pending(endpoint.deliveries.all(), "turned off by the partner", timezone.now())
            endpoint.disabled_reason = "Turned off by the partner."
        endpoint.url = url
        endpoint.enabled = enabled
        endpoint.event_types = [t for t in SUBSCRIBABLE_EVENT_TYPES if t in set(event_types)]
        endpoint.save()
    return endpoint


def _url_error(message: str) -> ServiceError:
    return ServiceError("validation_error", message, fields={"url": [message]})


def rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new signing secret; the one it replaces keeps signing beside it for 24 hours, so
    receivers can switch without dropping a delivery."""
    now = timezone.now()
    secret = signing.generate_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
        endpoint.secret = secret
        endpoint.save()
    return secret


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    active = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at > now:
        active.append(endpoint.previous_secret)
    return active


def enable_endpoint(*, endpoint: WebhookEndpoint) -> bool:
    """Deliver to a disabled endpoint again, with its health reset (staff's Re-enable; the
    partner does it by turning the endpoint on). What it missed is not sent by itself:
    it is redelivered from the log. False when it was enabled already."""
    return bool(
        WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=False).update(
            enabled=True, failing_since=None, disabled_reason="", updated_at=timezone.now()
        )
    )


def disable_endpoint(*, endpoint: WebhookEndpoint, reason: str) -> bool:
    """Stop delivering to the endpoint: its pending deliveries fail (they can be
    redelivered from the log) and the partner's users are told by email. False when it
    was disabled already."""
    now = timezone.now()
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
            enabled=False, disabled_reason=reason[:200], updated_at=now
        )
        if not changed:
            return False
        _fail_pending(Delivery.objects.filter(endpoint=endpoint), reason, now)
        transaction.on_commit(lambda: _email_endpoint_disabled(endpoint, reason))
    logger.warning("webhook endpoint disabled endpoint=%s reason=%r", endpoint.pk, reason)
    return True


def _fail_pending(deliveries, reason: str, now: datetime) -> None:
    deliveries.filter(status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILED,
        next_attempt_at=None,
        locked_until=None,
        completed_at=now,
        last_error=f"Endpoint disabled: {reason}"[:500],
    )


def _email_endpoint_disabled(endpoint: WebhookEndpoint, reason: str) -> None:
    recipients = list(endpoint.partner.users.filter(is_active=True).values_list("email", flat=True))
    if not recipients:
        return
    mode = "live" if endpoint.livemode else "test"
    send_mail(
        subject="Rheo: your webhook endpoint has been disabled",
        message=(
            f"Rheo has stopped sending webhooks to your {mode}-mode endpoint\n\n"
            f"    {endpoint.url}\n\n"
            f"Reason: {reason}\n\n"
            "Events are still recorded. When the endpoint works again, enable it under "
            "Integration → Webhook Settings (or PUT /api/v1/webhook with enabled: true) and "
            "redeliver what it missed from the delivery log.\n"
        ),
        from_email=None,
        recipient_list=recipients,
    )


# --- Delivery ------------------------------------------------------------------------


def attempt_delivery(*, delivery_id) -> None:
    """Attempt one due delivery, if it is still pending, due and not held by another
    worker; otherwise do nothing (so duplicate nudges are harmless). At most
    RHEO_WEBHOOK_MAX_IN_FLIGHT attempts run at once per endpoint; a delivery over that
    share is put back a moment without spending an attempt."""
    now = timezone.now()
    with transaction.atomic():
        # Lock order everywhere: the endpoint, then its deliveries.
        endpoint_id = (
            Delivery.objects.filter(pk=delivery_id).values_list("endpoint_id", flat=True).first()
        )
        if endpoint_id is None:
            return
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        if not endpoint.enabled:
            _fail_pending(Delivery.objects.filter(pk=delivery_id), endpoint.disabled_reason, now)
            return
        claimable = Delivery.objects.filter(
            Q(locked_until__isnull=True) | Q(locked_until__lte=now),
            pk=delivery_id,
            status=Delivery.Status.PENDING,
            next_attempt_at__lte=now,
        )
        in_flight = Delivery.objects.filter(
            endpoint_id=endpoint_id, status=Delivery.Status.PENDING, locked_until__gt=now
        ).count()
        if in_flight >= settings.RHEO_WEBHOOK_MAX_IN_FLIGHT:
            # Parked: still due, it waits for an attempt to this endpoint to end and wake
            # it (in _record_attempt), not on a timer, so a dead endpoint's backlog costs
            # nothing while it waits. The sweeper is the fallback.
            claimable.update(parked=True, nudged_at=now)
            return
        if not claimable.update(locked_until=now + LEASE, parked=False):
            return
    delivery = Delivery.objects.select_related("event").get(pk=delivery_id)
    _post(delivery, endpoint)


def _post(delivery: Delivery, endpoint: WebhookEndpoint) -> None:
    started_at = timezone.now()
    timestamp = int(started_at.timestamp())
    body = delivery.event.body
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(
            signing_secrets=signing_secrets(endpoint, started_at),
            msg_id=delivery.event_id,
            timestamp=timestamp,
            body=body,
        ),
    }
    status_code, response_body, error, overloaded = None, "", "", False
    try:
        response = outbound.request(
            "POST",
            endpoint.url,
            body=body.encode(),
            headers=headers,
            timeout=settings.RHEO_WEBHOOK_TIMEOUT_SECONDS,
            max_body_bytes=RESPONSE_BODY_LIMIT,
            truncate_body=True,
        )
    except outbound.UnsafeURL as exc:
        error = f"Refused: {exc}"
    except outbound.OutboundError as exc:
        error = exc.message
        overloaded = exc.kind == "timeout"
    else:
        status_code = response.status
        response_body = response.body.decode("utf-8", errors="replace")
        overloaded = status_code == 429
        if 300 <= status_code < 400:
            error = "Redirects are not followed; answer with a 2xx."
        elif not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    duration = timezone.now() - started_at
    _record_attempt(
        delivery,
        endpoint,
        started_at=started_at,
        duration_ms=round(duration.total_seconds() * 1000),
        status_code=status_code,
        response_body=response_body,
        error=error,
        overloaded=overloaded,
    )


def _record_attempt(
    delivery, endpoint, *, started_at, duration_ms, status_code, response_body, error, overloaded
) -> None:
    now = timezone.now()
    succeeded = not error
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        delivery.attempts += 1
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            url=endpoint.url,
            started_at=started_at,
            duration_ms=duration_ms,
            status_code=status_code,
            response_body=response_body,
            error=error[:500],
        )
        delivery.last_status_code = status_code
        delivery.last_error = error[:500]
        delivery.locked_until = None
        disable_reason = None
        was_failing_since = endpoint.failing_since
        if succeeded:
            delivery.status = Delivery.Status.SUCCEEDED
            delivery.next_attempt_at = None
            delivery.completed_at = now
            endpoint.failing_since = None
        else:
            endpoint.failing_since = endpoint.failing_since or started_at
            if status_code == 410:
                disable_reason = "The endpoint answered 410 Gone."
            elif now - endpoint.failing_since >= DISABLE_AFTER:
                disable_reason = "Every delivery has failed for 5 days."
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = Delivery.Status.FAILED
                delivery.next_attempt_at = None
                delivery.completed_at = now
            else:
                delay = retry_delay(delivery.attempts, overloaded=overloaded)
                delivery.next_attempt_at = now + delay
                delivery.nudged_at = now
                if delay <= COUNTDOWN_LIMIT:
                    _nudge_on_commit(delivery.pk, countdown=delay.total_seconds())
        delivery.save()
        if endpoint.failing_since != was_failing_since:  # a healthy endpoint: no write
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                failing_since=endpoint.failing_since
            )
        if disable_reason:
            disable_endpoint(endpoint=endpoint, reason=disable_reason)
        else:
            _wake_parked(endpoint.pk, now)


def _wake_parked(endpoint_id, now: datetime) -> None:
    """An attempt to the endpoint has ended and freed a slot: the delivery that has been
    parked longest gets it. The caller holds the endpoint's lock, so wakers queue."""
    waiting = (
        Delivery.objects.filter(endpoint_id=endpoint_id, status=Delivery.Status.PENDING)
        .filter(parked=True, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is not None:
        Delivery.objects.filter(pk=waiting).update(parked=False, nudged_at=now)
        _nudge_on_commit(waiting)


def retry_delay(attempts_made: int, *, overloaded: bool) -> timedelta:
    """The wait before attempt `attempts_made + 1`: the schedule's step ±20 %, and at
    least a minute after a 429 or a timeout."""
    delay = RETRY_DELAYS[attempts_made - 1] * random.uniform(1 - JITTER, 1 + JITTER)
    return max(delay, MIN_DELAY_AFTER_OVERLOAD) if overloaded else delay


def sweep_deliveries(*, limit: int = SWEEP_BATCH) -> int:
    """Nudge deliveries that are due, not held by a worker, and whose last nudge is older
    than NUDGE_GRACE (lost, or due only now). Returns how many were nudged."""
    now = timezone.now()
    with transaction.atomic():
        due = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
            .filter(Q(nudged_at__isnull=True) | Q(nudged_at__lte=now - NUDGE_GRACE))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        ids = list(due)
        Delivery.objects.filter(pk__in=ids).update(nudged_at=now)
        for delivery_id in ids:
            _nudge_on_commit(delivery_id)
    return len(ids)


def redeliver(*, delivery: Delivery) -> Delivery:
    """Send the delivery's event to its endpoint again, as a new delivery with a fresh
    schedule. Refused while that event is still pending there or the endpoint is off."""
    now = timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        if not endpoint.enabled:
            raise ServiceError("conflict", "The webhook endpoint is disabled; enable it first.")
        if Delivery.objects.filter(
            event_id=delivery.event_id, endpoint=endpoint, status=Delivery.Status.PENDING
        ).exists():
            raise ServiceError("conflict", "This event is already on its way to the endpoint.")
        new = Delivery.objects.create(
            event_id=delivery.event_id,
            endpoint=endpoint,
            next_attempt_at=now,
            nudged_at=now,
            created_at=now,
        )
        _nudge_on_commit(new.pk)
    return new
