from django.apps import AppConfig


class TraderaConfig(AppConfig):
    name = "tradera"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from items.signals import item_changed

        item_changed.connect(_publish_when_active, dispatch_uid="tradera.publish_when_active")


def _publish_when_active(sender, item, change, **kwargs):
    """Items created with autoPublishTradera go to Tradera once their images are ready."""
    from items.models import Item
    from tradera import services

    if change == "status" and item.status == Item.Status.ACTIVE:
        services.start_publishing(item=item)
