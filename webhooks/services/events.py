"""Webhook events and the endpoints they go to.

`emit` records an event in the caller's transaction and one delivery per endpoint that
wants it, nudged after commit (delivery.py attempts it). An endpoint's settings, its
secrets and whether it is enabled are changed here."""

import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import BigIntegerField, Func
from django.utils import timezone
from ulid import ULID

from partners.models import Partner
from rheo import outbound
from rheo.celery import nudge_on_commit as nudge_task_on_commit
from rheo.errors import ServiceError
from webhooks import signing
from webhooks.models import (
    SUBSCRIBABLE_EVENT_TYPES,
    Delivery,
    Event,
    EventType,
    ItemEventCounter,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)

ROTATION_OVERLAP = timedelta(hours=24)
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
    relist_count=None,
    previous_tradera_ad_id=None,
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
    if event_type in (EventType.LISTING_CREATED, EventType.LISTING_ENDED):
        # Relisting (tradera.relisting): how many relists led to this auction, and the
        # auction it replaced.
        data["relistCount"] = relist_count or 0
        data["previousTraderaAdId"] = (
            None if previous_tradera_ad_id is None else str(previous_tradera_ad_id)
        )
    if event_type == EventType.LISTING_FAILED:
        if not error or not {"code", "message"} <= error.keys():
            raise ValueError("listing.failed needs error={'code': …, 'message': …}.")
        data["error"] = {"code": error["code"], "message": error["message"]}
    return data


def _json_number(value):
    value = Decimal(str(value))
    return int(value) if value == value.to_integral_value() else float(value)


class WritingTransaction(Func):
    """In an INSERT: the id of the transaction writing the row on PostgreSQL (the feed
    shows it once no older transaction is in flight, see webhooks.feed); 0 on SQLite,
    whose writes are serialized."""

    template = "0"
    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra_context):
        template = "pg_current_xact_id()::text::bigint"
        return self.as_sql(compiler, connection, template=template, **extra_context)


class NextPosition(Func):
    """In an INSERT: the event's place in the insertion order. A sequence on PostgreSQL
    (made by the migration); one past the last on SQLite, where the writer holds the
    database's only write lock."""

    template = "(SELECT COALESCE(MAX(position), 0) + 1 FROM webhooks_event)"
    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra_context):
        template = "nextval('webhooks_event_position_seq')"
        return self.as_sql(compiler, connection, template=template, **extra_context)


def next_item_sequence(item) -> int:
    """The item's next event number, 1 for its first. One upsert: concurrent emitters for
    the same item queue on its counter row until the first commits, so the numbers follow
    the order the events commit in."""
    table = ItemEventCounter._meta.db_table
    item_id = ItemEventCounter._meta.pk.get_db_prep_value(item.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (item_id, last_sequence) VALUES (%s, 1) "  # noqa: S608
            f"ON CONFLICT (item_id) DO UPDATE SET last_sequence = {table}.last_sequence + 1 "
            "RETURNING last_sequence",
            [item_id],
        )
        return cursor.fetchone()[0]


def _record_event(*, partner, livemode, event_type, item, data) -> Event:
    now = timezone.now()
    event_id = "evt_" + str(ULID()).lower()
    # No savepoint inside the caller's transaction: an event that cannot be written fails
    # the change that caused it, so there is nothing to roll back to. (Outside one, this
    # is the transaction.)
    with transaction.atomic(savepoint=False):
        sequence = None
        if item is not None:
            sequence = next_item_sequence(item)
            data = {**data, "sequence": sequence}
        body = {
            "eventId": event_id,
            "eventType": str(event_type),
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": data,
        }
        event = Event.objects.create(
            id=event_id,
            partner=partner,
            livemode=livemode,
            event_type=event_type,
            item=item,
            external_id=item.external_id if item else "",
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            created_at=now,
            sequence=sequence,
            txid=WritingTransaction(),
            position=NextPosition(),
        )
        # Three columns, not the endpoint: its secrets are neither needed nor decrypted.
        endpoint = (
            WebhookEndpoint.objects.filter(partner=partner, livemode=livemode)
            .values_list("pk", "enabled", "event_types")
            .first()
        )
        if endpoint is not None:
            endpoint_id, enabled, event_types = endpoint
            if event_type == EventType.WEBHOOK_TEST or (enabled and event_type in event_types):
                delivery = Delivery.objects.create(
                    event=event,
                    endpoint_id=endpoint_id,
                    next_attempt_at=now,
                    nudged_at=now,
                    created_at=now,
                )
                nudge_on_commit(delivery.pk)
    return event


def _endpoint_for(partner, livemode) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(partner=partner, livemode=livemode).first()


def nudge_on_commit(delivery_id, countdown: float | None = None) -> None:
    """Ask for an attempt of the delivery once the transaction commits."""
    nudge_task_on_commit(DELIVER_TASK, str(delivery_id), countdown=countdown)


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
        is_new = endpoint is None
        if endpoint is None:
            endpoint = WebhookEndpoint(
                partner=partner, livemode=livemode, secret=signing.generate_secret()
            )
        if enabled and not endpoint.enabled:
            endpoint.failing_since = None
            endpoint.disabled_reason = ""
        if not enabled and endpoint.enabled and not is_new:
            fail_pending(endpoint.deliveries.all(), "turned off by the partner", timezone.now())
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
    expires_at = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires_at is not None and expires_at > now:
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
        fail_pending(Delivery.objects.filter(endpoint=endpoint), reason, now)
        transaction.on_commit(lambda: _email_endpoint_disabled(endpoint, reason))
    logger.warning("webhook endpoint disabled endpoint=%s reason=%r", endpoint.pk, reason)
    return True


def fail_pending(deliveries, reason: str, now: datetime) -> None:
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
