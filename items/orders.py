"""Orders in the Rheo marketplace: a buyer places one, staff move it along (paid → shipped
→ completed) or cancel it. They build on the item's lifecycle (items.lifecycle) and on
items.services for a deletion that waited for an order.

An order in progress reserves its item: one at a time per item, made safe against
concurrent buyers by the item's row lock and, beneath it, a partial unique constraint.
The reservation leaves the item `active` and its Tradera auction running (a buyer pays
nothing to place an order, so it must not be able to take an auction down);
completion sells the item (platform rheo), which ends the auction, and sends `item.sold`.
Each step writes a line on the item's timeline; the buyer is emailed when the order is
placed, paid, shipped or cancelled.

Locks are taken item first, then order, as the Tradera sync's sale does.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from items import lifecycle, selectors, services
from items.emails import email_buyer_on_commit
from items.models import Item, Order, SalePlatform
from rheo.errors import ServiceError
from rheo.formatting import sek
from webhooks import services as webhooks


@dataclass(frozen=True)
class Buyer:
    """Who ordered, and where the part goes (Sweden only)."""

    name: str
    email: str
    address_line1: str
    postal_code: str
    city: str
    phone: str = ""
    address_line2: str = ""


def place_order(*, item_id, buyer: Buyer, seen_total: Decimal | None = None) -> Order:
    """A buyer orders a listed item; the order reserves it. Refused with not_found when
    the item is not for sale (any more), conflict when another order has it reserved, or
    (with `fields["total"]`) when the price with shipping is no longer the `seen_total`
    the buyer agreed to. The order keeps the title, price and shipping cost of now."""
    with transaction.atomic():
        item = selectors.listed_items().select_for_update(of=("self",)).filter(pk=item_id).first()
        if item is None:
            raise ServiceError("not_found", "This part is not for sale.")
        if _in_progress(item).exists():
            raise _reserved()
        if seen_total is not None and seen_total != item.price + item.shipping_cost:
            message = f"The price with shipping is now {item.price + item.shipping_cost} SEK."
            raise ServiceError("conflict", message, fields={"total": [message]})
        order = _create_order(item, buyer)
        lifecycle.record_activity(
            item=item,
            kind="order",
            message=f"Order {order.reference} placed in the Rheo marketplace "
            f"({sek(order.total)} with shipping); the part is reserved.",
        )
        email_buyer_on_commit(order, "placed")
    return order


def _create_order(item: Item, buyer: Buyer) -> Order:
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return Order.objects.create(
                    item=item,
                    item_title=item.display_title,
                    price=item.price,
                    shipping_cost=item.shipping_cost,
                    currency=item.currency,
                    buyer_name=buyer.name,
                    buyer_email=buyer.email,
                    buyer_phone=buyer.phone,
                    address_line1=buyer.address_line1,
                    address_line2=buyer.address_line2,
                    postal_code=buyer.postal_code,
                    city=buyer.city,
                )
        except IntegrityError:
            # The one order in progress per item (should the lock not have held), or,
            # rarely, a reference already taken: then a new one is drawn.
            if _in_progress(item).exists():
                raise _reserved() from None
    raise ServiceError("internal_error", "Could not give the order a unique reference.")


def _reserved() -> ServiceError:
    return ServiceError("conflict", "This part is reserved by another order.")


def _in_progress(item: Item):
    return Order.objects.filter(item=item, status__in=Order.IN_PROGRESS)


# --- Staff's moves (Django admin) -------------------------------------------------------


def mark_order_paid(*, order_id) -> Order:
    with transaction.atomic():
        item, order = _lock(order_id)
        lifecycle.move_order(order, Order.Status.PAID)
        lifecycle.record_activity(item=item, kind="order", message=f"Order {order.reference} paid.")
        email_buyer_on_commit(order, "paid")
    return order


def mark_order_shipped(*, order_id) -> Order:
    with transaction.atomic():
        item, order = _lock(order_id)
        lifecycle.move_order(order, Order.Status.SHIPPED)
        lifecycle.record_activity(
            item=item, kind="order", message=f"Order {order.reference} shipped to the buyer."
        )
        email_buyer_on_commit(order, "shipped")
    return order


def complete_order(*, order_id) -> Order:
    """The buyer has the part: the item is sold in the Rheo marketplace (also when the
    partner deleted it meanwhile and it waits archived), its Tradera auction is ended, and
    the partner gets item.sold with platform rheo."""
    with transaction.atomic():
        item, order = _lock(order_id)
        lifecycle.move_order(order, Order.Status.COMPLETED)
        lifecycle.record_activity(
            item=item, kind="order", message=f"Order {order.reference} completed."
        )
        lifecycle.mark_item_sold(item=item, platform=SalePlatform.RHEO, price=order.price)
        # The item's Tradera auction, if one went live: the partner knows which one Rheo
        # now ends.
        listing = getattr(item, "tradera_listing", None)
        ad_url = listing.ad_url if listing else None
        webhooks.emit(
            item.partner,
            "item.sold",
            item,
            platform=SalePlatform.RHEO.value,
            sale_price=order.price,
            tradera_ad_id=listing.ad_id if listing and ad_url else None,
            tradera_ad_url=ad_url,
        )
    return order


def cancel_order(*, order_id, reason: str = Order.CancelReason.STAFF) -> Order:
    """Cancel an order in progress; the item is released and listed again, unless the
    partner deleted it meanwhile (it waits archived): then it is deleted now."""
    with transaction.atomic():
        item, order = _lock(order_id)
        _cancel(item, order, reason)
    return order


def _cancel(item: Item, order: Order, reason: str) -> None:
    if item.status != Item.Status.ARCHIVED:
        lifecycle.cancel_order(item, order, reason)
        return
    # The partner deleted the item while the order held it: once the order is cancelled,
    # the deletion goes ahead.
    after = "the partner had deleted the item meanwhile, so it is deleted now."
    lifecycle.cancel_order(item, order, reason, after=after)
    services.delete_item(partner=item.partner, livemode=item.livemode, external_id=item.external_id)


def _lock(order_id) -> tuple[Item, Order]:
    item_id = Order.objects.filter(pk=order_id).values_list("item_id", flat=True).first()
    if item_id is None:
        raise ServiceError("not_found", f"No order {order_id}.")
    item = Item.objects.select_related("partner").select_for_update(of=("self",)).get(pk=item_id)
    return item, Order.objects.select_for_update().get(pk=order_id)


# --- Unpaid orders --------------------------------------------------------------------


def expire_unpaid_orders(*, limit: int = 500) -> int:
    """Beat's pass: pending orders older than RHEO_ORDER_PAYMENT_DAYS are cancelled, so
    an order never paid does not hold its part away from other buyers for ever."""
    cutoff = timezone.now() - timedelta(days=settings.RHEO_ORDER_PAYMENT_DAYS)
    stale = Order.objects.filter(status=Order.Status.PENDING, created_at__lt=cutoff).order_by(
        "created_at"
    )
    expired = 0
    for order_id in stale.values_list("pk", flat=True)[:limit]:
        try:
            cancel_order(order_id=order_id, reason=Order.CancelReason.NOT_PAID)
        except ServiceError:  # paid or cancelled meanwhile
            continue
        expired += 1
    return expired
