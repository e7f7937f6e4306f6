"""Webhook deliveries, a queue in the database.

`next_attempt_at` says when a delivery is due, `locked_until` is the lease of the worker
attempting it, `nudged_at` when a Celery message about it was last sent. A message only
nudges: `attempt_delivery` claims the row itself, so a duplicate or late message does
nothing, and `sweep_deliveries` re-sends nudges that were lost, so a broker that loses
messages or a worker killed mid-attempt loses no delivery. Every attempt is logged
(DeliveryAttempt). A success shows the endpoint answers again: its deliveries waiting for
a later retry are due at once (through its in-flight cap), so a backlog does not wait out
each delivery's own schedule.
"""

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from rheo import celery, outbound, sweeping
from rheo.errors import ServiceError
from webhooks import signing
from webhooks.models import Delivery, DeliveryAttempt, Event, EventReplay, WebhookEndpoint
from webhooks.services.events import (
    disable_endpoint,
    fail_pending,
    nudge_on_commit,
    signing_secrets,
)

USER_AGENT = "Rheo-Webhooks/1"
REPLAY_TASK = "webhooks.run_replay"
# After the first attempt fails, the next ones wait this long (±20 %): dense in the first
# hour, so a receiver that was down for minutes is caught up within minutes, and about 36
# hours in all, so one down for a day still gets everything.
RETRY_DELAYS = [
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=5),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=10),
    timedelta(hours=10),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# From the first failure to the last retry, jitter aside (the dashboard quotes it).
RETRY_SPAN = sum(RETRY_DELAYS, timedelta())
JITTER = 0.2
# A receiver that said 429 or did not answer in time gets at least this long to recover.
MIN_DELAY_AFTER_OVERLOAD = timedelta(seconds=60)
# An endpoint whose every attempt has failed for this long is disabled.
DISABLE_AFTER = timedelta(days=5)
RESPONSE_BODY_LIMIT = 2048
# A worker's hold on a delivery it is attempting: well past the attempt's timeout.
LEASE = timedelta(seconds=60)
# A nudge not acted on within this long is taken as lost and sent again by the sweeper.
NUDGE_GRACE = timedelta(minutes=2)
# Delays at most this long ride on a Celery countdown; longer ones wait for the sweeper.
COUNTDOWN_LIMIT = timedelta(seconds=30)
SWEEP_BATCH = 500
# What the end of an attempt changes on its delivery.
ATTEMPT_FIELDS = [
    "attempts",
    "status",
    "next_attempt_at",
    "locked_until",
    "nudged_at",
    "last_status_code",
    "last_error",
    "completed_at",
]


def attempt_delivery(*, delivery_id) -> None:
    """Attempt one due delivery, if it is still pending, due and not held by another
    worker; otherwise do nothing (so duplicate nudges are harmless). At most
    RHEO_WEBHOOK_MAX_IN_FLIGHT attempts run at once per endpoint; a delivery over that
    share is parked without spending an attempt."""
    now = timezone.now()
    with transaction.atomic():
        # Lock order everywhere: the endpoint, then its deliveries. The endpoint is found
        # through the delivery in the same statement; only its row is locked.
        endpoint = (
            WebhookEndpoint.objects.select_for_update(of=("self",))
            .filter(deliveries__pk=delivery_id)
            .first()
        )
        if endpoint is None:
            return
        endpoint_id = endpoint.pk
        if not endpoint.enabled:
            fail_pending(Delivery.objects.filter(pk=delivery_id), endpoint.disabled_reason, now)
            return
        claimable = Delivery.objects.filter(
            Q(locked_until__isnull=True) | Q(locked_until__lte=now),
            pk=delivery_id,
            status=Delivery.Status.PENDING,
            next_attempt_at__lte=now,
        )
        # Claimed only while the endpoint has a free slot: the count of its attempts in
        # flight is part of the claim's UPDATE (one statement; the endpoint's lock keeps it
        # true until commit).
        in_flight = (
            Delivery.objects.filter(
                endpoint_id=endpoint_id, status=Delivery.Status.PENDING, locked_until__gt=now
            )
            .order_by()
            .values("endpoint_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        claimed = (
            claimable.alias(in_flight=Coalesce(Subquery(in_flight), 0))
            .filter(in_flight__lt=settings.RHEO_WEBHOOK_MAX_IN_FLIGHT)
            .update(locked_until=now + LEASE, parked=False)
        )
        if not claimed:
            # Over the endpoint's share (or not ours to claim: then this changes nothing).
            # Parked: still due, it waits for an attempt to this endpoint to end and wake
            # it (in _record_attempt), not on a timer, so a dead endpoint's backlog costs
            # nothing while it waits. The sweeper is the fallback.
            claimable.update(parked=True, nudged_at=now)
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
        request_headers=headers,
        started_at=started_at,
        duration_ms=round(duration.total_seconds() * 1000),
        status_code=status_code,
        response_body=response_body,
        error=error,
        overloaded=overloaded,
    )


def _record_attempt(
    delivery,
    endpoint,
    *,
    request_headers,
    started_at,
    duration_ms,
    status_code,
    response_body,
    error,
    overloaded,
) -> None:
    now = timezone.now()
    succeeded = not error
    with transaction.atomic():
        # The endpoint's lock and its health as it is now; its secrets are not read again.
        failing_since = (
            WebhookEndpoint.objects.select_for_update()
            .filter(pk=endpoint.pk)
            .values_list("failing_since", flat=True)
            .get()
        )
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        delivery.attempts += 1
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            url=endpoint.url,
            request_headers=request_headers,
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
        was_failing_since = failing_since
        if succeeded:
            delivery.status = Delivery.Status.SUCCEEDED
            delivery.next_attempt_at = None
            delivery.completed_at = now
            failing_since = None
        else:
            failing_since = failing_since or started_at
            if status_code == 410:
                disable_reason = "The endpoint answered 410 Gone."
            elif now - failing_since >= DISABLE_AFTER:
                disable_reason = "Every delivery has failed for 5 days."
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = Delivery.Status.FAILED
                delivery.next_attempt_at = None
                delivery.completed_at = now
            else:
                delay = retry_delay(delivery.attempts, overloaded=overloaded)
                delivery.next_attempt_at = now + delay
                if delay <= COUNTDOWN_LIMIT:
                    delivery.nudged_at = now
                    nudge_on_commit(delivery.pk, countdown=delay.total_seconds())
                else:
                    # No message is on its way: the sweeper nudges it as soon as it is due
                    # (not NUDGE_GRACE after this attempt, which would stretch the short
                    # steps of the schedule).
                    delivery.nudged_at = None
        delivery.save(update_fields=ATTEMPT_FIELDS)
        if delivery.replay_id and delivery.status != Delivery.Status.PENDING:
            _wake_replay(delivery.replay_id, now)
        if failing_since != was_failing_since:  # a healthy endpoint: no write
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=failing_since)
        if disable_reason:
            disable_endpoint(endpoint=endpoint, reason=disable_reason)
        elif succeeded:
            _bring_forward(endpoint.pk, now)
            _wake_parked(endpoint.pk, now, slots=_free_slots(endpoint.pk, now))
        else:
            _wake_parked(endpoint.pk, now)


def _wake_replay(replay_id, now: datetime) -> None:
    """A replay's delivery has ended and freed room in the replay's share: the replay, if
    it is waiting for that (webhooks.replays), is due now."""
    if EventReplay.objects.filter(pk=replay_id, due_at__gt=now).update(due_at=now, nudged_at=now):
        celery.nudge_on_commit(REPLAY_TASK, str(replay_id))


def _bring_forward(endpoint_id, now: datetime) -> None:
    """The endpoint answers again: its deliveries waiting for a later retry are due now.
    They are parked, so they go through the endpoint's in-flight cap (woken one per ended
    attempt, see _wake_parked) rather than all at once."""
    Delivery.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        endpoint_id=endpoint_id,
        status=Delivery.Status.PENDING,
        next_attempt_at__gt=now,
    ).update(next_attempt_at=now, parked=True, nudged_at=now)


def _free_slots(endpoint_id, now: datetime) -> int:
    in_flight = Delivery.objects.filter(
        endpoint_id=endpoint_id, status=Delivery.Status.PENDING, locked_until__gt=now
    ).count()
    return max(0, settings.RHEO_WEBHOOK_MAX_IN_FLIGHT - in_flight)


def _wake_parked(endpoint_id, now: datetime, slots: int = 1) -> None:
    """An attempt to the endpoint has ended and freed a slot (after a success, every free
    slot is filled): the deliveries that have been parked longest get them. The caller
    holds the endpoint's lock, so wakers queue."""
    waiting = list(
        Delivery.objects.filter(endpoint_id=endpoint_id, status=Delivery.Status.PENDING)
        .filter(parked=True, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:slots]
    )
    if waiting:
        Delivery.objects.filter(pk__in=waiting).update(parked=False, nudged_at=now)
        for pk in waiting:
            nudge_on_commit(pk)


def retry_delay(attempts_made: int, *, overloaded: bool) -> timedelta:
    """The wait before attempt `attempts_made + 1`: the schedule's step ±20 %, and at
    least a minute after a 429 or a timeout."""
    delay = RETRY_DELAYS[attempts_made - 1] * random.uniform(1 - JITTER, 1 + JITTER)
    return max(delay, MIN_DELAY_AFTER_OVERLOAD) if overloaded else delay


def sweep_deliveries(*, limit: int = SWEEP_BATCH) -> int:
    """Nudge deliveries that are due, not held by a worker, and whose last nudge is older
    than NUDGE_GRACE (lost, or due only now). Returns how many were nudged."""
    return sweeping.nudge_due(
        Delivery.objects.filter(status=Delivery.Status.PENDING),
        due_field="next_attempt_at",
        lock_field="locked_until",
        nudged_field="nudged_at",
        grace=NUDGE_GRACE,
        nudge=nudge_on_commit,
        limit=limit,
    )


def redeliver(*, delivery: Delivery) -> Delivery:
    """Send the delivery's event to its endpoint again, as a new delivery with a fresh
    schedule. Refused while that event is still pending there or the endpoint is off."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        return _deliver_again(event_id=delivery.event_id, endpoint=endpoint)


def resend_event(*, event: Event) -> Delivery:
    """Send the event to its partner's current endpoint of the event's mode, as a new
    delivery: one recorded before any endpoint existed ("No webhook endpoint took this
    event"), or one an earlier endpoint got. Sent whatever event types the endpoint
    subscribes to: the partner asked for this one event (as with redeliver and the test
    event). Refused when there is no endpoint, it is off, or the event is already on its
    way there."""
    with transaction.atomic():
        endpoint = (
            WebhookEndpoint.objects.select_for_update()
            .filter(partner_id=event.partner_id, livemode=event.livemode)
            .first()
        )
        if endpoint is None:
            mode = "live" if event.livemode else "test"
            raise ServiceError(
                "conflict", f"No webhook endpoint is configured for {mode} mode; set one first."
            )
        return _deliver_again(event_id=event.pk, endpoint=endpoint)


def _deliver_again(*, event_id: str, endpoint: WebhookEndpoint) -> Delivery:
    """A new delivery of the event to the endpoint (locked by the caller's transaction),
    written here and nudged once it commits (the sweeper sends it should the nudge be
    lost)."""
    if not endpoint.enabled:
        raise ServiceError("conflict", "The webhook endpoint is disabled; enable it first.")
    if Delivery.objects.filter(
        event_id=event_id, endpoint=endpoint, status=Delivery.Status.PENDING
    ).exists():
        raise ServiceError("conflict", "This event is already on its way to the endpoint.")
    now = timezone.now()
    new = Delivery.objects.create(
        event_id=event_id, endpoint=endpoint, next_attempt_at=now, nudged_at=now, created_at=now
    )
    nudge_on_commit(new.pk)
    return new
