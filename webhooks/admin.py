import json

from django.contrib import admin
from django.utils.html import format_html

from rheo.admin import ReadOnlyAdmin, ReadOnlyInline, act_on_each, mode_filter, titled
from webhooks import services
from webhooks.models import (
    Delivery,
    DeliveryAttempt,
    Event,
    EventReplay,
    ItemEventCounter,
    WebhookEndpoint,
)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    # The signing secrets are never shown: staff do not need them to help a partner.
    list_display = ["url", "partner", "livemode", "enabled", "failing_since", "disabled_reason"]
    list_filter = ["enabled", mode_filter()]
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
    actions = ["disable", "enable"]

    @admin.action(description="Disable the selected endpoints (and email their partners)")
    def disable(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda endpoint: services.disable_endpoint(
                endpoint=endpoint, reason="Disabled by Rheo staff."
            ),
            done="disabled",
            unchanged="already disabled",
        )

    @admin.action(description="Re-enable the selected endpoints (redeliver what they missed)")
    def enable(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda endpoint: services.enable_endpoint(endpoint=endpoint),
            done="re-enabled",
            unchanged="already enabled",
        )


class EventDeliveryInline(ReadOnlyInline):
    model = Delivery
    fields = ["endpoint", "status", "attempts", "last_status_code", "created_at", "completed_at"]
    show_change_link = True


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "event_type", "external_id", "partner", "livemode", "created_at"]
    list_filter = ["event_type", mode_filter()]
    search_fields = ["=id", "external_id", "partner__name"]
    list_select_related = ["partner"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "event_type",
        "partner",
        "livemode",
        "item",
        "external_id",
        "sequence",
        "created_at",
        "payload",
    ]
    inlines = [EventDeliveryInline]

    @admin.display(description="Payload")
    def payload(self, event):
        return format_html(
            "<pre>{}</pre>", json.dumps(json.loads(event.body), indent=2, ensure_ascii=False)
        )


class AttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = ["number", "started_at", "duration_ms", "status_code", "error", "response_body"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    ]
    list_filter = [
        ("status", titled("delivery status")),
        ("event__event_type", titled("event type")),
        mode_filter("endpoint__livemode"),
    ]
    search_fields = ["=event__id", "event__external_id", "endpoint__url", "endpoint__partner__name"]
    list_select_related = ["event", "endpoint"]
    inlines = [AttemptInline]
    actions = ["redeliver"]

    @admin.display(description="Event type", ordering="event__event_type")
    def event_type(self, delivery):
        return delivery.event.event_type

    @admin.action(description="Redeliver the selected deliveries (as new deliveries)")
    def redeliver(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset.select_related("event"),
            lambda delivery: services.redeliver(delivery=delivery),
            done="redelivered",
            unchanged="unchanged",
        )


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = [
        "delivery",
        "number",
        "url",
        "started_at",
        "duration_ms",
        "status_code",
        "error",
    ]
    list_filter = ["status_code"]
    search_fields = ["=delivery__id", "=delivery__event__id", "url"]
    list_select_related = ["delivery"]
    fields = [
        "delivery",
        "number",
        "url",
        "started_at",
        "duration_ms",
        "status_code",
        "error",
        "response_body",
    ]


@admin.register(EventReplay)
class EventReplayAdmin(ReadOnlyAdmin):
    # A partner's replay of a window of events (webhooks.replays): its progress, as is.
    list_display = ["id", "partner", "livemode", "created_at", "total_count", "queued_count"]
    list_filter = [mode_filter()]
    search_fields = ["=id", "partner__name"]
    list_select_related = ["partner"]
    fields = [
        "partner",
        "livemode",
        "endpoint",
        "created_after",
        "created_before",
        "event_types",
        "created_at",
        "total_count",
        "queued_count",
        "skipped_count",
        "after_event_id",
        "queued_all_at",
        "stopped_reason",
        "due_at",
        "locked_until",
    ]


@admin.register(ItemEventCounter)
class ItemEventCounterAdmin(ReadOnlyAdmin):
    # Each item's last event number (data.sequence): what the next event continues from.
    list_display = ["item", "last_sequence"]
    search_fields = ["=item__id", "item__external_id"]
    list_select_related = ["item"]
