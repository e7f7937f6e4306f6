"""The sync: what happened on Tradera since the last pass, for one seller account at a
time, in calls that do not grow with the number of listings.

One pass: the account's orders in the window since the last pass (one GetSellerOrders:
each line names our item in OwnReferences) → sales; the items changed since the highest
row version seen (one GetUpdatedSellerItems) → for those of ours still running, a GetItem
to tell an unsold end. Every change is a conditional update of the listing, so a pass
that is interrupted and run again records nothing twice; the account's place is saved
only when the pass completes.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from items import services as items
from items.models import Item, SalePlatform
from rheo.celery import app as celery_app
from rheo.celery import send_on_commit
from rheo.errors import ServiceError
from tradera.client import Seller, TraderaError, for_mode
from tradera.models import AD_URL, TraderaAccount, TraderaListing
from webhooks import services as webhooks

logger = logging.getLogger(__name__)

SYNC_TASK = "tradera.sync_account"
# Orders are read from a little before the last window's end: Tradera's clock and ours
# may differ, and a sale read twice is recorded once.
ORDER_OVERLAP = timedelta(hours=1)
FIRST_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class SyncResult:
    sales: int
    unsold: int
    calls: int


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
        celery_app.send_task(SYNC_TASK, args=[account_id])
    return len(accounts)


def request_sync(*, account: TraderaAccount) -> None:
    """A pass for the account now, besides beat's (staff's Sync now). Passes record
    every change conditionally, so one running beside another records nothing twice."""
    send_on_commit(SYNC_TASK, account.pk)


def sync_account(*, account_id: int) -> SyncResult | None:
    """One pass for one account; None when Tradera would not answer it."""
    account = TraderaAccount.objects.select_related("partner").get(pk=account_id)
    client = for_mode(account.livemode).charged_to("sync")
    seller = Seller(user_id=account.user_id, token=account.token)
    now = timezone.now()
    since = (account.orders_synced_until or account.created_at - FIRST_WINDOW) - ORDER_OVERLAP
    calls = 0
    try:
        # The wire carries whole seconds: ask a little past now, not to now cut short.
        orders = client.get_seller_orders(seller, since, now + timedelta(minutes=1))
        updated = client.get_updated_seller_items(seller, account.last_row_version)
        calls += 2
        sales = 0
        for order in orders:
            for line in order.lines:
                sales += _record_sale(account, order, line)
        unsold = 0
        watched = _listings(account).filter(
            status=TraderaListing.Status.ACTIVE,
            tradera_item_id__in=[u.item_id for u in updated],
        )
        for listing in watched:
            state = client.get_item(listing.tradera_item_id)
            calls += 1
            if state is not None and state.ended and not state.got_winner:
                unsold += _record_unsold_end(listing)
    except TraderaError as exc:
        # Recorded on the account (staff see it) and tried again at the next pass, from
        # the same place; the other accounts' jobs are not affected.
        TraderaAccount.objects.filter(pk=account.pk).update(last_sync_error=exc.message[:500])
        logger.warning("tradera sync of account %s failed: %s", account.pk, exc)
        return None
    TraderaAccount.objects.filter(pk=account.pk).update(
        last_row_version=max([account.last_row_version, *(u.row_version for u in updated)]),
        orders_synced_until=now,
        last_synced_at=now,
        last_sync_error="",
    )
    return SyncResult(sales=sales, unsold=unsold, calls=calls)


def _listings(account: TraderaAccount):
    return TraderaListing.objects.filter(
        item__partner=account.partner, item__livemode=account.livemode
    ).select_related("item__partner")


def _record_sale(account, order, line) -> int:
    """The order line's item is sold: once, whatever number of passes read it."""
    listing = _listings(account).filter(tradera_item_id=line.item_id).first()
    if listing is None:
        return 0
    price = Decimal(str(line.unit_price))
    with transaction.atomic():
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
        item = Item.objects.select_for_update().get(pk=listing.item_id)
        if item.status != Item.Status.SOLD and item.can_transition_to(Item.Status.SOLD):
            items.mark_item_sold(
                item=item, platform=SalePlatform.TRADERA, price=price, sold_at=order.created_at
            )
        ad_id = str(listing.tradera_item_id)
        webhooks.emit(
            item.partner,
            "item.sold",
            item,
            sale_price=price,
            tradera_ad_id=ad_id,
            tradera_ad_url=AD_URL.format(ad_id=ad_id),
        )
    return 1


def _record_unsold_end(listing: TraderaListing) -> int:
    with transaction.atomic():
        changed = TraderaListing.objects.filter(
            pk=listing.pk, status=TraderaListing.Status.ACTIVE
        ).update(status=TraderaListing.Status.ENDED)
        if not changed:
            return 0
        ad_id = str(listing.tradera_item_id)
        webhooks.emit(
            listing.item.partner,
            "listing.ended",
            listing.item,
            tradera_ad_id=ad_id,
            tradera_ad_url=AD_URL.format(ad_id=ad_id),
        )
    return 1


def simulate(*, item: Item, event: str, sale_price=None, error_code: str = "") -> None:
    """Test mode: make the sandbox sell or end the item's auction (then sync the account
    at once, so the webhook follows within seconds), or fail its listing."""
    listing = TraderaListing.objects.filter(item=item, status=TraderaListing.Status.ACTIVE).first()
    if listing is None:
        raise ServiceError(
            "conflict", f"Item {item.external_id} has no running Tradera auction to simulate on."
        )
    if event == "failed":
        code = error_code or "tradera_refused"
        with transaction.atomic():
            if TraderaListing.objects.filter(
                pk=listing.pk, status=TraderaListing.Status.ACTIVE
            ).update(status=TraderaListing.Status.SYNC_ERROR, error_code=code):
                webhooks.emit(
                    item.partner,
                    "listing.failed",
                    item,
                    error={"code": code, "message": "Simulated failure (test mode)."},
                )
        return
    client = for_mode(False)
    if event == "sold":
        price = int(sale_price) if sale_price is not None else int(item.price)
        client.sandbox_sell(listing.tradera_item_id, price)
    else:
        client.sandbox_end(listing.tradera_item_id)
    account = TraderaAccount.objects.get(partner=item.partner, livemode=False)
    send_on_commit(SYNC_TASK, account.pk)
