"""The Management API's webhook settings, secret rotation, test event and delivery log
(/api/v1/webhook…, /api/v1/deliveries…); the events are in events.py."""

import json

from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from partners.models import ApiKey
from portal.api.base import MANAGEMENT, ManagementAPIView
from rheo import outbound
from rheo.errors import ServiceError
from rheo.fields import StrictBooleanField, StrictCharField
from rheo.schema import error_responses
from webhooks import selectors, services
from webhooks.feed import FeedAttemptSerializer
from webhooks.models import SUBSCRIBABLE_EVENT_TYPES, Delivery, EventType

MODE = OpenApiParameter(
    "mode", str, enum=["live", "test"], description="Which endpoint: live (default) or test."
)
TAGS = ["Management: webhooks"]

DELIVERY_ID = "5c3b2a19-8d7e-4f60-a5b4-c3d2e1f0a9b8"
EXAMPLE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - an example
EXAMPLE_SETTINGS = {
    "mode": "live",
    "url": "https://erp.example.com/rheo/webhooks",
    "enabled": True,
    "eventTypes": ["item.sold", "listing.created"],
    "secret": EXAMPLE_SECRET,
    "previousSecretExpiresAt": None,
    "disabledReason": "",
}
EVENT_ID = "evt_01jee5x3k7q9r2m4n6p8s0t1v3"
EXAMPLE_PAYLOAD = {
    "eventId": EVENT_ID,
    "eventType": "item.sold",
    "timestamp": "2026-12-06T08:00:00Z",
    "data": {
        "externalId": "12345",
        "rheoItemId": "0b5e8d4c-3f7a-4e62-9a51-6c2d8f0e4b17",
        "platform": "tradera",
        "salePrice": 1100,
        "currency": "SEK",
        "traderaAdId": "700000001",
        "traderaAdUrl": "https://www.tradera.com/item/700000001",
        "sequence": 3,
    },
}
EXAMPLE_ATTEMPT = {
    "number": 1,
    "url": "https://erp.example.com/rheo/webhooks",
    "startedAt": "2026-12-06T08:00:01Z",
    "durationMs": 84,
    "statusCode": 200,
    "responseBody": "ok",
    "error": "",
}
EXAMPLE_DELIVERY = {
    "id": DELIVERY_ID,
    "eventId": EVENT_ID,
    "eventType": "item.sold",
    "externalId": "12345",
    "mode": "live",
    "url": "https://erp.example.com/rheo/webhooks",
    "status": "delivered",
    "attempts": 1,
    "nextAttemptAt": None,
    "lastStatusCode": 200,
    "lastError": "",
    "createdAt": "2026-12-06T08:00:00Z",
    "completedAt": "2026-12-06T08:00:01Z",
}


def _mode(obj) -> str:
    return "live" if obj.livemode else "test"


class WebhookSettingsSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=ApiKey.Mode.choices)
    url = serializers.URLField(allow_null=True)
    enabled = serializers.BooleanField()
    eventTypes = serializers.ListField(child=serializers.CharField())
    secret = serializers.CharField(
        allow_null=True,
        help_text="whsec_…: verify each delivery's webhook-signature with it. "
        "Null until an endpoint is configured.",
    )
    previousSecretExpiresAt = serializers.DateTimeField(
        allow_null=True, help_text="Until then the secret before the last rotation also signs."
    )
    disabledReason = serializers.CharField(
        allow_blank=True, help_text="Why Rheo stopped delivering, when it did."
    )


def webhook_settings(endpoint, livemode: bool) -> dict:
    if endpoint is None:
        return {
            "mode": "live" if livemode else "test",
            "url": None,
            "enabled": False,
            "eventTypes": [str(t) for t in SUBSCRIBABLE_EVENT_TYPES],
            "secret": None,
            "previousSecretExpiresAt": None,
            "disabledReason": "",
        }
    return {
        "mode": _mode(endpoint),
        "url": endpoint.url,
        "enabled": endpoint.enabled,
        "eventTypes": endpoint.event_types,
        "secret": endpoint.secret,
        "previousSecretExpiresAt": endpoint.previous_secret_expires_at,
        "disabledReason": endpoint.disabled_reason,
    }


@extend_schema_field(
    {
        "type": "string",
        "format": "uri",
        "pattern": "^https://",
        "maxLength": outbound.MAX_URL_LENGTH,
        "description": "Receives the events (a POST each). " + outbound.URL_RULE,
    }
)
class EndpointUrlField(StrictCharField):
    pass


class WebhookInputSerializer(serializers.Serializer):
    url = EndpointUrlField(max_length=outbound.MAX_URL_LENGTH)
    enabled = StrictBooleanField(default=True)
    eventTypes = serializers.ListField(
        child=serializers.ChoiceField(choices=[str(t) for t in SUBSCRIBABLE_EVENT_TYPES]),
        default=lambda: [str(t) for t in SUBSCRIBABLE_EVENT_TYPES],
        help_text="Events to receive; all four by default.",
    )


class RotatedSecretSerializer(serializers.Serializer):
    secret = serializers.CharField()
    previousSecretExpiresAt = serializers.DateTimeField()


class TestEventSerializer(serializers.Serializer):
    eventId = serializers.CharField()
    deliveryId = serializers.UUIDField()


class DeliverySerializer(serializers.ModelSerializer):
    eventId = serializers.CharField(source="event_id")
    eventType = serializers.ChoiceField(source="event.event_type", choices=EventType.choices)
    externalId = serializers.CharField(source="event.external_id")
    mode = serializers.SerializerMethodField()
    url = serializers.CharField(source="endpoint.url")
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    lastError = serializers.CharField(source="last_error")
    createdAt = serializers.DateTimeField(source="created_at")
    completedAt = serializers.DateTimeField(source="completed_at", allow_null=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "eventId",
            "eventType",
            "externalId",
            "mode",
            "url",
            "status",
            "attempts",
            "nextAttemptAt",
            "lastStatusCode",
            "lastError",
            "createdAt",
            "completedAt",
        ]

    def get_mode(self, delivery) -> str:
        return _mode(delivery.event)


class DeliveryDetailSerializer(DeliverySerializer):
    payload = serializers.SerializerMethodField(help_text="The JSON body that was sent.")
    attemptLog = FeedAttemptSerializer(source="attempt_log", many=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "payload", "attemptLog"]

    def get_payload(self, delivery) -> dict:
        return json.loads(delivery.event.body)


class NewestFirst(CursorPagination):
    """Stable pages (?cursor=…, ?limit=…) while new rows keep arriving at the top."""

    ordering = ("-created_at", "-pk")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
    invalid_cursor_message = "Invalid cursor: use the next or previous link of a page."

    def get_page_size(self, request):
        # DRF quietly replaces a bad limit with the default or the maximum; refused instead.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            message = f"Must be an integer from 1 to {self.max_page_size}."
            raise ServiceError("validation_error", message, fields={"limit": [message]})
        return int(raw)

    def decode_cursor(self, request):
        # DRF answers a cursor it cannot read with 404, and passes a readable one's
        # position to the query unchecked: both are the client's error, a 400.
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            cursor = None
            valid = False
        else:
            valid = cursor is None or cursor.position is None or _is_datetime(str(cursor.position))
        if not valid:
            message = self.invalid_cursor_message
            raise ServiceError("validation_error", message, fields={"cursor": [message]})
        return cursor


def _is_datetime(value: str) -> bool:
    try:
        return parse_datetime(value) is not None
    except ValueError:  # well formed, but no such date
        return False


# Filters; an empty one filters nothing.
class DeliveryQuerySerializer(serializers.Serializer):
    eventType = serializers.ChoiceField(choices=EventType.values, required=False, allow_blank=True)
    status = serializers.ChoiceField(
        choices=Delivery.Status.values, required=False, allow_blank=True
    )
    externalId = StrictCharField(
        max_length=255, required=False, allow_blank=True, trim_whitespace=False
    )


PAGE_PARAMETERS = [
    OpenApiParameter(
        "cursor", str, description="From a page's next or previous link; 400 if invalid."
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": NewestFirst.max_page_size},
        description=f"Page size, default {NewestFirst.page_size}.",
    ),
]


class WebhookView(ManagementAPIView):
    @extend_schema(
        operation_id="getWebhook",
        summary="Webhook settings, with the signing secret",
        description=f"The endpoint of one mode and its signing secret. {MANAGEMENT}",
        examples=[OpenApiExample("Configured", value=EXAMPLE_SETTINGS, response_only=True)],
        parameters=[MODE],
        responses={200: WebhookSettingsSerializer, **error_responses(400, 401, 429)},
        tags=TAGS,
    )
    def get(self, request):
        livemode = self.livemode()
        endpoint = selectors.get_endpoint(partner=self.partner, livemode=livemode)
        return Response(WebhookSettingsSerializer(webhook_settings(endpoint, livemode)).data)

    @extend_schema(
        operation_id="putWebhook",
        summary="Set the webhook URL, turn it on or off, choose the events",
        examples=[
            OpenApiExample(
                "Set up",
                value={
                    "url": "https://erp.example.com/rheo/webhooks",
                    "enabled": True,
                    "eventTypes": ["item.sold", "listing.created"],
                },
                request_only=True,
            ),
            OpenApiExample("Configured", value=EXAMPLE_SETTINGS, response_only=True),
        ],
        description="The URL must be HTTPS on a public address (see the url field). The first "
        "PUT creates the endpoint and its signing secret. Turning it off fails what is "
        f"pending. {MANAGEMENT}",
        parameters=[MODE],
        request=WebhookInputSerializer,
        responses={200: WebhookSettingsSerializer, **error_responses(400, 401, 429)},
        tags=TAGS,
    )
    def put(self, request):
        livemode = self.livemode()
        data = self.validated(WebhookInputSerializer)
        endpoint = services.configure_endpoint(
            partner=self.partner,
            livemode=livemode,
            url=data["url"],
            enabled=data["enabled"],
            event_types=data["eventTypes"],
        )
        return Response(WebhookSettingsSerializer(webhook_settings(endpoint, livemode)).data)


class RotateSecretView(ManagementAPIView):
    @extend_schema(
        operation_id="rotateWebhookSecret",
        summary="A new signing secret; the old one also signs for 24 hours",
        description=f"404 while no endpoint is configured. {MANAGEMENT}",
        examples=[
            OpenApiExample(
                "Rotated",
                value={"secret": EXAMPLE_SECRET, "previousSecretExpiresAt": "2026-12-07T08:00:00Z"},
                response_only=True,
            )
        ],
        parameters=[MODE],
        request=None,
        responses={200: RotatedSecretSerializer, **error_responses(400, 401, 404, 429)},
        tags=TAGS,
    )
    def post(self, request):
        endpoint = self._endpoint()
        secret = services.rotate_secret(endpoint=endpoint)
        endpoint.refresh_from_db()
        body = {"secret": secret, "previousSecretExpiresAt": endpoint.previous_secret_expires_at}
        return Response(RotatedSecretSerializer(body).data)

    def _endpoint(self):
        endpoint = selectors.get_endpoint(partner=self.partner, livemode=self.livemode())
        if endpoint is None:
            raise ServiceError("not_found", "No webhook endpoint is configured.")
        return endpoint


class TestWebhookView(ManagementAPIView):
    @extend_schema(
        operation_id="testWebhook",
        summary="Send a webhook.test event to the endpoint",
        description="Delivered like any event (signed, retried); 404 without an endpoint, 409 "
        f"while it is disabled. {MANAGEMENT}",
        examples=[
            OpenApiExample(
                "Sent",
                value={"eventId": EVENT_ID, "deliveryId": DELIVERY_ID},
                response_only=True,
                status_codes=["202"],
            )
        ],
        parameters=[MODE],
        request=None,
        responses={202: TestEventSerializer, **error_responses(400, 401, 404, 409, 429)},
        tags=TAGS,
    )
    def post(self, request):
        event, delivery = services.send_test_event(partner=self.partner, livemode=self.livemode())
        body = {"eventId": event.id, "deliveryId": delivery.id}
        return Response(TestEventSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class DeliveriesView(ManagementAPIView, generics.ListAPIView):
    serializer_class = DeliverySerializer
    pagination_class = NewestFirst

    @extend_schema(
        operation_id="listDeliveries",
        summary="The delivery log, newest first",
        description="Both modes; filter with eventType, status and externalId (an empty "
        "filter filters nothing). Pages of `limit` (1 to 200, default 50), newest first; "
        f"follow `next` for older ones. An unknown filter value or cursor is a 400. {MANAGEMENT}",
        examples=[
            OpenApiExample(
                "A page",
                value=EXAMPLE_DELIVERY,  # drf-spectacular wraps it in a page
                response_only=True,
            )
        ],
        parameters=[DeliveryQuerySerializer, *PAGE_PARAMETERS],
        responses={200: DeliverySerializer(many=True), **error_responses(400, 401, 429)},
        tags=TAGS,
    )
    def get(self, request):
        return self.list(request)

    def get_queryset(self):
        params = self.validated(DeliveryQuerySerializer, self.request.query_params)
        return selectors.deliveries_for(
            partner=self.partner,
            event_type=params.get("eventType"),
            status=params.get("status"),
            external_id=params.get("externalId"),
        )


class DeliveryView(ManagementAPIView):
    @extend_schema(
        operation_id="getDelivery",
        summary="One delivery with every attempt",
        description=f"The payload sent and every attempt with its answer. {MANAGEMENT}",
        examples=[
            OpenApiExample(
                "Delivered",
                value={
                    **EXAMPLE_DELIVERY,
                    "payload": EXAMPLE_PAYLOAD,
                    "attemptLog": [EXAMPLE_ATTEMPT],
                },
                response_only=True,
            )
        ],
        responses={200: DeliveryDetailSerializer, **error_responses(401, 404, 429)},
        tags=TAGS,
    )
    def get(self, request, delivery_id):
        delivery = get_object_or_404(
            selectors.deliveries_for(partner=self.partner).prefetch_related("attempt_log"),
            pk=delivery_id,
        )
        return Response(DeliveryDetailSerializer(delivery).data)


class RedeliverView(ManagementAPIView):
    @extend_schema(
        operation_id="redeliver",
        summary="Send the delivery's event again, as a new delivery",
        description="To the endpoint's current URL; 409 while the endpoint is disabled. "
        f"{MANAGEMENT}",
        examples=[
            OpenApiExample(
                "Queued",
                value={**EXAMPLE_DELIVERY, "status": "pending", "attempts": 0},
                response_only=True,
                status_codes=["202"],
            )
        ],
        request=None,
        responses={202: DeliverySerializer, **error_responses(401, 404, 409, 429)},
        tags=TAGS,
    )
    def post(self, request, delivery_id):
        delivery = get_object_or_404(selectors.deliveries_for(partner=self.partner), pk=delivery_id)
        new = services.redeliver(delivery=delivery)
        new = selectors.deliveries_for(partner=self.partner).get(pk=new.pk)
        return Response(DeliverySerializer(new).data, status=status.HTTP_202_ACCEPTED)
