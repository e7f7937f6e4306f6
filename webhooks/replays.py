"""A replay: a window of a partner's events sent again to its endpoint, in the background.

The request (start_replay) counts the window, writes the job's row due now and nudges
after commit; it answers at once. The job (run_replay) claims the row with a lease and
walks the window in the feed's order (webhooks.feed), queueing each event as a new
delivery (webhooks.services.delivery's own machinery then attempts it) and moving its
place in the same transaction as the deliveries it wrote: a worker killed mid-chunk
loses only its uncommitted chunk, and the sweeper nudges the job again once its lease has
run out.

Rate-aware: the job keeps at most PENDING_PER_SLOT × RHEO_WEBHOOK_MAX_IN_FLIGHT of its
deliveries pending at once, and each of those still goes through the endpoint's in-flight
cap. When that many wait, the job steps aside and comes back after WAIT, so a replay of
100,000 events neither floods the queue nor takes more of the endpoint than new events
do. An endpoint turned off (or deleted) stops the job; what it queued so far stays.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from partners.models import Partner
from rheo import celery, sweeping
from rheo.errors import ServiceError
from webhooks import feed
from webhooks.models import Delivery, EventReplay, WebhookEndpoint
from webhooks.services.delivery import REPLAY_TASK
from webhooks.services.events import nudge_on_commit

PENDING_PER_SLOT = 2
CHUNK = 100
CHUNKS_PER_RUN = 20
WAIT = timedelta(seconds=2)
SWEEP_BATCH = 100


def lease() -> timedelta:
    return timedelta(seconds=settings.RHEO_LEASE_SECONDS)


def start_replay(
    *,
    partner: Partner,
    livemode: bool,
    created_after: datetime,
    created_before: datetime | None = None,
    event_types: list[str] | None = None,
) -> EventReplay:
    """Send the events created in [created_after, created_before) of the given types
    (default: those the endpoint subscribes to) to the partner's endpoint of the mode
    again. Refused without an enabled endpoint, or with an empty or reversed window."""
    now = timezone.now()
    created_before = created_before or now
    if created_after >= created_before:
        message = "createdAfter must be before createdBefore (or now, when that is left out)."
        raise ServiceError("validation_error", message, fields={"createdAfter": [message]})
    with transaction.atomic():
        endpoint = (
            WebhookEndpoint.objects.select_for_update()
            .filter(partner=partner, livemode=livemode)
            .first()
        )
        if endpoint is None:
            mode = feed.mode_of(livemode)
            raise ServiceError(
                "conflict", f"No webhook endpoint is configured for {mode} mode; set one first."
            )
        if not endpoint.enabled:
            raise ServiceError("conflict", "The webhook endpoint is disabled; enable it first.")
        types = list(event_types or endpoint.event_types)
        total = feed.window(
            partner=partner,
            livemode=livemode,
            event_types=types,
            created_after=created_after,
            created_before=created_before,
        ).count()
        replay = EventReplay.objects.create(
            partner=partner,
            livemode=livemode,
            endpoint=endpoint,
            created_after=created_after,
            created_before=created_before,
            event_types=types,
            created_at=now,
            total_count=total,
            due_at=now,
            nudged_at=now,
        )
        celery.nudge_on_commit(REPLAY_TASK, str(replay.pk))
    return replay


def get_replay(*, partner: Partner, replay_id) -> EventReplay:
    found = EventReplay.objects.filter(pk=replay_id, partner=partner).first()
    if found is None:
        raise ServiceError("not_found", f"No replay {replay_id}.")
    return found


def run_replay(*, replay_id) -> None:
    """The job: if due and not held, claim it and queue up to CHUNKS_PER_RUN chunks;
    then finish, step aside while the endpoint drains, or hand the rest to a fresh
    nudge."""
    now = timezone.now()
    claimed = EventReplay.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        pk=replay_id,
        due_at__lte=now,
    ).update(locked_until=now + lease())
    if not claimed:
        return
    for _chunk in range(CHUNKS_PER_RUN):
        outcome = _queue_chunk(replay_id)
        if outcome != "queued":
            break
    else:
        outcome = "more"
    later = timezone.now() + (WAIT if outcome == "full" else timedelta(0))
    with transaction.atomic():
        if outcome in ("done", "stopped"):
            EventReplay.objects.filter(pk=replay_id).update(
                due_at=None, locked_until=None, nudged_at=None
            )
            return
        EventReplay.objects.filter(pk=replay_id).update(
            due_at=later, locked_until=None, nudged_at=timezone.now()
        )
        countdown = (later - timezone.now()).total_seconds()
        celery.nudge_on_commit(REPLAY_TASK, str(replay_id), countdown=max(countdown, 0) or None)


def _queue_chunk(replay_id) -> str:
    """Queue the next events of the window as deliveries, as many as the endpoint's share
    has room for, and move the job's place, in one transaction. Returns "queued", "full"
    (its share is taken: wait), "done" (the window is through) or "stopped"."""
    with transaction.atomic():
        replay = EventReplay.objects.select_for_update().get(pk=replay_id)
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=replay.endpoint_id).first()
        now = timezone.now()
        if endpoint is None or not endpoint.enabled:
            replay.stopped_reason = "The webhook endpoint was turned off."
            replay.save(update_fields=["stopped_reason"])
            return "stopped"
        share = PENDING_PER_SLOT * settings.RHEO_WEBHOOK_MAX_IN_FLIGHT
        pending = Delivery.objects.filter(replay=replay, status=Delivery.Status.PENDING).count()
        room = min(CHUNK, share - pending)
        if room <= 0:
            return "full"
        events = feed.window(
            partner=replay.partner,
            livemode=replay.livemode,
            event_types=replay.event_types,
            created_after=replay.created_after,
            created_before=replay.created_before,
        )
        if replay.after_event_id:
            events = feed.after(
                events,
                txid=replay.after_txid,
                position=replay.after_position,
                event_id=replay.after_event_id,
            )
        chunk = list(feed.visible(events).values_list("pk", "txid", "position")[:room])
        if not chunk:
            replay.queued_all_at = now
            replay.save(update_fields=["queued_all_at"])
            return "done"
        on_their_way = set(
            Delivery.objects.filter(
                event_id__in=[pk for pk, _t, _p in chunk],
                endpoint=endpoint,
                status=Delivery.Status.PENDING,
            ).values_list("event_id", flat=True)
        )
        for event_id, _txid, _position in chunk:
            if event_id in on_their_way:
                continue
            delivery = Delivery.objects.create(
                event_id=event_id,
                endpoint=endpoint,
                replay=replay,
                next_attempt_at=now,
                nudged_at=now,
                created_at=now,
            )
            nudge_on_commit(delivery.pk)
        replay.after_event_id, replay.after_txid, replay.after_position = chunk[-1]
        replay.queued_count += len(chunk) - len(on_their_way)
        replay.skipped_count += len(on_their_way)
        replay.locked_until = now + lease()
        replay.save(
            update_fields=[
                "after_event_id",
                "after_txid",
                "after_position",
                "queued_count",
                "skipped_count",
                "locked_until",
            ]
        )
    return "queued"


def progress(replay: EventReplay) -> dict:
    """The job as the APIs and the dashboard show it: how many events it has queued, and
    how its deliveries stand. `status` is running until every queued delivery has ended
    (completed), or stopped."""
    counts = dict(
        Delivery.objects.filter(replay=replay)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    pending = counts.get(Delivery.Status.PENDING, 0)
    if replay.stopped_reason:
        status = "stopped"
    elif replay.queued_all_at is not None and not pending:
        status = "completed"
    else:
        status = "running"
    return {
        "id": replay.pk,
        "mode": feed.mode_of(replay.livemode),
        "status": status,
        "createdAfter": replay.created_after,
        "createdBefore": replay.created_before,
        "types": replay.event_types,
        "count": replay.total_count,
        "queued": replay.queued_count,
        "skipped": replay.skipped_count,
        "succeeded": counts.get(Delivery.Status.SUCCEEDED, 0),
        "failed": counts.get(Delivery.Status.FAILED, 0),
        "pending": pending,
        "stoppedReason": replay.stopped_reason,
        "createdAt": replay.created_at,
    }


def sweep_replays(*, limit: int = SWEEP_BATCH) -> int:
    """Nudge replay jobs that are due, not held, and whose last nudge is older than the
    grace (lost, or a killed worker's lease ran out)."""
    return sweeping.nudge_due(
        EventReplay.objects.filter(due_at__isnull=False),
        due_field="due_at",
        lock_field="locked_until",
        nudged_field="nudged_at",
        grace=timedelta(seconds=settings.RHEO_NUDGE_GRACE_SECONDS),
        nudge=lambda pk: celery.nudge_on_commit(REPLAY_TASK, str(pk)),
        limit=limit,
    )
