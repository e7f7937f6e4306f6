"""Webhooks as rows: the events that happened, one delivery of an event per endpoint, and
an append-only log of every attempt. The database is the queue; see webhooks.services."""

import uuid

from django.db import models
from django.db.models import Q

from rheo.crypto import EncryptedTextField


class EventType(models.TextChoices):
    LISTING_CREATED = "listing.created"
    LISTING_ENDED = "listing.ended"
    LISTING_FAILED = "listing.failed"
    ITEM_SOLD = "item.sold"
    WEBHOOK_TEST = "webhook.test"


# What an endpoint can subscribe to; webhook.test goes to whoever presses the button.
SUBSCRIBABLE_EVENT_TYPES = [
    EventType.LISTING_CREATED,
    EventType.LISTING_ENDED,
    EventType.LISTING_FAILED,
    EventType.ITEM_SOLD,
]


def all_event_types() -> list[str]:
    return [str(t) for t in SUBSCRIBABLE_EVENT_TYPES]


class WebhookEndpoint(models.Model):
    """Where a partner receives events: one endpoint per partner and mode, as in Stripe,
    so test-mode events never reach the receiver of live ones."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    livemode = models.BooleanField()
    url = models.URLField(max_length=2048)
    enabled = models.BooleanField(default=True)
    event_types = models.JSONField(default=all_event_types)
    secret = EncryptedTextField(help_text="The current signing secret (whsec_…), encrypted.")
    previous_secret = EncryptedTextField(
        null=True, blank=True, help_text="The secret before the last rotation, encrypted."
    )
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Health: since when every attempt has failed (null after any success).
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "livemode"], name="one_endpoint_per_mode")
        ]

    def __str__(self):
        return self.url


class Event(models.Model):
    """Something that happened to a partner's item, written in the same transaction as
    the change that caused it. `body` is the exact JSON sent to the receiver."""

    id = models.CharField(primary_key=True, max_length=40, editable=False)  # evt_<ulid>
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField()
    event_type = models.CharField(max_length=32, choices=EventType.choices)
    item = models.ForeignKey(
        "items.Item", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    external_id = models.CharField(max_length=255, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField()
    # The feed's order (webhooks.feed): the writing transaction's id on PostgreSQL (0 on
    # SQLite, whose writes are serialized), then the insertion order. Both are set by the
    # database in the INSERT (webhooks.services.events).
    txid = models.BigIntegerField(default=0)
    position = models.BigIntegerField(default=0)
    # The item's own count of events, 1, 2, 3…: `data.sequence` in the payload. Null for
    # an event of no item (webhook.test).
    sequence = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["partner", "-created_at"], name="event_partner_recent"),
            models.Index(fields=["partner", "external_id"], name="event_partner_external_id"),
            models.Index(fields=["partner", "txid", "position"], name="event_partner_feed"),
        ]

    def __str__(self):
        return self.id

    def save(self, *args, **kwargs):
        # Saved again, its txid and position would be taken anew and move it in the feed.
        if not self._state.adding:
            raise ValueError("Events are a log: they are written once.")
        super().save(*args, **kwargs)


class ItemEventCounter(models.Model):
    """How many events an item has had: the last `sequence` given (one upsert per event,
    so concurrent emitters for one item queue on this row)."""

    item = models.OneToOneField(
        "items.Item", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    last_sequence = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.item_id}: {self.last_sequence}"


class EventReplay(models.Model):
    """A window of a partner's events sent again to its endpoint of one mode, as a
    background job (webhooks.replays): the job's state is this row, due from `due_at`,
    held until `locked_until`, nudged at `nudged_at`, like a reconciliation's apply. Its
    place in the feed (`after_*`) moves with each chunk it queues, in the same
    transaction, so a job resumed after a crash queues nothing twice."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField()
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="replays")
    created_after = models.DateTimeField()
    created_before = models.DateTimeField()
    event_types = models.JSONField(default=list)
    created_at = models.DateTimeField()
    # The events in the window when the replay was asked for.
    total_count = models.PositiveIntegerField()
    queued_count = models.PositiveIntegerField(default=0)
    # Already on their way to the endpoint when the replay reached them.
    skipped_count = models.PositiveIntegerField(default=0)
    after_txid = models.BigIntegerField(default=-1)
    after_position = models.BigIntegerField(default=-1)
    after_event_id = models.CharField(max_length=40, blank=True)
    queued_all_at = models.DateTimeField(null=True, blank=True)
    stopped_reason = models.CharField(max_length=200, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    nudged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="replay_due"),
        ]

    def __str__(self):
        return f"Replay {self.id}"


class Delivery(models.Model):
    """One event on its way to one endpoint: retried on a schedule until it succeeds or
    the schedule runs out."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the delivery until this instant while it attempts it (a lease: a
    # worker killed mid-attempt gives it back when the lease runs out).
    locked_until = models.DateTimeField(null=True, blank=True)
    # When a Celery message about it was last sent; the sweeper re-sends lost ones.
    nudged_at = models.DateTimeField(null=True, blank=True)
    # Due, but its endpoint had all its attempts in flight: it waits to be woken by the
    # end of one of them, not on a timer.
    parked = models.BooleanField(default=False)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    # The replay that queued it, if one did (its progress counts these).
    replay = models.ForeignKey(
        EventReplay, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_pending_due",
            ),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_recent"),
            # The count of an endpoint's attempts in flight, taken before every attempt.
            models.Index(
                fields=["endpoint", "locked_until"],
                condition=Q(status="pending"),
                name="delivery_pending_endpoint",
            ),
            models.Index(
                fields=["endpoint", "next_attempt_at"],
                condition=Q(status="pending", parked=True),
                name="delivery_parked",
            ),
        ]
        constraints = [
            # The same event is never delivered twice at once to one endpoint.
            models.UniqueConstraint(
                fields=["event", "endpoint"],
                condition=Q(status="pending"),
                name="one_pending_delivery_per_event_endpoint",
            ),
        ]

    def __str__(self):
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One POST of a delivery, as it happened. Append-only."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    url = models.URLField(max_length=2048)
    # As sent: content type, user agent and the Standard Webhooks id, timestamp and
    # signature (the signature is no secret: the partner's receiver checks it).
    request_headers = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The first 2 KB of the response.")
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_unique")
        ]

    def __str__(self):
        return f"attempt {self.number} of {self.delivery_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Delivery attempts are a log: they are written once.")
        super().save(*args, **kwargs)
