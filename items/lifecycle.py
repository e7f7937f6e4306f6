"""An item's lifecycle: its transitions, its timeline, a sale with what the sale cancels,
and the mark that tells its sales channels (Tradera) to follow a change.

Everything here works inside the caller's transaction, on an item row the caller holds
locked (select_for_update), and imports only models: items.services, the image pipeline
and the marketplace's orders all build on it.

Following a change is a hand-off written with the change: `channels_due_at` is set in the
same UPDATE, so a crash after the commit loses nothing. Once the transaction commits,
`signals.channels_due` is sent as a nudge only; a channel's sweeper finds the due items
should the nudge be lost.
"""

from datetime import datetime
from decimal import Decimal
from functools import partial

from django.db import transaction
from django.utils import timezone

from items import emails, guidance, signals
from items.models import Item, ItemActivity, Order, SalePlatform
from rheo.errors import ServiceError
from rheo.formatting import sek

# What follow_on_channels changes on the item, for its caller to save.
CHANNEL_FIELDS = ["channels_due_at", "channels_nudged_at"]
# What a transition changes on the item: saved by transition_item, or by its caller with
# its own changes (save=False).
TRANSITION_FIELDS = ["status", "status_changed_at", *CHANNEL_FIELDS, "updated_at"]


def record_activity(*, item: Item, kind: str, message: str, at: datetime | None = None) -> None:
    """A line on the item's timeline (the dashboard's item page)."""
    ItemActivity.objects.create(
        item=item, kind=kind, message=message[:500], at=at or timezone.now()
    )


def transition_item(*, item: Item, status: str, save: bool = True) -> None:
    """Move the locked item along its lifecycle, or refuse with conflict. With save=False
    the caller saves TRANSITION_FIELDS with its own changes before it commits (one UPDATE,
    not two)."""
    if not item.can_transition_to(status):
        raise ServiceError(
            "conflict", f"Item {item.external_id} cannot go from {item.status} to {status}."
        )
    record_activity(item=item, kind="status", message=f"Status {item.status} → {status}")
    item.status = status
    item.status_changed_at = timezone.now()
    follow_on_channels(item)
    if save:
        item.save(update_fields=TRANSITION_FIELDS)


def follow_on_channels(item: Item) -> None:
    """The item changed in a way its sales channels must follow (its status, price or
    deletion): marks it due (the caller saves CHANNEL_FIELDS in its transaction) and
    nudges the channels once that commits."""
    item.channels_due_at = item.channels_nudged_at = timezone.now()
    transaction.on_commit(
        partial(signals.channels_due.send_robust, sender=Item, item_id=item.pk), robust=True
    )


def mark_item_sold(
    *, item: Item, platform: SalePlatform | str, price: Decimal, sold_at: datetime | None = None
) -> None:
    """A sale on a platform (a Tradera order, a completed Rheo order): the locked item is
    sold, with the sale recorded on it for analytics and the timeline; its channels follow
    (a running auction elsewhere ends). A Rheo order still in progress for it then cannot
    be honoured and is cancelled."""
    transition_item(item=item, status=Item.Status.SOLD, save=False)
    item.sold_at = sold_at or timezone.now()
    item.sold_platform = platform
    item.sale_price = price
    item.save(update_fields=[*TRANSITION_FIELDS, "sold_at", "sold_platform", "sale_price"])
    guidance.queue_update(item)  # the sale's price guidance, recomputed after commit
    record_activity(
        item=item,
        kind="sold",
        message=f"Sold on {item.get_sold_platform_display()} for {sek(price)}",
    )
    if platform != SalePlatform.RHEO:
        in_progress = Order.objects.filter(item=item, status__in=Order.IN_PROGRESS)
        for order in in_progress.select_for_update():
            cancel_order(item, order, Order.CancelReason.SOLD_ELSEWHERE)


def cancel_order(item: Item, order: Order, reason: str, after: str = "") -> None:
    """Cancel the locked order, with a line on the timeline saying what became of the
    item (`after`, else its status), and tell the buyer once that commits."""
    move_order(order, Order.Status.CANCELLED, cancel_reason=reason)
    if not after:
        after = (
            "the part is listed again."
            if item.status == Item.Status.ACTIVE
            else f"the item stays {item.status}."
        )
    record_activity(
        item=item,
        kind="order",
        message=f"Order {order.reference} cancelled "
        f"({order.get_cancel_reason_display().lower()}); {after}",
    )
    emails.email_buyer_on_commit(order, "cancelled")


ORDER_STAMPS: dict[str, str] = {
    Order.Status.PAID: "paid_at",
    Order.Status.SHIPPED: "shipped_at",
    Order.Status.COMPLETED: "completed_at",
    Order.Status.CANCELLED: "cancelled_at",
}


def move_order(order: Order, status: str, **fields: object) -> None:
    """Move a locked order along its lifecycle (stamping when), or refuse with conflict."""
    if not order.can_transition_to(status):
        raise ServiceError("conflict", f"An order that is {order.status} cannot become {status}.")
    order.status = status
    fields[ORDER_STAMPS[status]] = timezone.now()
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=["status", *fields, "updated_at"])
