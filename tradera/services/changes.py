"""Changes to a running auction: a new opening price, or an end, when the item changes in
Rheo (tradera.services.follow) or staff end it. Tradera refuses both once the auction has
bids; that is shown to the partner as an issue, not retried.

A change wanted is written on the listing (`wanted_price`, `end_wanted`) with its job made
due, in the transaction that asks for it; `apply_changes` sends it once and clears it, so
an end is sent once and a price set once however many nudges arrive.
"""

import math
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from items import lifecycle
from rheo.errors import ServiceError
from rheo.formatting import sek
from tradera.client import TraderaError, for_mode
from tradera.models import TraderaListing
from tradera.services import jobs
from tradera.services.jobs import NotPublishable

# A listing that runs, or is being published and may still run.
RUNNING = (TraderaListing.Status.ACTIVE, TraderaListing.Status.PENDING_SYNC)
PRICE_LOCKED = "tradera_price_locked_by_bids"
END_REFUSED = "tradera_end_refused_has_bids"


def want_changes(listing: TraderaListing, **wanted: object) -> None:
    """Ask the listing's auction for `end_wanted=True` or `wanted_price=…`, inside the
    caller's transaction (which holds the listing locked). A running auction's changes are
    due at once; one still being published takes them when it goes live, or is called off
    before it does (tradera.services.publishing)."""
    now = timezone.now()
    jobs.save_fields(listing, next_attempt_at=now, nudged_at=now, **wanted)
    jobs.nudge_on_commit(listing)


def end_listing(*, listing: TraderaListing) -> bool:
    """Staff end the auction; the item stays in Rheo's marketplace. The same path as an
    item leaving the marketplace, so an auction with bids, which Tradera will not end, runs
    on and shows as an issue rather than failing. False when an end is already on its way;
    refused when no auction is running or being published."""
    with transaction.atomic():
        jobs.lock_item(listing.item_id)
        listing = (
            TraderaListing.objects.select_for_update().select_related("item").get(pk=listing.pk)
        )
        if listing.status not in RUNNING:
            raise ServiceError("conflict", f"The listing is {listing.status}; no auction runs.")
        if listing.end_wanted:
            return False
        want_changes(listing, end_wanted=True)
        lifecycle.record_activity(
            item=listing.item, kind="tradera", message="Tradera auction ended by Rheo"
        )
    return True


def apply_changes(*, listing_id: int) -> None:
    """Bring the running auction in line with what is wanted of it, if that is due and no
    other worker holds the listing. Tradera refuses both changes once the auction has bids;
    that is recorded as an issue the partner sees, not retried. Transient failures are
    tried again later (jobs.backoff), for as long as it takes."""
    now = timezone.now()
    claimed = TraderaListing.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        pk=listing_id,
        status=TraderaListing.Status.ACTIVE,
        next_attempt_at__lte=now,
    ).update(locked_until=now + jobs.lease())
    if not claimed:
        return
    listing = TraderaListing.objects.select_related("item__partner").get(pk=listing_id)
    # What this run sends, as it was read: a change asked for meanwhile is not cleared.
    sent = Sent(end=listing.end_wanted, price=None if listing.end_wanted else listing.wanted_price)
    try:
        _apply(listing, sent)
    except (TraderaError, NotPublishable) as exc:
        if isinstance(exc, TraderaError) and not exc.permanent:
            attempts = listing.attempts + 1
            jobs.due_in(listing, jobs.backoff(attempts), attempts=attempts)
            return
        _add_issue(listing, f"tradera_{getattr(exc, 'code', 'error')}", exc.message)
    except Exception:
        jobs.due_in(listing, jobs.backoff(listing.attempts + 1))
        raise
    _settle(listing, sent)


@dataclass(frozen=True)
class Sent:
    end: bool
    price: Decimal | None


def _apply(listing: TraderaListing, sent: Sent) -> None:
    """Send the end or the price, recording the outcome on the listing (status, issues,
    listed_price) for _settle to save."""
    assert listing.tradera_item_id is not None  # an active listing's auction exists
    item = listing.item
    client = for_mode(item.livemode)
    seller = jobs.seller_for(item)
    if sent.end:
        jobs.renew_lease(listing)
        if client.end_item(seller, listing.tradera_item_id):
            listing.status = TraderaListing.Status.ENDED
            _drop_issue(listing, END_REFUSED)
            lifecycle.record_activity(item=item, kind="tradera", message="Tradera auction ended")
        else:
            _add_issue(
                listing,
                END_REFUSED,
                "The Tradera auction has bids and cannot be ended; it runs to its end, "
                "and a sale there is still reported with item.sold.",
            )
    elif sent.price is not None:
        price = math.ceil(sent.price)
        jobs.renew_lease(listing)
        change = client.set_prices(seller, listing.tradera_item_id, price)
        if change.ok:
            listing.listed_price = price
            _drop_issue(listing, PRICE_LOCKED)
            lifecycle.record_activity(
                item=item, kind="tradera", message=f"Tradera price set to {sek(price)}"
            )
        else:
            _add_issue(
                listing,
                PRICE_LOCKED,
                "The Tradera auction has bids, so its price cannot change: "
                + "; ".join(change.errors),
            )


def _settle(listing: TraderaListing, sent: Sent) -> None:
    """Save the outcome and clear what was sent, keeping a change asked for while it was
    being sent (it is due at once)."""
    with transaction.atomic():
        jobs.lock_item(listing.item_id)
        now_wanted = (
            TraderaListing.objects.select_for_update()
            .values("end_wanted", "wanted_price")
            .get(pk=listing.pk)
        )
        ended = listing.status == TraderaListing.Status.ENDED
        end_wanted = now_wanted["end_wanted"] and not sent.end and not ended
        wanted_price = now_wanted["wanted_price"]
        if ended or sent.end or wanted_price == sent.price:
            wanted_price = None
        still_due = end_wanted or wanted_price is not None
        jobs.save_fields(
            listing,
            status=listing.status,
            end_wanted=end_wanted,
            wanted_price=wanted_price,
            listed_price=listing.listed_price,
            issues=listing.issues,
            attempts=0,
            next_attempt_at=timezone.now() if still_due else None,
            locked_until=None,
        )
        if still_due:
            jobs.nudge_on_commit(listing)


def _add_issue(listing: TraderaListing, code: str, message: str) -> None:
    _drop_issue(listing, code)
    lifecycle.record_activity(item=listing.item, kind="tradera", message=message)
    listing.issues = [*listing.issues, {"code": code, "message": message[:500]}]


def _drop_issue(listing: TraderaListing, code: str) -> None:
    listing.issues = [i for i in listing.issues if i["code"] != code]
