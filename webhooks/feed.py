"""The events feed: a partner's events, oldest first, in pages a poller follows with a
cursor (GET /api/v1/events, GET /integration/v1/events, and the replay job).

The order is total and stable, and an event that commits late never lands behind a
cursor that has passed it. Each event carries the id of the transaction that wrote it
(`txid`) and its place in the insertion order (`position`); the feed is ordered by the
two. On PostgreSQL it shows only the events of transactions older than the oldest one
still in flight in this database (from the reading statement's own snapshot,
`pg_current_snapshot()`): every transaction with a smaller id has ended, so what the
feed shows is always a prefix of the order, and what commits later sorts after it. A
long write transaction holds the feed back (not the webhooks) until it ends. A
transaction also sees its own events. On SQLite writes are serialized, so the insertion
order is the commit order.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import BigIntegerField, Func, Prefetch, Q, QuerySet
from rest_framework import serializers

from partners.models import Partner
from rheo.errors import ServiceError
from webhooks.models import Delivery, DeliveryAttempt, Event, EventType

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
FEED_ORDER = ("txid", "position", "id")


class OldestInFlight(Func):
    """The oldest transaction in flight as the reading statement's snapshot sees it, or
    the snapshot's xmax when none is. Transactions ids are the whole server's: those that
    pg_stat_activity shows in another database cannot write our events and are passed
    over (any other, one that ended since the snapshot, a prepared one, or one the role
    may not see, counts: the feed then waits a little longer, never skips)."""

    template = (
        "COALESCE((SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) x "
        "WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a "
        "WHERE a.backend_xid::text::bigint = mod(x::text::bigint, 4294967296) "
        "AND a.datname <> current_database())), "
        "pg_snapshot_xmax(pg_current_snapshot())::text::bigint)"
    )
    output_field = BigIntegerField()


class OwnTransaction(Func):
    """The reader's own transaction, if it has written anything (else NULL)."""

    template = "pg_current_xact_id_if_assigned()::text::bigint"
    output_field = BigIntegerField()


@dataclass
class FeedPage:
    events: list[Event]
    next_cursor: str | None
    has_more: bool


def visible(events: QuerySet[Event]) -> QuerySet[Event]:
    """Only the events no transaction in flight can still sort before (see above)."""
    if connection.vendor != "postgresql":
        return events
    return events.filter(Q(txid__lt=OldestInFlight()) | Q(txid=OwnTransaction()))


def after(events: QuerySet[Event], *, txid: int, position: int, event_id: str):
    """The events that come after the one at (txid, position, event_id) in the feed."""
    return events.filter(
        Q(txid__gt=txid)
        | Q(txid=txid, position__gt=position)
        | Q(txid=txid, position=position, id__gt=event_id)
    )


def with_deliveries(events: QuerySet[Event]) -> QuerySet[Event]:
    return events.prefetch_related(
        Prefetch(
            "deliveries",
            Delivery.objects.select_related("endpoint")
            .order_by("created_at")
            .prefetch_related("attempt_log"),
        )
    )


def window(
    *,
    partner: Partner,
    livemode: bool | None,
    event_types: list[str] | None = None,
    external_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Event]:
    """The partner's events (one mode, or both with None) that match the filters, in the
    feed's order; `created_after` is inclusive, `created_before` exclusive."""
    events = Event.objects.filter(partner=partner)
    if livemode is not None:
        events = events.filter(livemode=livemode)
    if event_types:
        events = events.filter(event_type__in=event_types)
    if external_id:
        events = events.filter(external_id=external_id)
    if created_after is not None:
        events = events.filter(created_at__gte=created_after)
    if created_before is not None:
        events = events.filter(created_at__lt=created_before)
    return events.order_by(*FEED_ORDER)


def read_feed(
    *,
    partner: Partner,
    livemode: bool | None,
    after_id: str | None = None,
    event_types: list[str] | None = None,
    external_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
) -> FeedPage:
    """One page of the feed after the event `after_id` (from the start without one).
    `next_cursor` is the page's last event, or `after_id` when the page is empty: pass
    it as `after` next time. An unknown cursor is the caller's error."""
    events = window(
        partner=partner,
        livemode=livemode,
        event_types=event_types,
        external_id=external_id,
        created_after=created_after,
        created_before=created_before,
    )
    if after_id:
        mine = Event.objects.filter(partner=partner)
        if livemode is not None:
            mine = mine.filter(livemode=livemode)
        cursor = mine.filter(pk=after_id).values_list("txid", "position").first()
        if cursor is None:
            message = f"No event {after_id} of yours (in this mode) to continue after."
            raise ServiceError("validation_error", message, fields={"after": [message]})
        events = after(events, txid=cursor[0], position=cursor[1], event_id=after_id)
    page = list(with_deliveries(visible(events))[: limit + 1])
    has_more = len(page) > limit
    page = page[:limit]
    next_cursor = page[-1].pk if page else after_id
    return FeedPage(events=page, next_cursor=next_cursor, has_more=has_more)


# --- The answer's shape, shared by both APIs ------------------------------------------


def mode_of(livemode: bool) -> str:
    return "live" if livemode else "test"


class FeedAttemptSerializer(serializers.ModelSerializer):
    startedAt = serializers.DateTimeField(source="started_at")
    durationMs = serializers.IntegerField(source="duration_ms")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    responseBody = serializers.CharField(source="response_body")

    class Meta:
        model = DeliveryAttempt
        fields = ["number", "url", "startedAt", "durationMs", "statusCode", "responseBody", "error"]


class FeedDeliverySerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="endpoint.url")
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    lastError = serializers.CharField(source="last_error")
    createdAt = serializers.DateTimeField(source="created_at")
    completedAt = serializers.DateTimeField(source="completed_at", allow_null=True)
    attemptLog = FeedAttemptSerializer(source="attempt_log", many=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "status",
            "attempts",
            "url",
            "nextAttemptAt",
            "lastStatusCode",
            "lastError",
            "createdAt",
            "completedAt",
            "attemptLog",
        ]


class FeedEventSerializer(serializers.ModelSerializer):
    eventId = serializers.CharField(source="id")
    eventType = serializers.ChoiceField(source="event_type", choices=EventType.choices)
    externalId = serializers.CharField(source="external_id")
    mode = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    sequence = serializers.IntegerField(
        allow_null=True,
        help_text="The item's own event number, as payload.data.sequence: 1 for its first "
        "event, one more for each next. Null for webhook.test.",
    )
    payload = serializers.SerializerMethodField(
        help_text="The JSON body exactly as signed and sent: json.dumps(payload, "
        "separators=(',', ':'), ensure_ascii=False) gives its bytes back."
    )
    deliveries = FeedDeliverySerializer(many=True)

    class Meta:
        model = Event
        fields = [
            "eventId",
            "eventType",
            "externalId",
            "mode",
            "createdAt",
            "sequence",
            "payload",
            "deliveries",
        ]

    def get_mode(self, event) -> str:
        return mode_of(event.livemode)

    def get_payload(self, event) -> dict:
        return json.loads(event.body)


class FeedPageSerializer(serializers.Serializer):
    events = FeedEventSerializer(many=True)
    nextCursor = serializers.CharField(
        source="next_cursor",
        allow_null=True,
        help_text="Pass it as `after` next time: the last event of this page, or the "
        "`after` given when the page is empty (null when neither).",
    )
    hasMore = serializers.BooleanField(
        source="has_more", help_text="More events follow now: ask again at once."
    )


class EventTypesField(serializers.CharField):
    """One event type, or several separated by commas."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        types = [t.strip() for t in text.split(",") if t.strip()]
        unknown = [t for t in types if t not in EventType.values]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown event types: {', '.join(unknown)}. Known: {', '.join(EventType.values)}."
            )
        return types


class FeedQuerySerializer(serializers.Serializer):
    """The feed's filters; an empty one filters nothing."""

    after = serializers.RegexField(
        r"^evt_[0-9a-z]{1,40}$",
        required=False,
        allow_blank=True,
        help_text="The polling cursor: the nextCursor of the last page (an eventId).",
    )
    type = EventTypesField(
        required=False, allow_blank=True, help_text="Event types, separated by commas."
    )
    externalId = serializers.CharField(
        max_length=255, required=False, allow_blank=True, trim_whitespace=False
    )
    createdAfter = serializers.DateTimeField(required=False, help_text="Inclusive.")
    createdBefore = serializers.DateTimeField(required=False, help_text="Exclusive.")
    limit = serializers.IntegerField(required=False)

    def validate(self, attrs):
        # DRF skips an empty value of an optional field; an empty date is still no date.
        for name in ("createdAfter", "createdBefore"):
            if self.initial_data.get(name) == "":
                raise serializers.ValidationError({name: ["Give an ISO-8601 date-time."]})
        return attrs

    def validate_externalId(self, value):
        if "\x00" in value:
            raise serializers.ValidationError("Null characters are not allowed.")
        return value

    def validate_limit(self, value):
        if not 1 <= value <= MAX_LIMIT:
            raise serializers.ValidationError(f"Must be an integer from 1 to {MAX_LIMIT}.")
        return value

    def to_internal_value(self, data):
        limit = data.get("limit")
        if limit not in (None, "") and not (limit.isascii() and limit.isdigit()):
            message = f"Must be an integer from 1 to {MAX_LIMIT}."
            raise serializers.ValidationError({"limit": [message]})
        return super().to_internal_value(data)


def feed_arguments(params: dict) -> dict:
    """read_feed's keyword arguments from FeedQuerySerializer's validated data."""
    return {
        "after_id": params.get("after") or None,
        "event_types": params.get("type") or None,
        "external_id": params.get("externalId") or None,
        "created_after": params.get("createdAfter"),
        "created_before": params.get("createdBefore"),
        "limit": params.get("limit") or DEFAULT_LIMIT,
    }
