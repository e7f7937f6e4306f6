from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from partners import schema  # noqa: F401 - registers x-api-key with the OpenAPI schema
