"""The project's URLs unchanged, then the two reference endpoints of the benchmark.

The project's patterns come first, so resolving the PUT path costs what it costs in
production; the reference paths are tried after them."""

from django.urls import path

from bench import reference_views
from rheo.urls import handler404, handler500
from rheo.urls import urlpatterns as rheo_urlpatterns

urlpatterns = [
    *rheo_urlpatterns,
    path("bench/bare/<str:external_id>", reference_views.bare),
    path("bench/raw-upsert/<str:external_id>", reference_views.raw_upsert),
]

__all__ = ["urlpatterns", "handler404", "handler500"]
