"""Tradera follows the item: whatever changed in Rheo, the item's auction is brought in line
with the item as it is now.

An item change Tradera must follow marks the item due in the change's own transaction
(items.lifecycle.follow_on_channels). `follow_item` then compares the item with its
listing and writes what Tradera must do, in one transaction holding both rows:

- an item on sale, created with autoPublishTradera, without a listing: its auction is
  queued (tradera.services.publishing);
- an item no longer for sale (sold anywhere, not listed, archived, deleted) whose auction
  runs or is being published: its end is wanted;
- an item on sale whose auction's price is not the item's: the new price is wanted.

Comparing states rather than replaying events makes it idempotent: following an item
twice, or after a crash, writes nothing new. `sweep_listings` (beat) nudges whatever a
lost nudge left due: items to follow, publishes (by their partners' tokens), and changes
to running auctions.
"""

import math
from datetime import timedelta
from functools import partial
from uuid import UUID

from django.conf import settings
from django.db import transaction

from items.models import Item
from partners import backlog
from rheo import celery, sweeping
from tradera.models import TraderaListing
from tradera.services import jobs
from tradera.services.changes import RUNNING, want_changes
from tradera.services.publishing import PUBLISHES, queue_publish

SWEEP_BATCH = 500


def follow_item(*, item_id: UUID | str) -> None:
    """Write what Tradera must do for the item now, if it is due."""
    with transaction.atomic():
        item = jobs.lock_item(item_id)
        if item is None or item.channels_due_at is None:
            return
        listing = TraderaListing.objects.select_for_update().filter(item=item).first()
        on_sale = item.status == Item.Status.ACTIVE and item.deleted_at is None
        if listing is None:
            if on_sale and item.auto_publish_tradera:
                queue_publish(item=item)
        elif listing.status in RUNNING:
            wanted: dict[str, object] = {}
            if not on_sale:
                if not listing.end_wanted:
                    wanted["end_wanted"] = True
            elif _price_of(listing) not in (None, math.ceil(item.price)):
                wanted["wanted_price"] = item.price
            # Changes asked for while it was being published are due once it runs.
            waiting = listing.end_wanted or listing.wanted_price is not None
            if wanted or (waiting and listing.next_attempt_at is None):
                want_changes(listing, **wanted)
        Item.objects.filter(pk=item.pk).update(channels_due_at=None, channels_nudged_at=None)


def _price_of(listing: TraderaListing) -> int | None:
    """The opening price the auction has, or is about to be given; None before the
    auction was sent (it is sent with the item's price of that moment)."""
    if listing.wanted_price is not None:
        return math.ceil(listing.wanted_price)
    return None if listing.listed_price is None else int(listing.listed_price)


def sweep_listings(*, limit: int = SWEEP_BATCH) -> int:
    """Nudge what is due, not held by a worker, and whose last nudge is older than the
    nudge grace (lost, or due only now): items whose change Tradera has to follow,
    publishes, and changes to running auctions. Returns how many were nudged."""
    grace = timedelta(seconds=settings.RHEO_NUDGE_GRACE_SECONDS)
    nudged = sweeping.nudge_due(
        Item.objects.all(),
        due_field="channels_due_at",
        lock_field=None,
        nudged_field="channels_nudged_at",
        grace=grace,
        nudge=jobs.nudge_follow_on_commit,
        limit=limit,
    )
    # Publishes: their partners' tokens (partners.backlog), as the publish sends.
    nudged += backlog.sweep(PUBLISHES, limit=limit)
    nudged += sweeping.nudge_due(
        TraderaListing.objects.filter(status=TraderaListing.Status.ACTIVE),
        due_field="next_attempt_at",
        lock_field="locked_until",
        nudged_field="nudged_at",
        grace=grace,
        nudge=partial(celery.nudge_on_commit, jobs.CHANGES_TASK),
        limit=limit,
    )
    return nudged
