from django.db import models

AD_URL = "https://www.tradera.com/item/{ad_id}"


class TraderaListing(models.Model):
    """An item's Tradera auction. Until Tradera confirms a queued publish, `ad_id` is
    `pending-<request id>` and the listing is pending_sync."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        SOLD = "sold"
        ENDED = "ended"
        PENDING_SYNC = "pending_sync"
        SYNC_ERROR = "sync_error"

    item = models.OneToOneField(
        "items.Item", on_delete=models.CASCADE, related_name="tradera_listing"
    )
    ad_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 - null: none yet
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING_SYNC)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Tradera {self.ad_id or '(unpublished)'} for {self.item_id}"

    @property
    def ad_url(self) -> str | None:
        if not self.ad_id or self.ad_id.startswith("pending"):
            return None
        return AD_URL.format(ad_id=self.ad_id)
