"""Read-only questions about a partner's Tradera side, for the dashboard.

`tradera_queue(partner=..., livemode=...)`: where the partner's items stand against
Tradera's call quota: how many are on their way to Tradera and not live yet, the calls
they still need, the calls publishing may still spend in the current window (all partners
together: the quota is the application's), and so how long publishing them all takes at
the current quota. Shown by templates/dashboard/_tradera_backlog.html.
"""

import logging
import math
from dataclasses import dataclass

import redis
from django.db.models import Count, F, Func, IntegerField, Q, Sum
from django.db.models.functions import Coalesce

from items.models import Item, ItemImage
from tradera.client import for_mode
from tradera.models import TraderaListing
from tradera.quota import CallBudget
from tradera.services.publishing import RESULTS_BATCH

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TraderaQueue:
    queued: int  # items on their way to Tradera whose auction is not live yet
    calls_needed: int  # the Tradera calls those still need, at the least
    calls_left: int | None  # what publishing may still spend in this window; None: unknown
    calls_per_window: int  # publishing's share of the quota per window
    window_seconds: int

    @property
    def seconds(self) -> float | None:
        """How long publishing them all takes at the current quota: 0 when the calls left
        in this window cover them (Rheo's own pace sets the time then), else the calls
        beyond those at the quota's rate. None when the budget cannot be read."""
        if self.calls_left is None:
            return None
        short = self.calls_needed - self.calls_left
        if short <= 0:
            return 0.0
        return short / max(1, self.calls_per_window) * self.window_seconds

    @property
    def fits(self) -> bool:
        return self.seconds == 0


class JSONArrayLength(Func):
    """The length of a JSON array column, on PostgreSQL and on SQLite (`make run`)."""

    function = "jsonb_array_length"
    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="json_array_length", **extra_context)


def tradera_queue(*, partner, livemode: bool) -> TraderaQueue:
    """The partner's items in that mode still to be published on Tradera, and their cost.

    Queued: listings being published (pending_sync, not called off), and items with
    autoPublishTradera that have no listing yet but will (active, or a draft whose images
    are still being fetched). Calls still needed, per item: AddItem, one AddItemImage per
    image not failed and AddItemCommit before the commit; AddItemCommit alone when its
    answer is outstanding; none once committed. Plus the polls, one GetRequestResults per
    RESULTS_BATCH of them, as the least they take (each poll interval costs one while any
    wait; how many intervals depends on how fast Tradera processes them)."""
    listings = TraderaListing.objects.filter(
        item__partner=partner,
        item__livemode=livemode,
        status=TraderaListing.Status.PENDING_SYNC,
        end_wanted=False,
    )
    counts = listings.aggregate(
        total=Count("pk"),
        uncommitted=Count("pk", filter=Q(committed=False)),
        unacknowledged=Count("pk", filter=Q(committed=True, commit_acknowledged=False)),
    )
    coming = Item.objects.filter(
        Q(status=Item.Status.ACTIVE) | Q(status=Item.Status.DRAFT, processing_due_at__isnull=False),
        partner=partner,
        livemode=livemode,
        deleted_at__isnull=True,
        auto_publish_tradera=True,
        tradera_listing__isnull=True,
    )
    # An item's image rows are made when its images are first fetched: until then its
    # URLs say how many there will be, less those that failed.
    coming_figures = coming.aggregate(
        n=Count("pk"),
        urls=Coalesce(
            Sum(JSONArrayLength(F("image_urls"))),
            0,
        ),
    )
    coming_count = coming_figures["n"]
    coming_failed = ItemImage.objects.filter(
        item__in=coming, status=ItemImage.Status.FAILED
    ).count()
    listed_images = (
        ItemImage.objects.exclude(status=ItemImage.Status.FAILED)
        .filter(item__tradera_listing__in=listings.filter(committed=False))
        .count()
    )
    images = listed_images + coming_figures["urls"] - coming_failed
    queued = counts["total"] + coming_count
    calls_needed = (
        2 * (counts["uncommitted"] + coming_count)
        + images
        + counts["unacknowledged"]
        + math.ceil(queued / RESULTS_BATCH)
    )
    budget = for_mode(livemode).budget
    assert isinstance(budget, CallBudget)  # for_mode's clients always count
    per_window = budget.limit("publish")
    calls_left: int | None
    try:
        calls_left = max(0, per_window - budget.used())
    except redis.RedisError:
        logger.exception("Tradera call budget unavailable; calls left unknown")
        calls_left = None
    return TraderaQueue(
        queued=queued,
        calls_needed=calls_needed,
        calls_left=calls_left,
        calls_per_window=per_window,
        window_seconds=budget.window_seconds,
    )
