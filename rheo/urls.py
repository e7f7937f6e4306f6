import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from rheo import health

urlpatterns = [
    path("integration/v1/", include("integration.urls")),
    path("api/v1/", include("portal.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("admin/", admin.site.urls),
    path("dashboard/", include("portal.dashboard.urls")),
    # The public marketplace: "", parts/…, orders/… (last, so it never shadows the above).
    path("", include("items.urls")),
]


def media(request, path):
    """Hosted images, from MEDIA_ROOT (see RHEO_SERVE_MEDIA)."""
    return serve(request, path, document_root=str(settings.MEDIA_ROOT))


if settings.RHEO_SERVE_MEDIA:
    media_prefix = re.escape(settings.MEDIA_URL.lstrip("/"))
    urlpatterns += [re_path(rf"^{media_prefix}(?P<path>.*)$", media)]

handler404 = "rheo.errors.not_found_view"
handler500 = "rheo.errors.server_error_view"
