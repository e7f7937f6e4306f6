"""What a listing's jobs share (publishing it, changing its running auction): the lease a
worker holds it by, the retry schedule, the nudges, and the seller it is published as.

A listing's job is due from `next_attempt_at`; a worker holds it until `locked_until`,
renewed before each Tradera call, so a worker killed mid-call frees it within one call's
time; `nudged_at` is when a Celery message about it was last sent. The message is only a
nudge: the sweeper (tradera.services.follow.sweep_listings) nudges again whatever is due.
"""

import random
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from items.models import Item
from rheo import celery
from tradera.client import Seller, for_mode
from tradera.models import TraderaAccount, TraderaListing

PUBLISH_TASK = "tradera.publish_listing"
PUBLISH_BACKLOG_TASK = "tradera.publish_backlog"
CHANGES_TASK = "tradera.apply_changes"
FOLLOW_TASK = "tradera.follow_item"

# Transient failures (Tradera down or slow) are retried 1 s, 2 s, 4 s… apart, at most
# RETRY_CAP apart, for as long as it takes: a Tradera outage delays an auction, it never
# fails it.
RETRY_BASE = timedelta(seconds=1)
RETRY_CAP = timedelta(minutes=5)
JITTER = 0.2


class NotPublishable(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def lease() -> timedelta:
    """One Tradera call's time, and some: how long a worker holds a listing per call."""
    return timedelta(
        seconds=max(settings.RHEO_LEASE_SECONDS, settings.TRADERA_TIMEOUT_SECONDS + 15)
    )


def renew_lease(listing: TraderaListing) -> None:
    """Hold the listing for the next call (called before each)."""
    listing.locked_until = timezone.now() + lease()
    TraderaListing.objects.filter(pk=listing.pk).update(locked_until=listing.locked_until)


def backoff(attempts: int) -> timedelta:
    """The wait before the next try, after `attempts` failed ones (±20 %)."""
    delay = min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)
    return delay * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - not a secret


def nudge_on_commit(listing: TraderaListing, countdown: float | None = None) -> None:
    """Ask for the listing's due job once the transaction commits: the publish while it is
    being published, its changes once it runs."""
    task = PUBLISH_TASK if listing.status == TraderaListing.Status.PENDING_SYNC else CHANGES_TASK
    celery.nudge_on_commit(task, listing.pk, countdown=countdown)


def nudge_follow_on_commit(item_id: UUID | str) -> None:
    """Ask for tradera.services.follow.follow_item once the transaction commits."""
    celery.nudge_on_commit(FOLLOW_TASK, str(item_id))


def due_in(listing: TraderaListing, delay: timedelta, **fields: object) -> None:
    """Save `fields`, free the listing, and make its job due again after `delay`."""
    now = timezone.now()
    with transaction.atomic():
        save_fields(
            listing, next_attempt_at=now + delay, nudged_at=now, locked_until=None, **fields
        )
        nudge_on_commit(listing, countdown=delay.total_seconds())


def lock_item(item_id: UUID | str) -> Item | None:
    """Lock the item row (inside a transaction) before its listing: the order every job
    that locks both takes, so none waits for the other in a circle. A no-key lock, so
    writing a line on the item's timeline meanwhile (a foreign key to it) does not wait."""
    return Item.objects.select_for_update(no_key=True).filter(pk=item_id).first()


def save_fields(listing: TraderaListing, **fields: object) -> None:
    """Save these fields of the listing, and `commit_acknowledged`, which the publish sets
    without a save of its own."""
    for name, value in fields.items():
        setattr(listing, name, value)
    listing.save(update_fields=[*fields, "commit_acknowledged", "updated_at"])


def seller_for(item: Item) -> Seller:
    """The Tradera seller the item's partner publishes as, in the item's mode."""
    account = TraderaAccount.objects.filter(partner=item.partner, livemode=item.livemode).first()
    if account is None and not item.livemode:
        # Test mode needs no connecting: a sandbox seller of the partner's own.
        made = for_mode(False).sandbox_seller(f"partner-{item.partner_id}")
        account, _ = TraderaAccount.objects.get_or_create(
            partner=item.partner,
            livemode=False,
            defaults={"user_id": made.user_id, "token": made.token},
        )
    if account is None:
        raise NotPublishable(
            "tradera_not_connected",
            "No Tradera account is connected; connect one in the dashboard to publish.",
        )
    if account.token_expires_at and account.token_expires_at <= timezone.now():
        raise NotPublishable(
            "tradera_token_expired", "The Tradera login has expired; connect the account again."
        )
    return Seller(user_id=account.user_id, token=account.token)
