from django.apps import AppConfig


class TraderaConfig(AppConfig):
    name = "tradera"
    default_auto_field = "django.db.models.BigAutoField"
