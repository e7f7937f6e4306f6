from django.apps import AppConfig


class TraderaConfig(AppConfig):
    name = "tradera"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from items.signals import channels_due

        channels_due.connect(_nudge_follow, dispatch_uid="tradera.follow_item")


def _nudge_follow(sender, item_id, **kwargs):
    """An item change Tradera must follow has committed: nudge tradera.follow_item (the
    item row says what is due; the sweeper sends the nudge again if this one is lost)."""
    from rheo import celery
    from tradera.services.jobs import FOLLOW_TASK

    celery.nudge(FOLLOW_TASK, str(item_id))
