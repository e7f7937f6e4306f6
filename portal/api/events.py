"""The Management API's resend of an event (/api/v1/events/<id>/resend). Beside
webhooks.py, whose delivery serializer it answers with."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from portal.api.base import ManagementAPIView
from portal.api.webhooks import TAGS, DeliverySerializer
from rheo.schema import error_responses
from webhooks import selectors, services
from webhooks.models import Event

EVENT_MODE = OpenApiParameter(
    "mode", str, enum=["live", "test"], description="The event's mode: live (default) or test."
)

SENT = {
    "id": "9e1f4c2a-7b3d-4e8f-a6c5-1d2b3c4e5f60",
    "eventId": "evt_01jee5x3k7q9r2m4n6p8s0t1v3",
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


class ResendEventView(ManagementAPIView):
    @extend_schema(
        operation_id="resendEvent",
        summary="Send an event to the current webhook endpoint, as a new delivery",
        description="For an event recorded before any endpoint existed, or one to send "
        "again: it goes to the partner's current endpoint of the event's mode, whatever "
        "event types that endpoint subscribes to. 404: no such event of this partner in "
        "this mode. 409: no endpoint is configured for the mode, it is disabled, or the "
        "event is already on its way to it. Bearer token of a partner user; rate limited "
        "per partner, all its users together (429 with Retry-After).",
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
