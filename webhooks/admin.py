from django.contrib import admin, messages

from rheo.admin import ReadOnlyAdmin, ReadOnlyInline
from rheo.errors import ServiceError
from webhooks import services
from webhooks.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    # The signing secrets are never shown: staff do not need them to help a partner.
    list_display = ["url", "partner", "livemode", "enabled", "failing_since", "disabled_reason"]
    list_filter = ["enabled", "livemode"]
    search_fields = ["url", "partner__name"]
    list_select_related = ["partner"]
    fields = [
        "partner",
        "livemode",
        "url",
        "enabled",
        "event_types",
        "previous_secret_expires_at",
        "failing_since",
        "disabled_reason",
        "created_at",
        "updated_at",
    ]
    actions = ["disable"]

    @admin.action(description="Disable the selected endpoints (and email their partners)")
    def disable(self, request, queryset):
        for endpoint in queryset:
            services.disable_endpoint(endpoint=endpoint, reason="Disabled by Rheo staff.")
        self.message_user(request, f"Disabled {queryset.count()} endpoint(s).")


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "event_type", "external_id", "partner", "livemode", "created_at"]
    list_filter = ["event_type", "livemode"]
    search_fields = ["id", "external_id", "partner__name"]
    list_select_related = ["partner"]
    date_hierarchy = "created_at"


class AttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = ["number", "started_at", "duration_ms", "status_code", "error", "response_body"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "event",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "created_at",
    ]
    list_filter = ["status", "event__event_type"]
    search_fields = ["event__id", "event__external_id", "endpoint__url", "endpoint__partner__name"]
    list_select_related = ["event", "endpoint"]
    inlines = [AttemptInline]
    actions = ["redeliver"]

    @admin.display(description="Event type")
    def event_type(self, delivery):
        return delivery.event.event_type

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver(self, request, queryset):
        sent = 0
        for delivery in queryset:
            try:
                services.redeliver(delivery=delivery)
                sent += 1
            except ServiceError as exc:
                self.message_user(request, f"{delivery.event_id}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Redelivering {sent} event(s).")
