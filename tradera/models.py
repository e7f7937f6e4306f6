from urllib.parse import urljoin

from django.conf import settings
from django.db import models
from django.db.models import Q

from rheo.crypto import EncryptedTextField

LIVE_AD_URL = "https://www.tradera.com/item/{ad_id}"


def ad_url(ad_id: str | int, *, livemode: bool) -> str:
    """Where a person sees the auction: on tradera.com in live mode; in test mode on the
    sandbox's own page for it (/item/<id> at the root of TRADERA_SANDBOX_URL's server)."""
    if livemode:
        return LIVE_AD_URL.format(ad_id=ad_id)
    return urljoin(settings.TRADERA_SANDBOX_URL, f"/item/{ad_id}")


class CategoryRule(models.Model):
    """Staff's mapping from a part's words to a Tradera category: the first rule (lowest
    position) whose keyword appears in the item's title wins; none: Övriga reservdelar."""

    keyword = models.CharField(max_length=60, help_text="Lower case, e.g. bromsok")
    category_id = models.PositiveIntegerField(help_text="Tradera's category id")
    category_name = models.CharField(max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["position", "keyword"]

    def __str__(self):
        return f"{self.keyword} → {self.category_id}"


class TraderaAccount(models.Model):
    """A partner's Tradera seller account. Live mode: the account the partner connected
    through Tradera's token login. Test mode: a sandbox seller of the partner's own,
    created on first use."""

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.CASCADE, related_name="tradera_accounts"
    )
    livemode = models.BooleanField()
    user_id = models.BigIntegerField(help_text="Tradera's id of the seller.")
    token = EncryptedTextField(help_text="The seller's token, encrypted.")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    # The sync's place: the end of the last window of orders and ended auctions read.
    # Saved only when a pass completes, so an interrupted one is redone.
    synced_until = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_sync_error = models.CharField(max_length=500, blank=True)
    # When the account's pending publishes were last asked about (one GetRequestResults
    # for them all): at most one such poll per TRADERA_POLL_SECONDS (see
    # tradera.services.publishing).
    results_polled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Tradera account"
        constraints = [
            models.UniqueConstraint(fields=["partner", "livemode"], name="one_tradera_account")
        ]

    def __str__(self):
        return f"Tradera seller {self.user_id} ({'live' if self.livemode else 'sandbox'})"


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

    # The queued publish (see tradera.services): the request Tradera queued, and whether
    # it was committed. Saved as soon as Tradera answers, so a job that resumes after a
    # crash knows what it already did.
    request_id = models.BigIntegerField(null=True, blank=True)
    tradera_item_id = models.BigIntegerField(null=True, blank=True)
    # Set before AddItemCommit is sent: from then on the request may be live, and it is
    # never replaced by a new one (which could make a second auction).
    committed = models.BooleanField(default=False)
    commit_acknowledged = models.BooleanField(default=False)
    # The publish job as rows, like the item's: due, leased, nudged, attempts spent.
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    nudged_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    # The sale, as Tradera's order tells it.
    sale_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    sold_at = models.DateTimeField(null=True, blank=True)
    tradera_order_id = models.BigIntegerField(null=True, blank=True)
    buyer_alias = models.CharField(max_length=100, blank=True)
    # When the sync saw the auction end on Tradera (its end date). While the listing is
    # still active, Tradera has a winner whose order the sync waits for (see tradera.sync).
    ended_at = models.DateTimeField(null=True, blank=True)

    # The opening price the auction was given (AddItem, then each accepted SetPrices), and
    # the changes it has yet to take (tradera.services.changes).
    listed_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    wanted_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    end_wanted = models.BooleanField(default=False)
    # What Tradera refused, shown to the partner on GET as `issues`.
    issues = models.JSONField(default=list, blank=True)
    # Relisting (tradera.relisting): an item has one listing row, so it never has two
    # auctions running; a relist moves the row on to a new auction, remembering how many
    # relists it has made and the auction it replaces (Tradera's RestartedFromItemId).
    relist_count = models.PositiveSmallIntegerField(default=0, db_default=0)
    previous_tradera_item_id = models.BigIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Tradera listing"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(next_attempt_at__isnull=False),
                name="listing_publish_due",
            ),
            # The sync finds the few listings a pass changes among all of an account's.
            models.Index(fields=["tradera_item_id"], name="listing_tradera_item"),
            models.Index(
                fields=["ended_at"],
                condition=Q(status="active", ended_at__isnull=False),
                name="listing_awaiting_order",
            ),
        ]

    def __str__(self):
        return f"Tradera {self.ad_id or '(unpublished)'} for {self.item_id}"

    @property
    def waiting_for_quota(self) -> bool:
        return self.status == self.Status.PENDING_SYNC and self.error_code == "tradera_quota_wait"

    @property
    def retrying(self) -> bool:
        """Tradera failed the publish for a while (down, slow, 5xx): tried again later."""
        return (
            self.status == self.Status.PENDING_SYNC
            and bool(self.error_code)
            and not self.waiting_for_quota
        )

    @property
    def ad_url(self) -> str | None:
        if not self.ad_id or self.ad_id.startswith("pending"):
            return None
        return ad_url(self.ad_id, livemode=self.item.livemode)


class RelistRules(models.Model):
    """A partner's rules for relisting Tradera auctions that end unsold, each at a lower
    price (tradera.relisting). An item may override any of them (its `relist` object)."""

    partner = models.OneToOneField(
        "partners.Partner", on_delete=models.CASCADE, related_name="relist_rules"
    )
    enabled = models.BooleanField(default=False)
    max_relists = models.PositiveSmallIntegerField(default=2)
    # The step down: a percentage of the schedule's first price, or an amount in SEK.
    step_percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, default=10
    )
    step_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # The floor: an absolute price, or a percentage of the schedule's first price.
    floor_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    floor_percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, default=50
    )
    wait_hours = models.PositiveIntegerField(default=0)
    # At the floor: stop relisting on Tradera and keep the item on Rheo's marketplace only
    # (True), or go on relisting at the floor price until max_relists (False).
    marketplace_only_at_floor = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "relist rules"
        verbose_name_plural = "relist rules"
        constraints = [
            models.CheckConstraint(
                condition=Q(step_percent__isnull=True) | Q(step_amount__isnull=True),
                name="relist_one_step",
            ),
            models.CheckConstraint(
                condition=Q(floor_price__isnull=True) | Q(floor_percent__isnull=True),
                name="relist_one_floor",
            ),
        ]

    def __str__(self):
        return f"Relist rules of {self.partner_id}"
