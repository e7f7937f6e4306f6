from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("webhook", views.WebhookView.as_view(), name="webhook"),
    path("webhook/rotate-secret", views.RotateSecretView.as_view(), name="webhook-rotate"),
    path("webhook/test", views.TestWebhookView.as_view(), name="webhook-test"),
    path("deliveries", views.DeliveriesView.as_view(), name="deliveries"),
    path("deliveries/<uuid:delivery_id>", views.DeliveryView.as_view(), name="delivery"),
    path(
        "deliveries/<uuid:delivery_id>/redeliver",
        views.RedeliverView.as_view(),
        name="delivery-redeliver",
    ),
    path("events", views.EventsView.as_view(), name="events"),
]
