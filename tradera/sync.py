"""The sync: what happened on Tradera since the last pass, for one seller account at a
time, in two calls whatever the number of listings and of changes.

A pass reads one window of time, from OVERLAP before the end of the last completed pass
(the first: FIRST_WINDOW before the account was made) to now, with two seller-level calls:

- GetSellerOrders: the orders Tradera made in the window. Each line names one of our
  auctions: it sold (the listing and the item become `sold`; item.sold).
- GetSellerItems (ended auctions, by end date): the auctions that ended in the window,
  each with Tradera's Status. One of ours that is still `active` once the orders are
  applied (no order names it)
    - with no winner (Status.GotWinner false) ended unsold: `ended`, listing.ended;
    - with a winner sold, and Tradera has not made its order yet. It stays `active`, its
      end noted (`ended_at`), and no listing.ended is sent. Later passes read orders from
      the earliest such end onwards, so the order is found whenever Tradera makes it and
      however it dates it. Should none come within ORDER_WAIT, the sale fell through: the
      auction ended unsold after all (listing.ended).

So item.sold is never lost, and listing.ended is never sent for an auction Tradera says
was won. Were Tradera to make an order for an auction it said had no winner, the sale is
still recorded (from `ended` too) and item.sold follows listing.ended.

Every change is a conditional update of the listing, so a window read twice (the overlap)
or a pass interrupted and run again records nothing twice; the account's place moves
only when a pass completes.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from items import lifecycle
from items.models import Item, SalePlatform
from rheo import celery
from tradera import relisting
from tradera.client import AuctionState, Seller, SellerOrder, TraderaError, for_mode
from tradera.models import TraderaAccount, TraderaListing, ad_url
from webhooks import services as webhooks

logger = logging.getLogger(__name__)

SYNC_TASK = "tradera.sync_account"
# Each window starts a little before the last one ended: Tradera's clock and ours may
# differ, and an order or an end read twice is recorded once.
OVERLAP = timedelta(hours=1)
FIRST_WINDOW = timedelta(days=30)
# Ends are asked for up to this far ahead: an auction that ended early (bought now, or
# ended by its seller on Tradera) may keep its planned end date, at most 14 days on.
LONGEST_AUCTION = timedelta(days=15)
ORDER_WAIT = timedelta(hours=24)


@dataclass(frozen=True)
class SyncResult:
    sales: int
    unsold: int


def sync_all_accounts() -> int:
    """Beat's pass: one sync job per account that has a listing to watch."""
    accounts = (
        TraderaAccount.objects.filter(
            partner__items__tradera_listing__status__in=[
                TraderaListing.Status.ACTIVE,
                TraderaListing.Status.ENDED,
            ]
        )
        .distinct()
        .values_list("pk", flat=True)
    )
    for account_id in accounts:
        celery.nudge(SYNC_TASK, account_id)
    return len(accounts)


def request_sync(*, account: TraderaAccount) -> None:
    """A pass for the account now, besides beat's (staff's Sync now). Passes record
    every change conditionally, so one running beside another records nothing twice."""
    celery.nudge_on_commit(SYNC_TASK, account.pk)


def sync_account(*, account_id: int) -> SyncResult | None:
    """One pass for one account; None when Tradera would not answer it."""
    account = TraderaAccount.objects.select_related("partner").get(pk=account_id)
    client = for_mode(account.livemode).charged_to("sync")
    seller = Seller(user_id=account.user_id, token=account.token)
    now = timezone.now()
    since = (account.synced_until or account.created_at - FIRST_WINDOW) - OVERLAP
    waiting_since = _awaiting_order(account).aggregate(first=Min("ended_at"))["first"]
    try:
        # The wire carries whole seconds: ask a little past now, not to now cut short.
        orders = client.get_seller_orders(
            seller, min(since, waiting_since or since), now + timedelta(minutes=1)
        )
        ended = client.get_seller_items(seller, since, now + LONGEST_AUCTION)
    except TraderaError as exc:
        # Recorded on the account (staff see it) and tried again at the next pass, from
        # the same place; the other accounts' jobs are not affected.
        TraderaAccount.objects.filter(pk=account.pk).update(last_sync_error=exc.message[:500])
        logger.warning("tradera sync of account %s failed: %s", account.pk, exc)
        return None
    sales = _record_sales(account, orders)
    unsold = _record_ends(account, ended)
    for listing in _awaiting_order(account).filter(ended_at__lt=now - ORDER_WAIT):
        unsold += _record_unsold_end(listing, ended_at=listing.ended_at)
    TraderaAccount.objects.filter(pk=account.pk).update(
        synced_until=now, last_synced_at=now, last_sync_error=""
    )
    return SyncResult(sales=sales, unsold=unsold)


def last_checked(listing: TraderaListing):
    """When the sync last read this listing's state from Tradera, or None: the start of
    the last completed pass of its seller account, once the auction was on Tradera (a
    pass reads every sale and end of the account up to its start, so the listing's
    state is Tradera's as of then). No per-listing write: a pass that changes nothing
    writes nothing."""
    item = listing.item
    synced_at = (
        TraderaAccount.objects.filter(partner_id=item.partner_id, livemode=item.livemode)
        .values_list("last_synced_at", flat=True)
        .first()
    )
    if synced_at is None or listing.published_at is None or synced_at < listing.published_at:
        return None
    return synced_at


def _listings(account: TraderaAccount):
    return TraderaListing.objects.filter(
        item__partner=account.partner, item__livemode=account.livemode
    ).select_related("item__partner")


def _awaiting_order(account: TraderaAccount):
    """Auctions Tradera says were won, whose order has not come yet."""
    return _listings(account).filter(status=TraderaListing.Status.ACTIVE, ended_at__isnull=False)


def _record_sales(account: TraderaAccount, orders: list[SellerOrder]) -> int:
    lines = [(order, line) for order in orders for line in order.lines]
    not_sold = _listings(account).filter(
        status__in=[TraderaListing.Status.ACTIVE, TraderaListing.Status.ENDED],
        tradera_item_id__in={line.item_id for _order, line in lines},
    )
    by_item = {listing.tradera_item_id: listing for listing in not_sold}
    return sum(
        _record_sale(by_item[line.item_id], order, line)
        for order, line in lines
        if line.item_id in by_item
    )


def _record_sale(listing: TraderaListing, order, line) -> int:
    """The order line's item is sold: once, whatever number of passes read it."""
    price = Decimal(str(line.unit_price))
    with transaction.atomic():
        # The item first, then its listing: the order every job that locks both takes.
        item = Item.objects.select_for_update(no_key=True).get(pk=listing.item_id)
        changed = TraderaListing.objects.filter(
            pk=listing.pk,
            status__in=[TraderaListing.Status.ACTIVE, TraderaListing.Status.ENDED],
        ).update(
            status=TraderaListing.Status.SOLD,
            sale_price=price,
            sold_at=order.created_at,
            tradera_order_id=order.order_id,
            buyer_alias=(order.buyer.alias if order.buyer else "")[:100],
        )
        if not changed:
            return 0
        if item.status != Item.Status.SOLD and item.can_transition_to(Item.Status.SOLD):
            lifecycle.mark_item_sold(
                item=item, platform=SalePlatform.TRADERA, price=price, sold_at=order.created_at
            )
        ad_id = str(listing.tradera_item_id)
        webhooks.emit(
            item.partner,
            "item.sold",
            item,
            sale_price=price,
            tradera_ad_id=ad_id,
            tradera_ad_url=ad_url(ad_id, livemode=item.livemode),
        )
    return 1


def _record_ends(account: TraderaAccount, ended: list[AuctionState]) -> int:
    """Ended auctions that are still running in Rheo (no order has named them): unsold,
    or won and waiting for their order."""
    by_item = {auction.item_id: auction for auction in ended}
    running = _listings(account).filter(
        status=TraderaListing.Status.ACTIVE, tradera_item_id__in=set(by_item)
    )
    unsold = 0
    for listing in running:
        auction = by_item[listing.tradera_item_id]
        ended_at = auction.end_date or timezone.now()
        if not auction.got_winner:
            unsold += _record_unsold_end(listing, ended_at=ended_at)
        elif listing.ended_at is None:
            TraderaListing.objects.filter(pk=listing.pk, ended_at__isnull=True).update(
                ended_at=ended_at
            )
    return unsold


def _record_unsold_end(listing: TraderaListing, *, ended_at) -> int:
    """The auction ended unsold: listing.ended, then the relist its rules ask for
    (tradera.relisting), in one transaction: an end is never recorded without its relist."""
    with transaction.atomic():
        # The item first, then its listing: the order every job that locks both takes.
        item = Item.objects.select_for_update(no_key=True).get(pk=listing.item_id)
        changed = TraderaListing.objects.filter(
            pk=listing.pk, status=TraderaListing.Status.ACTIVE
        ).update(status=TraderaListing.Status.ENDED, ended_at=ended_at)
        if not changed:
            return 0
        listing.refresh_from_db()
        ad_id = str(listing.tradera_item_id)
        webhooks.emit(
            item.partner,
            "listing.ended",
            item,
            tradera_ad_id=ad_id,
            tradera_ad_url=ad_url(ad_id, livemode=item.livemode),
            relist_count=listing.relist_count,
            previous_tradera_ad_id=listing.previous_tradera_item_id,
        )
        relisting.after_unsold_end(item, listing, ended_at=ended_at)
    return 1
