from django.apps import AppConfig


class TraderaConfig(AppConfig):
    name = "tradera"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from items.signals import item_changed

        item_changed.connect(_follow_item, dispatch_uid="tradera.follow_item")


def _follow_item(sender, item, change, **kwargs):
    """Items created with autoPublishTradera go to Tradera once their images are ready;
    a running auction follows the item's price and end."""
    from items.models import Item
    from tradera import services

    if change == "status" and item.status == Item.Status.ACTIVE:
        services.start_publishing(item=item)
    else:
        services.request_changes(item=item, change=change)
