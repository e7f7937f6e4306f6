"""Test mode's simulate endpoint: the sandbox sells or ends an item's auction (then the
account is synced at once, so the real webhook follows within seconds), or its listing
fails."""

from decimal import Decimal

from django.db import transaction

from items.models import Item
from rheo.errors import ServiceError
from tradera import sync
from tradera.client import TraderaError, errors, for_mode
from tradera.models import TraderaAccount, TraderaListing
from webhooks import services as webhooks


def simulate_event(
    *, item: Item, event: str, sale_price: Decimal | None = None, error_code: str = ""
) -> None:
    """`event`: sold (at `sale_price`, default the item's price), ended (unsold) or failed
    (with `error_code`, default tradera_refused). Only a test item's running sandbox
    auction; conflict otherwise."""
    if item.livemode:
        raise ServiceError("forbidden", "Simulation is for test keys (rheo_test_…) only.")
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
    assert listing.tradera_item_id is not None  # an active listing's auction exists
    client = for_mode(False)
    try:
        if event == "sold":
            price = int(sale_price) if sale_price is not None else int(item.price)
            client.sandbox_sell(listing.tradera_item_id, price)
        else:
            client.sandbox_end(listing.tradera_item_id)
    except TraderaError as exc:
        if exc.code != errors.REFUSED:
            raise ServiceError(
                "service_unavailable", f"The Tradera sandbox did not answer: {exc.message}"
            ) from exc
        # The auction has ended (a simulation before this one) but no sync has told
        # the listing yet.
        raise ServiceError(
            "conflict",
            f"Item {item.external_id}'s sandbox auction has already ended; the listing "
            f"follows within seconds. ({exc})",
        ) from exc
    sync.request_sync(account=TraderaAccount.objects.get(partner=item.partner, livemode=False))
