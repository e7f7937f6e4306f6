"""The Management API's events: the feed (GET /api/v1/events), the resend of one event
(…/<id>/resend) and the replay of a window (POST …/replay, GET …/replays/<id>)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from portal.api.base import MANAGEMENT, ManagementAPIView
from portal.api.webhooks import EVENT_ID, EXAMPLE_ATTEMPT, EXAMPLE_PAYLOAD, TAGS, DeliverySerializer
from rheo.schema import error_responses
from webhooks import feed, replays, selectors, services
from webhooks.models import SUBSCRIBABLE_EVENT_TYPES, Event

EVENT_MODE = OpenApiParameter(
    "mode", str, enum=["live", "test"], description="The event's mode: live (default) or test."
)
EVENTS_TAGS = ["Management: events"]

REPLAY_ID = "2f6d3c1b-8a4e-4b7f-9c2d-5e6f7a8b9c0d"

SENT = {
    "id": "9e1f4c2a-7b3d-4e8f-a6c5-1d2b3c4e5f60",
    "eventId": EVENT_ID,
    "eventType": "listing.created",
    "externalId": "12345",
    "mode": "test",
    "url": "https://erp.example.com/rheo/webhooks",
    "status": "pending",
    "attempts": 0,
    "nextAttemptAt": "2026-12-06T08:00:00Z",
    "lastStatusCode": None,
    "lastError": "",
    "createdAt": "2026-12-06T08:00:00Z",
    "completedAt": None,
}

EXAMPLE_EVENT = {
    "eventId": EVENT_ID,
    "eventType": "item.sold",
    "externalId": "12345",
    "mode": "live",
    "createdAt": "2026-12-06T08:00:00Z",
    "sequence": 3,
    "payload": EXAMPLE_PAYLOAD,
    "deliveries": [
        {
            "id": "5c3b2a19-8d7e-4f60-a5b4-c3d2e1f0a9b8",
            "status": "succeeded",
            "attempts": 1,
            "url": "https://erp.example.com/rheo/webhooks",
            "nextAttemptAt": None,
            "lastStatusCode": 200,
            "lastError": "",
            "createdAt": "2026-12-06T08:00:00Z",
            "completedAt": "2026-12-06T08:00:01Z",
            "attemptLog": [EXAMPLE_ATTEMPT],
        }
    ],
}
EXAMPLE_PAGE = {"events": [EXAMPLE_EVENT], "nextCursor": EVENT_ID, "hasMore": False}
EXAMPLE_EMPTY_PAGE = {"events": [], "nextCursor": EVENT_ID, "hasMore": False}

FEED_DESCRIPTION = (
    "The partner's events, oldest first, each with its payload exactly as signed and sent "
    "and its deliveries with every attempt. Poll it: pass the page's `nextCursor` as "
    "`after` next time; `hasMore` says more events follow at once. The order is total "
    "and stable: an event that commits late never appears behind a cursor that has "
    "passed it (the feed holds back behind transactions in flight, a few milliseconds "
    "as a rule). Filters (an empty one filters nothing): `type` (one or several, "
    "comma-separated), `externalId`, `createdAfter` (inclusive) and `createdBefore` "
    "(exclusive), `limit` 1 to 200 (default 50). An unknown filter value or cursor is a "
    "400. Events are kept at least 30 days."
)


class ManagementFeedQuerySerializer(feed.FeedQuerySerializer):
    mode = serializers.ChoiceField(
        choices=["live", "test"],
        required=False,
        allow_blank=True,
        help_text="One mode's events; both when left out.",
    )
    eventType = feed.EventTypesField(
        required=False, allow_blank=True, help_text="The former name of `type`, still read."
    )


class EventsView(ManagementAPIView):
    @extend_schema(
        operation_id="listEvents",
        summary="The events feed, oldest first (poll it with after=nextCursor)",
        description=f"{FEED_DESCRIPTION} Both modes unless `mode` is given. {MANAGEMENT}",
        examples=[
            OpenApiExample("A page", value=EXAMPLE_PAGE, response_only=True),
            OpenApiExample("Nothing new yet", value=EXAMPLE_EMPTY_PAGE, response_only=True),
        ],
        parameters=[ManagementFeedQuerySerializer],
        responses={200: feed.FeedPageSerializer, **error_responses(400, 401, 429)},
        tags=EVENTS_TAGS,
    )
    def get(self, request):
        params = self.validated(ManagementFeedQuerySerializer, request.query_params)
        arguments = feed.feed_arguments(params)
        arguments["event_types"] = params.get("type") or params.get("eventType") or None
        mode = params.get("mode")
        page = feed.read_feed(
            partner=self.partner, livemode=(mode == "live") if mode else None, **arguments
        )
        return Response(feed.FeedPageSerializer(page).data)


class ResendEventView(ManagementAPIView):
    @extend_schema(
        operation_id="resendEvent",
        summary="Send an event to the current webhook endpoint, as a new delivery",
        description="For an event recorded before any endpoint existed, or one to send "
        "again: it goes to the partner's current endpoint of the event's mode, whatever "
        "event types that endpoint subscribes to. 404: no such event of this partner in "
        "this mode. 409: no endpoint is configured for the mode, it is disabled, or the "
        f"event is already on its way to it. {MANAGEMENT}",
        parameters=[EVENT_MODE],
        examples=[
            OpenApiExample("On its way", value=SENT, response_only=True, status_codes=["202"])
        ],
        request=None,
        responses={202: DeliverySerializer, **error_responses(400, 401, 404, 409, 429)},
        tags=TAGS,
    )
    def post(self, request, event_id):
        event = get_object_or_404(
            Event.objects.filter(partner=self.partner, livemode=self.livemode()), pk=event_id
        )
        new = services.resend_event(event=event)
        new = selectors.deliveries_for(partner=self.partner).get(pk=new.pk)
        return Response(DeliverySerializer(new).data, status=status.HTTP_202_ACCEPTED)


class ReplayInputSerializer(serializers.Serializer):
    createdAfter = serializers.DateTimeField(help_text="The window's start, inclusive.")
    createdBefore = serializers.DateTimeField(
        required=False, allow_null=True, help_text="The window's end, exclusive; now if left out."
    )
    types = serializers.ListField(
        child=serializers.ChoiceField(choices=[str(t) for t in SUBSCRIBABLE_EVENT_TYPES]),
        required=False,
        help_text="The event types to send again; those the endpoint subscribes to if left "
        "out or empty.",
    )


class ReplaySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    mode = serializers.ChoiceField(choices=["live", "test"])
    status = serializers.ChoiceField(
        choices=["running", "completed", "stopped"],
        help_text="running while events are being queued or their deliveries are pending; "
        "completed once every delivery has ended; stopped when the endpoint was turned off.",
    )
    createdAfter = serializers.DateTimeField()
    createdBefore = serializers.DateTimeField()
    types = serializers.ListField(
        child=serializers.ChoiceField(choices=[str(t) for t in SUBSCRIBABLE_EVENT_TYPES])
    )
    count = serializers.IntegerField(help_text="Events in the window when the replay began.")
    queued = serializers.IntegerField(help_text="Events queued as new deliveries so far.")
    skipped = serializers.IntegerField(
        help_text="Events passed over: already on their way to the endpoint."
    )
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    pending = serializers.IntegerField()
    stoppedReason = serializers.CharField(allow_blank=True)
    createdAt = serializers.DateTimeField()


EXAMPLE_REPLAY = {
    "id": REPLAY_ID,
    "mode": "live",
    "status": "running",
    "createdAfter": "2026-12-01T00:00:00Z",
    "createdBefore": "2026-12-06T08:00:00Z",
    "types": ["item.sold", "listing.created", "listing.ended", "listing.failed"],
    "count": 1250,
    "queued": 400,
    "skipped": 2,
    "succeeded": 392,
    "failed": 0,
    "pending": 8,
    "stoppedReason": "",
    "createdAt": "2026-12-06T08:00:00Z",
}


class ReplayView(ManagementAPIView):
    @extend_schema(
        operation_id="replayEvents",
        summary="Send a window of events again, in the background",
        description="Every event of the mode created in [createdAfter, createdBefore) of "
        "the given types goes to the current endpoint again as a new delivery, oldest "
        "first; an event already on its way there is skipped. Answers 202 at once with "
        "the job and the number of events in the window; follow it with GET "
        "/api/v1/events/replays/{id}. The endpoint's in-flight cap still holds: the job "
        "keeps only a few of its deliveries pending at a time and feeds in more as they "
        "end. 409: no endpoint for the mode, or it is disabled. 400: createdAfter is "
        f"missing or not before createdBefore. {MANAGEMENT}",
        parameters=[EVENT_MODE],
        request=ReplayInputSerializer,
        examples=[
            OpenApiExample(
                "A day",
                value={
                    "createdAfter": "2026-12-05T00:00:00Z",
                    "createdBefore": "2026-12-06T00:00:00Z",
                    "types": ["item.sold"],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Started",
                value={**EXAMPLE_REPLAY, "queued": 0, "succeeded": 0, "pending": 0},
                response_only=True,
                status_codes=["202"],
            ),
        ],
        responses={202: ReplaySerializer, **error_responses(400, 401, 409, 429)},
        tags=EVENTS_TAGS,
    )
    def post(self, request):
        livemode = self.livemode()
        data = self.validated(ReplayInputSerializer)
        replay = replays.start_replay(
            partner=self.partner,
            livemode=livemode,
            created_after=data["createdAfter"],
            created_before=data.get("createdBefore"),
            event_types=data.get("types") or None,
        )
        body = ReplaySerializer(replays.progress(replay)).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ReplayDetailView(ManagementAPIView):
    @extend_schema(
        operation_id="getEventReplay",
        summary="A replay's progress",
        description=f"404: no such replay of this partner. {MANAGEMENT}",
        examples=[OpenApiExample("Under way", value=EXAMPLE_REPLAY, response_only=True)],
        responses={200: ReplaySerializer, **error_responses(401, 404, 429)},
        tags=EVENTS_TAGS,
    )
    def get(self, request, replay_id):
        replay = replays.get_replay(partner=self.partner, replay_id=replay_id)
        return Response(ReplaySerializer(replays.progress(replay)).data)
