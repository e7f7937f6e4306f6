from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from rheo import health

urlpatterns = [
    path("integration/v1/", include("items.api.urls")),
    path("api/v1/", include("partners.api.urls")),
    path("api/v1/", include("webhooks.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("admin/", admin.site.urls),
]

handler404 = "rheo.errors.not_found_view"
handler500 = "rheo.errors.server_error_view"
