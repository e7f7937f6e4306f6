from django.urls import path

from partners.api import views

urlpatterns = [
    path("auth/token", views.TokenView.as_view(), name="token"),
    path("auth/token/refresh", views.RefreshView.as_view(), name="token-refresh"),
    path("api-keys", views.ApiKeysView.as_view(), name="api-keys"),
    path("api-keys/<uuid:key_id>", views.ApiKeyView.as_view(), name="api-key"),
]
