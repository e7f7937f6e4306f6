from django.urls import path, re_path

from portal.api import analytics, events, grades, guidance, keys, relisting, webhooks

urlpatterns = [
    path("auth/token", keys.TokenView.as_view(), name="token"),
    path("auth/token/refresh", keys.RefreshView.as_view(), name="token-refresh"),
    path("api-keys", keys.ApiKeysView.as_view(), name="api-keys"),
    path("api-keys/<uuid:key_id>", keys.ApiKeyView.as_view(), name="api-key"),
    path("analytics/inventory", analytics.InventoryView.as_view(), name="analytics-inventory"),
    path("analytics/revenue", analytics.RevenueView.as_view(), name="analytics-revenue"),
    path("analytics/categories", analytics.CategoriesView.as_view(), name="analytics-categories"),
    path(
        "analytics/performance", analytics.PerformanceView.as_view(), name="analytics-performance"
    ),
    path(
        "analytics/subscription",
        analytics.SubscriptionView.as_view(),
        name="analytics-subscription",
    ),
    path("relist-rules", relisting.RelistRulesView.as_view(), name="relist-rules"),
    path("grade-scale", grades.GradeScaleView.as_view(), name="grade-scale"),
    path("guidance", guidance.GuidanceView.as_view(), name="guidance"),
    path("webhook", webhooks.WebhookView.as_view(), name="webhook"),
    path("webhook/rotate-secret", webhooks.RotateSecretView.as_view(), name="webhook-rotate"),
    path("webhook/test", webhooks.TestWebhookView.as_view(), name="webhook-test"),
    path("deliveries", webhooks.DeliveriesView.as_view(), name="deliveries"),
    path("deliveries/<uuid:delivery_id>", webhooks.DeliveryView.as_view(), name="delivery"),
    path(
        "deliveries/<uuid:delivery_id>/redeliver",
        webhooks.RedeliverView.as_view(),
        name="delivery-redeliver",
    ),
    path("events", events.EventsView.as_view(), name="events"),
    path("events/replay", events.ReplayView.as_view(), name="events-replay"),
    path(
        "events/replays/<uuid:replay_id>",
        events.ReplayDetailView.as_view(),
        name="event-replay-detail",
    ),
    # Event ids are evt_ and a lower-case ULID: anything else (a NUL byte too) is no route.
    re_path(
        r"^events/(?P<event_id>evt_[0-9a-z]{1,40})/resend$",
        events.ResendEventView.as_view(),
        name="event-resend",
    ),
]
