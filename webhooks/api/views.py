from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from partners.api.base import ManagementAPIView
from rheo.errors import ServiceError
from rheo.schema import error_responses
from webhooks import selectors, services
from webhooks.api.serializers import (
    DeliveryDetailSerializer,
    DeliverySerializer,
    EventSerializer,
    RotatedSecretSerializer,
    TestEventSerializer,
    WebhookInputSerializer,
    WebhookSettingsSerializer,
    webhook_settings,
)
from webhooks.models import Delivery, EventType

MODE = OpenApiParameter(
    "mode", str, enum=["live", "test"], description="Which endpoint: live (default) or test."
)
TAGS = ["Management: webhooks"]


class NewestFirst(CursorPagination):
    """Stable pages (?cursor=…, ?limit=…) while new rows keep arriving at the top."""

    ordering = ("-created_at", "-pk")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


class WebhookView(ManagementAPIView):
    @extend_schema(
        operation_id="getWebhook",
        summary="Webhook settings, with the signing secret",
        parameters=[MODE],
        responses={200: WebhookSettingsSerializer, **error_responses(400, 401)},
        tags=TAGS,
    )
    def get(self, request):
        livemode = self.livemode()
        endpoint = selectors.get_endpoint(partner=self.partner, livemode=livemode)
        return Response(WebhookSettingsSerializer(webhook_settings(endpoint, livemode)).data)

    @extend_schema(
        operation_id="putWebhook",
        summary="Set the webhook URL, turn it on or off, choose the events",
        description="The URL must be HTTPS on a public address. The first PUT creates the "
        "endpoint and its signing secret. Turning it off fails what is pending.",
        parameters=[MODE],
        request=WebhookInputSerializer,
        responses={200: WebhookSettingsSerializer, **error_responses(400, 401)},
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
        parameters=[MODE],
        request=None,
        responses={200: RotatedSecretSerializer, **error_responses(401, 404)},
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
        parameters=[MODE],
        request=None,
        responses={202: TestEventSerializer, **error_responses(401, 404, 409)},
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
        parameters=[
            OpenApiParameter("eventType", str, enum=[t.value for t in EventType]),
            OpenApiParameter("status", str, enum=[s.value for s in Delivery.Status]),
            OpenApiParameter("externalId", str),
        ],
        responses={200: DeliverySerializer(many=True), **error_responses(401)},
        tags=TAGS,
    )
    def get(self, request):
        return self.list(request)

    def get_queryset(self):
        params = self.request.query_params
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
        responses={200: DeliveryDetailSerializer, **error_responses(401, 404)},
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
        request=None,
        responses={202: DeliverySerializer, **error_responses(401, 404, 409)},
        tags=TAGS,
    )
    def post(self, request, delivery_id):
        delivery = get_object_or_404(selectors.deliveries_for(partner=self.partner), pk=delivery_id)
        new = services.redeliver(delivery=delivery)
        new = selectors.deliveries_for(partner=self.partner).get(pk=new.pk)
        return Response(DeliverySerializer(new).data, status=status.HTTP_202_ACCEPTED)


class EventsView(ManagementAPIView, generics.ListAPIView):
    serializer_class = EventSerializer
    pagination_class = NewestFirst

    @extend_schema(
        operation_id="listEvents",
        summary="Events, newest first (an item's with externalId)",
        parameters=[
            OpenApiParameter("externalId", str),
            OpenApiParameter("eventType", str, enum=[t.value for t in EventType]),
        ],
        responses={200: EventSerializer(many=True), **error_responses(401)},
        tags=TAGS,
    )
    def get(self, request):
        return self.list(request)

    def get_queryset(self):
        params = self.request.query_params
        return selectors.events_for(
            partner=self.partner,
            external_id=params.get("externalId"),
            event_type=params.get("eventType"),
        )
