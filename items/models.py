import uuid

from django.db import models
from django.db.models import Q


class Item(models.Model):
    """A part a partner pushed. (partner, livemode, external_id) names at most one current
    item: deleted items step out of that namespace, so the id can be pushed anew."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        SOLD = "sold"
        NOT_LISTED = "not_listed"
        ARCHIVED = "archived"

    # The lifecycle: from each state, the states it may move to. Enforced by
    # items.services.transition_item and nowhere else.
    TRANSITIONS = {
        Status.DRAFT: {Status.ACTIVE, Status.NOT_LISTED, Status.SOLD, Status.ARCHIVED},
        Status.ACTIVE: {Status.NOT_LISTED, Status.SOLD, Status.ARCHIVED},
        Status.NOT_LISTED: {Status.SOLD, Status.ARCHIVED},
        Status.SOLD: set(),
        Status.ARCHIVED: {Status.SOLD},
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="items")
    livemode = models.BooleanField(help_text="False for items written with a test key.")
    external_id = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)

    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_cost = models.DecimalField(max_digits=12, decimal_places=2)
    weight_kg = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    currency = models.CharField(max_length=3, default="SEK")
    image_urls = models.JSONField(default=list)
    domain = models.JSONField(null=True, blank=True)
    auto_publish_tradera = models.BooleanField(default=False)
    use_ai_enhancement = models.BooleanField(default=False)
    content_fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of the item's content as last pushed."
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "livemode", "external_id"],
                condition=Q(deleted_at__isnull=True),
                name="item_current_external_id_unique",
            ),
        ]
        indexes = [models.Index(fields=["partner", "livemode", "status"])]

    def __str__(self):
        return f"{self.external_id}: {self.title}"

    def can_transition_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.Status(self.status)]


class Order(models.Model):
    """A buyer's order in the Rheo marketplace. While one is in progress, deleting its item
    archives the item instead, to keep the order's record whole."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        SHIPPED = "shipped"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    IN_PROGRESS = (Status.PENDING, Status.PAID, Status.SHIPPED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["item", "status"])]

    def __str__(self):
        return f"Order {self.id} ({self.status})"
