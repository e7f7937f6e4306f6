from django.apps import AppConfig


class IntegrationConfig(AppConfig):
    """The Integration API (/integration/v1/, `x-api-key`): the partners' ERPs push items
    here. It sits above tradera, whose listing it reads and whose sandbox it drives."""

    name = "integration"
