"""rheo.urls with a view under /integration/ that fails: a 500 outside any DRF view."""

from django.urls import path

from rheo.urls import handler404, handler500, urlpatterns  # noqa: F401 - the handlers


def boom(request):
    raise RuntimeError("secret detail that must not leak")


urlpatterns = [path("integration/v1/boom", boom), *urlpatterns]
