from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from partners import key_cache, schema  # noqa: F401 - schema registers x-api-key

        key_cache.connect_signals()
