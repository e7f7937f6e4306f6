"""The Management API's resend of an event (/api/v1/events/<id>/resend). Beside
webhooks.py, whose delivery serializer it answers with."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
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
