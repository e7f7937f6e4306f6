import secrets
import unicodedata
import uuid
from datetime import datetime

from django.core.files.storage import default_storage
from django.db import models
from django.db.models import Q
from django.utils import timezone

from items import guidance as guidance_keys


def searchable(text: str) -> str:
    """Text as the marketplace's search compares it: Unicode-normalised and case-folded
    in Python, so Å and å match on every database, whatever its collation."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def search_text_for(title: str, enhanced_title: str, domain: dict | None) -> str:
    """What the marketplace's search matches for an item: both titles, the OEM code (also
    without its spaces, dots and dashes, so "8K0-615-123" and "8K0615123" both find it),
    the manufacturer and the compatible models."""
    part = domain or {}
    oem = part.get("oemCode") or ""
    words = [
        title,
        enhanced_title,
        oem,
        "".join(ch for ch in oem if ch.isalnum()),
        part.get("manufacturer") or "",
        *(part.get("compatibleModels") or []),
    ]
    return searchable(" ".join(w for w in words if w))


# An item buyers may see: a live one (never a test item), active, not deleted.
LISTED = Q(status="active", livemode=True, deleted_at__isnull=True)


class SalePlatform(models.TextChoices):
    TRADERA = "tradera"
    RHEO = "rheo"


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
    # items.lifecycle.transition_item and nowhere else.
    TRANSITIONS = {
        Status.DRAFT: {Status.ACTIVE, Status.NOT_LISTED, Status.SOLD, Status.ARCHIVED},
        Status.ACTIVE: {Status.NOT_LISTED, Status.SOLD, Status.ARCHIVED},
        Status.NOT_LISTED: {Status.SOLD, Status.ARCHIVED},
        Status.SOLD: set(),
        Status.ARCHIVED: {Status.SOLD},
    }

    # The items a plan's max_active_items counts (see partners.subscriptions): those in the
    # marketplace or on their way to it. Not listed, sold and archived ones free their place.
    PLAN_COUNTED_STATUSES = (Status.DRAFT, Status.ACTIVE)

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
    # How the partner sent the item (its create): the timeline names it.
    created_via = models.CharField(
        max_length=8, choices=[(s, s) for s in ("PUT", "batch", "import")], default="PUT"
    )
    # The partner's own version of the content (sourceVersion: its row version, a time in
    # ms), when it sends one: a write with a lower version is stale and changes nothing.
    source_version = models.BigIntegerField(
        null=True, blank=True, help_text="The highest sourceVersion written; null if none."
    )

    # What AI enhancement wrote (useAiEnhancement); the marketplace and Tradera show these
    # when set, the partner's own title and description otherwise.
    enhanced_title = models.CharField(max_length=255, blank=True, default="", db_default="")
    enhanced_description = models.TextField(blank=True, default="", db_default="")
    enhanced_fingerprint = models.CharField(max_length=64, blank=True, default="", db_default="")

    # The background job as rows (see items.pipeline): work is due from processing_due_at
    # (null when there is none); a worker holds the item until processing_locked_until;
    # processing_nudged_at is when a Celery message was last sent about it.
    processing_due_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    processing_locked_until = models.DateTimeField(null=True, blank=True)
    processing_nudged_at = models.DateTimeField(null=True, blank=True, default=timezone.now)

    # A change the item's sales channels (Tradera) must follow, written with the change
    # itself (items.lifecycle.follow_on_channels): due from channels_due_at (null when
    # nothing is), nudged at channels_nudged_at. Tradera's follow clears it.
    channels_due_at = models.DateTimeField(null=True, blank=True)
    channels_nudged_at = models.DateTimeField(null=True, blank=True)

    # Relisting on Tradera (tradera.relisting): the partner's per-item override of its
    # relist rules (the PUT's `relist` object, null: the partner's rules as they are), and
    # the schedule: relists made since the partner last set the price, and the price that
    # schedule started from (a floorPercent's base). A PATCH price or a PUT that changes
    # the price or the override starts a new schedule.
    relist = models.JSONField(null=True, blank=True)
    relist_steps = models.PositiveSmallIntegerField(default=0, db_default=0)
    relist_base_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    # The sale, wherever it happened (see items.lifecycle.mark_item_sold): the one place
    # analytics reads revenue from. A partner's PATCH to sold records no platform or price.
    sold_at = models.DateTimeField(null=True, blank=True)
    sold_platform = models.CharField(max_length=16, choices=SalePlatform.choices, blank=True)
    sale_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    # What the marketplace's search matches (see refresh_search_text), kept beside the
    # fields it comes from by whoever writes them. On PostgreSQL a trigram index serves
    # it (migration 0005); SQLite scans.
    search_text = models.TextField(blank=True, default="", db_default="", editable=False)

    # Rheo's canonical condition grade (A–D) of the partner's conditionGrade code, through
    # its grade scale (GradeCode) when it has one: what search, filters and analytics read.
    # Written on every upsert and when the partner changes the code's mapping
    # (items.grades); "" when the item has no grade.
    grade = models.CharField(max_length=1, blank=True, default="", db_default="", db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "livemode", "external_id"],
                condition=Q(deleted_at__isnull=True),
                name="item_current_external_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "livemode", "status"]),
            models.Index(
                fields=["partner", "livemode", "sold_at"],
                condition=Q(sold_at__isnull=False),
                name="item_sold_at",
            ),
            # The plan limit's count on an item create, and the subscription's usage.
            models.Index(
                fields=["partner", "livemode"],
                condition=Q(deleted_at__isnull=True, status__in=["draft", "active"]),
                name="item_plan_counted",
            ),
            models.Index(
                fields=["processing_due_at"],
                condition=Q(processing_due_at__isnull=False),
                name="item_processing_due",
            ),
            # A partner's due items, oldest first: its image tokens' queue (partners.backlog).
            models.Index(
                fields=["partner", "processing_due_at"],
                condition=Q(processing_due_at__isnull=False),
                name="item_partner_processing_due",
            ),
            models.Index(
                fields=["channels_due_at"],
                condition=Q(channels_due_at__isnull=False),
                name="item_channels_due",
            ),
            # The marketplace's pages, newest listed first.
            models.Index(
                fields=["-status_changed_at"],
                condition=LISTED,
                name="item_marketplace",
            ),
            # A sale's price guidance update finds the items sharing its OEM code or its
            # make and model (items.guidance; the expressions must stay the queries').
            models.Index(guidance_keys.oem_expression(), name="item_guidance_oem"),
            models.Index(*guidance_keys.vehicle_expressions(), name="item_guidance_vehicle"),
        ]

    def __str__(self):
        return f"{self.external_id}: {self.title}"

    def can_transition_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.Status(self.status)]

    @property
    def display_title(self) -> str:
        return self.enhanced_title or self.title

    @property
    def display_description(self) -> str:
        return self.enhanced_description or self.description

    @property
    def part(self) -> dict:
        """The automotive part's facts (domain), {} when the partner sent none."""
        return self.domain or {}

    @property
    def condition_grade(self) -> str:
        return self.part.get("conditionGrade") or ""

    def refresh_search_text(self) -> None:
        """Call after changing a title or the domain (see search_text_for)."""
        self.search_text = search_text_for(self.title, self.enhanced_title, self.domain)


class StoredImage(models.Model):
    """A hosted image, stored once per distinct downloaded bytes whoever sent them."""

    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the source.")
    full = models.CharField(max_length=200, help_text="Storage name of the re-encoded JPEG.")
    thumbnail = models.CharField(max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.full

    @property
    def full_url(self) -> str:
        return default_storage.url(self.full)

    @property
    def thumbnail_url(self) -> str:
        return default_storage.url(self.thumbnail)


class ItemImage(models.Model):
    """One of an item's image URLs, in the partner's order, and what became of it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField()
    source_url = models.CharField(max_length=2048)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    stored = models.ForeignKey(StoredImage, null=True, blank=True, on_delete=models.PROTECT)
    attempts = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["item", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "position"], name="item_image_position")
        ]

    def __str__(self):
        return f"{self.item_id} #{self.position}: {self.status}"


# Crockford's base32: no I, L, O or U, so a reference read out on the phone is not misheard.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_order_reference() -> str:
    """A short reference for people (emails, support, admin): RH-7KQ2-M9XD. Not a secret;
    the order's page needs its access key."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"RH-{chars[:4]}-{chars[4:]}"


def new_access_key() -> str:
    """The unguessable part of the order page's address (256 random bits)."""
    return secrets.token_urlsafe(32)


class Order(models.Model):
    """A buyer's order in the Rheo marketplace. An order in progress (pending, paid,
    shipped) reserves its item: there is at most one per item (a partial unique
    constraint), and deleting the item meanwhile archives it instead. What the buyer
    agreed to (title, price, shipping) is kept as it was when the order was placed."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        SHIPPED = "shipped"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    class CancelReason(models.TextChoices):
        STAFF = "staff", "Cancelled by Rheo staff"
        NOT_PAID = "not_paid", "Not paid in time"
        SOLD_ELSEWHERE = "sold_elsewhere", "Sold on Tradera first"

    IN_PROGRESS = (Status.PENDING, Status.PAID, Status.SHIPPED)
    # The moves staff make (items.orders), from each state.
    TRANSITIONS = {
        Status.PENDING: {Status.PAID, Status.CANCELLED},
        Status.PAID: {Status.SHIPPED, Status.CANCELLED},
        Status.SHIPPED: {Status.COMPLETED, Status.CANCELLED},
        Status.COMPLETED: set(),
        Status.CANCELLED: set(),
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(
        max_length=16, unique=True, default=new_order_reference, editable=False
    )
    access_key = models.CharField(
        max_length=64, unique=True, default=new_access_key, editable=False
    )
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)

    buyer_name = models.CharField(max_length=200)
    buyer_email = models.EmailField()
    buyer_phone = models.CharField(max_length=40, blank=True)
    address_line1 = models.CharField(max_length=200)
    address_line2 = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=10)
    city = models.CharField(max_length=100)
    country = models.CharField(max_length=2, default="SE")

    item_title = models.CharField(max_length=255, help_text="The title the buyer saw.")
    price = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_cost = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="SEK")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=16, choices=CancelReason.choices, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item"],
                condition=Q(status__in=["pending", "paid", "shipped"]),
                name="one_order_in_progress_per_item",
            ),
        ]
        indexes = [
            models.Index(fields=["item", "status"]),
            models.Index(fields=["status", "created_at"], name="order_status_created"),
        ]

    def __str__(self):
        return f"Order {self.reference}"

    @property
    def total(self):
        return self.price + self.shipping_cost

    @property
    def in_progress(self) -> bool:
        return self.status in self.IN_PROGRESS

    def can_transition_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.Status(self.status)]


# Rheo's own condition grades: the canonical scale every partner's codes map onto.
CANONICAL_GRADES = ("A", "B", "C", "D")


class GradeCode(models.Model):
    """One code of a partner's own grade scale (A*, 3, "Bra"…): the canonical grade it
    means, the short Swedish text buyers read, and the condition wording of its Tradera
    auctions. A partner with no codes has no scale and sends Rheo's grades (A–D)."""

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="grade_codes"
    )
    code = models.CharField(max_length=20)
    canonical = models.CharField(
        max_length=1, choices=[(g, g) for g in CANONICAL_GRADES], help_text="Rheo's grade."
    )
    buyer_text = models.CharField(max_length=200, help_text="Swedish, for buyers.")
    tradera_wording = models.CharField(max_length=500, help_text="Goes into the auction text.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["partner", "position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "code"], name="grade_code_unique")
        ]

    def __str__(self):
        return f"{self.code} → {self.canonical}"


class ItemActivity(models.Model):
    """An item's timeline, as the dashboard shows it: one row per thing that happened
    (content processed, images, published, price changed, sold, orders…). Append-only.
    Webhook events and their delivery attempts join it from their own tables."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="activities")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=32)
    message = models.CharField(max_length=500)

    class Meta:
        verbose_name_plural = "item activities"
        indexes = [models.Index(fields=["item", "at"])]
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.item_id} {self.kind}: {self.message}"


class Reconciliation(models.Model):
    """A partner's complete set of external ids held against its items (one key mode): a
    preview of what would be de-listed, then, once applied, a background job that de-lists
    it (see items.reconciliations). The items to de-list are fixed at the preview
    (ReconciliationItem rows); the job's state is on this row, like the image job's on an
    item: due from apply_due_at, held until apply_locked_until, nudged at apply_nudged_at."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed"
        APPLYING = "applying"
        APPLIED = "applied"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="reconciliations"
    )
    livemode = models.BooleanField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREVIEWED)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    # The preview: distinct ids sent; of the current items, those in the set (present)
    # and the listed ones not in it (absent: to be de-listed); ids Rheo has no item for.
    submitted_count = models.PositiveIntegerField()
    present_count = models.PositiveIntegerField()
    absent_count = models.PositiveIntegerField()
    unknown_count = models.PositiveIntegerField()
    # The partner's listed (draft or active) items at the preview: the guard's base.
    listed_count = models.PositiveIntegerField()
    guard_limit = models.PositiveIntegerField(help_text="The most items apply de-lists unforced.")
    absent_sample = models.JSONField(default=list, help_text="The first 100 absent external ids.")

    # The apply job.
    forced = models.BooleanField(default=False)
    apply_requested_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    done_count = models.PositiveIntegerField(default=0)
    delisted_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    apply_due_at = models.DateTimeField(null=True, blank=True)
    apply_locked_until = models.DateTimeField(null=True, blank=True)
    apply_nudged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["partner", "livemode", "-created_at"]),
            models.Index(
                fields=["apply_due_at"],
                condition=Q(apply_due_at__isnull=False),
                name="reconciliation_apply_due",
            ),
        ]

    def __str__(self):
        return f"Reconciliation {self.id} ({self.status})"

    def is_expired(self, now: datetime) -> bool:
        return self.status == self.Status.PREVIEWED and now >= self.expires_at

    def display_status(self, now: datetime) -> str:
        """previewed, applying, applied, or expired (a preview past its hour, not applied)."""
        return "expired" if self.is_expired(now) else self.status

    @property
    def needs_force(self) -> bool:
        return self.absent_count > self.guard_limit


class ReconciliationItem(models.Model):
    """An item the preview found absent from the partner's set: the apply de-lists exactly
    these. `outcome` is empty until the job has dealt with the item."""

    class Outcome(models.TextChoices):
        PENDING = ""
        DELISTED = "delisted"
        SKIPPED = "skipped"

    reconciliation = models.ForeignKey(
        Reconciliation, on_delete=models.CASCADE, related_name="absent_items"
    )
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=8, choices=Outcome.choices, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["reconciliation", "id"],
                condition=Q(outcome=""),
                name="reconciliation_item_pending",
            )
        ]

    def __str__(self):
        return f"{self.reconciliation_id}: {self.item_id} {self.outcome or 'pending'}"


# The stock import's models live beside its services, price guidance's beside its keys;
# imported here so Django finds them.
from items.guidance import GuidanceUpdate, PriceGuidance  # noqa: E402, F401
from items.imports.models import ImportMapping, ImportRow, StockImport  # noqa: E402, F401
