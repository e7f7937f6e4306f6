import json

from rest_framework import serializers

from partners.models import ApiKey
from rheo.fields import StrictBooleanField, StrictCharField
from webhooks.models import SUBSCRIBABLE_EVENT_TYPES, Delivery, DeliveryAttempt, Event, EventType


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


class WebhookInputSerializer(serializers.Serializer):
    url = StrictCharField(
        max_length=2048, help_text="HTTPS URL that receives the events (a POST each)."
    )
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


class AttemptSerializer(serializers.ModelSerializer):
    startedAt = serializers.DateTimeField(source="started_at")
    durationMs = serializers.IntegerField(source="duration_ms")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    responseBody = serializers.CharField(source="response_body")

    class Meta:
        model = DeliveryAttempt
        fields = ["number", "url", "startedAt", "durationMs", "statusCode", "responseBody", "error"]


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
    attemptLog = AttemptSerializer(source="attempt_log", many=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "payload", "attemptLog"]

    def get_payload(self, delivery) -> dict:
        return json.loads(delivery.event.body)


class EventDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "status", "attempts"]


class EventSerializer(serializers.ModelSerializer):
    eventId = serializers.CharField(source="id")
    eventType = serializers.CharField(source="event_type")
    externalId = serializers.CharField(source="external_id")
    mode = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    payload = serializers.SerializerMethodField()
    deliveries = EventDeliverySerializer(many=True)

    class Meta:
        model = Event
        fields = [
            "eventId",
            "eventType",
            "externalId",
            "mode",
            "createdAt",
            "payload",
            "deliveries",
        ]

    def get_mode(self, event) -> str:
        return _mode(event)

    def get_payload(self, event) -> dict:
        return json.loads(event.body)
