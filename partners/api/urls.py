from django.urls import path

from partners.api import analytics, views

urlpatterns = [
    path("auth/token", views.TokenView.as_view(), name="token"),
    path("auth/token/refresh", views.RefreshView.as_view(), name="token-refresh"),
    path("api-keys", views.ApiKeysView.as_view(), name="api-keys"),
    path("api-keys/<uuid:key_id>", views.ApiKeyView.as_view(), name="api-key"),
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
]
