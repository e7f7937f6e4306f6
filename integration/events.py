"""GET /integration/v1/events: the events feed for an ERP that has only its API key, the
backup of webhooks (webhooks.feed). A key sees its own mode's events only."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response

from integration.base import IntegrationAPIView
from rheo.schema import error_responses
from webhooks import feed

EVENT_ID = "evt_01jee5x3k7q9r2m4n6p8s0t1v3"
EXAMPLE_EVENT = {
    "eventId": EVENT_ID,
    "eventType": "listing.created",
    "externalId": "12345",
    "mode": "live",
    "createdAt": "2026-12-06T08:00:00Z",
    "sequence": 1,
    "payload": {
        "eventId": EVENT_ID,
        "eventType": "listing.created",
        "timestamp": "2026-12-06T08:00:00Z",
        "data": {
            "externalId": "12345",
            "rheoItemId": "0b5e8d4c-3f7a-4e62-9a51-6c2d8f0e4b17",
            "platform": "tradera",
            "salePrice": 0,
            "currency": "SEK",
            "traderaAdId": "700000001",
            "traderaAdUrl": "https://www.tradera.com/item/700000001",
            "sequence": 1,
        },
    },
    "deliveries": [],
}


class EventFeedView(IntegrationAPIView):
    @extend_schema(
        operation_id="listIntegrationEvents",
        summary="The events feed, oldest first: poll it as the backup of webhooks",
        description=(
            "The events of the key's mode, oldest first, each with its payload exactly as "
            "signed and sent and its deliveries with every attempt (empty when no webhook "
            "endpoint took the event). Poll it: pass the page's `nextCursor` as `after` "
            "next time; `hasMore` says more events follow at once. The order is total and "
            "stable: an event that commits late never appears behind a cursor that has "
            "passed it. Filters (an empty one filters nothing): `type` (one or several, "
            "comma-separated), `externalId`, `createdAfter` (inclusive) and `createdBefore` "
            "(exclusive), `limit` 1 to 200 (default 50). An unknown filter value or cursor "
            "is a 400. Events are kept at least 30 days. Read tier of the rate limit."
        ),
        parameters=[feed.FeedQuerySerializer],
        examples=[
            OpenApiExample(
                "A page",
                value={"events": [EXAMPLE_EVENT], "nextCursor": EVENT_ID, "hasMore": False},
                response_only=True,
            ),
            OpenApiExample(
                "Nothing new yet",
                value={"events": [], "nextCursor": EVENT_ID, "hasMore": False},
                response_only=True,
            ),
        ],
        responses={200: feed.FeedPageSerializer, **error_responses(400, 401, 429)},
        tags=["Events"],
    )
    def get(self, request):
        serializer = feed.FeedQuerySerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        page = feed.read_feed(
            partner=self.partner,
            livemode=self.livemode,
            **feed.feed_arguments(serializer.validated_data),
        )
        return Response(feed.FeedPageSerializer(page).data)
