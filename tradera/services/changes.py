"""Changes to a running auction: a new opening price, or an end, when the item changes
in Rheo or staff end it. Tradera refuses both once the auction has bids; that is shown
to the partner as an issue, not retried."""

import math
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from items import services as items
from items.models import Item
from rheo.errors import ServiceError
from tradera.client import TraderaError, for_mode
from tradera.models import TraderaListing
from tradera.services.publishing import (
    LEASE,
    RETRY_BASE,
    NotPublishable,
    nudge_changes_on_commit,
    save_fields,
    seller_for,
)

ENDING_STATUSES = {"not_listed", "sold", "archived"}
PRICE_LOCKED = "tradera_price_locked_by_bids"
END_REFUSED = "tradera_end_refused_has_bids"


def request_changes(*, item: Item, change: str) -> None:
    """The item changed in Rheo: its auction should follow (a new opening price, or an
    end when the item is de-listed, sold elsewhere, archived or deleted)."""
    listing = TraderaListing.objects.filter(item=item).first()
    if listing is None or listing.status not in (
        TraderaListing.Status.ACTIVE,
        TraderaListing.Status.PENDING_SYNC,
    ):
        return
    if change == "price":
        fields = {"wanted_price": item.price}
    elif change == "deleted" or (change == "status" and item.status in ENDING_STATUSES):
        fields = {"end_wanted": True}
    else:
        return
    with transaction.atomic():
        TraderaListing.objects.filter(pk=listing.pk).update(**fields)
        _nudge_changes_if_running(listing)


def _nudge_changes_if_running(listing: TraderaListing) -> None:
    if listing.status == TraderaListing.Status.ACTIVE:
        nudge_changes_on_commit(listing.pk)
    # A listing still being published takes its changes when it goes live (_go_live).


def end_listing(*, listing: TraderaListing) -> bool:
    """Staff end the auction; the item stays in Rheo's marketplace. The same path as an
    item leaving the marketplace (apply_changes), so an auction with bids, which Tradera
    will not end, runs on and shows as an issue rather than failing. False when an end is
    already on its way; refused when no auction is running or being published."""
    with transaction.atomic():
        listing = (
            TraderaListing.objects.select_for_update(of=("self",))
            .select_related("item")
            .get(pk=listing.pk)
        )
        if listing.status not in (
            TraderaListing.Status.ACTIVE,
            TraderaListing.Status.PENDING_SYNC,
        ):
            raise ServiceError("conflict", f"The listing is {listing.status}; no auction runs.")
        if listing.end_wanted:
            return False
        save_fields(listing, end_wanted=True)
        items.record_activity(
            item=listing.item, kind="tradera", message="Tradera auction ended by Rheo"
        )
        _nudge_changes_if_running(listing)
    return True


def apply_changes(*, listing_id: int) -> None:
    """Bring the running auction in line with the item. Tradera refuses both changes once
    the auction has bids; that is recorded as an issue the partner sees, not retried."""
    now = timezone.now()
    claimed = TraderaListing.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        pk=listing_id,
        status=TraderaListing.Status.ACTIVE,
    ).update(locked_until=now + LEASE)
    if not claimed:
        return
    listing = TraderaListing.objects.select_related("item__partner").get(pk=listing_id)
    item = listing.item
    try:
        client = for_mode(item.livemode)
        seller = seller_for(item, client)
        if listing.end_wanted:
            if client.end_item(seller, listing.tradera_item_id):
                listing.status = TraderaListing.Status.ENDED
                _drop_issue(listing, END_REFUSED)
                items.record_activity(item=item, kind="tradera", message="Tradera auction ended")
            else:
                _add_issue(
                    listing,
                    END_REFUSED,
                    "The Tradera auction has bids and cannot be ended; it runs to its end, "
                    "and a sale there is still reported with item.sold.",
                )
            listing.end_wanted = False
        elif listing.wanted_price is not None:
            change = client.set_prices(
                seller, listing.tradera_item_id, math.ceil(listing.wanted_price)
            )
            if change.ok:
                _drop_issue(listing, PRICE_LOCKED)
                items.record_activity(
                    item=item,
                    kind="tradera",
                    message=f"Tradera price set to {math.ceil(listing.wanted_price)} SEK",
                )
            else:
                _add_issue(
                    listing,
                    PRICE_LOCKED,
                    "The Tradera auction has bids, so its price cannot change: "
                    + "; ".join(change.errors),
                )
            listing.wanted_price = None
    except (TraderaError, NotPublishable) as exc:
        if isinstance(exc, TraderaError) and not exc.permanent:
            wait = timedelta(seconds=exc.retry_after) if exc.retry_after else RETRY_BASE * 4
            save_fields(listing, locked_until=None)
            with transaction.atomic():
                nudge_changes_on_commit(listing.pk, countdown=wait.total_seconds())
            return
        _add_issue(listing, f"tradera_{getattr(exc, 'code', 'error')}", exc.message)
        listing.end_wanted, listing.wanted_price = False, None
    listing.locked_until = None
    listing.save(update_fields=["status", "end_wanted", "wanted_price", "issues", "locked_until"])


def _add_issue(listing: TraderaListing, code: str, message: str) -> None:
    _drop_issue(listing, code)
    items.record_activity(item=listing.item, kind="tradera", message=message)
    listing.issues = [*listing.issues, {"code": code, "message": message[:500]}]


def _drop_issue(listing: TraderaListing, code: str) -> None:
    listing.issues = [i for i in listing.issues if i["code"] != code]
