from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The partner-facing top layer: the dashboard (/dashboard/), the analytics, and the
    Management and Analytics API (/api/v1/). It has no models of its own."""

    name = "portal"
