"""Relisting a Tradera auction that ended unsold, each time at a lower price, down to a floor.

Tradera cannot change a running auction's title or lower it once bid on, and its own
`Restarts` relist at the same price; so Rheo relists itself. When the sync records an
unsold end (tradera.sync), `after_unsold_end` runs in the same transaction, the item
locked, and applies the partner's rules (RelistRules) as the item's `relist` object
overrides them:

- the next price is the current one less the step (a percentage of the schedule's first
  price, or an amount), in whole kronor, never below the floor (an absolute price, or a
  percentage of the schedule's first price);
- a relist is made only while the item is on sale, relisting is enabled, and fewer than
  `maxRelists` relists were made since the partner last set the price;
- at the floor, with `marketplaceOnlyAtFloor`, relisting stops and the item stays on Rheo's
  own marketplace; without it, the item is relisted at the floor until `maxRelists`.

A relist sets the item's price, notes the step on the timeline, and moves the item's one
listing row on to a new auction: back to pending_sync with the publish flow's state reset,
due after `waitHours`. The queued publish (tradera.services.publishing) then makes the
auction with its guarantees, and its calls are paid from the shared budget like any
publish. As the row is the item's only listing (one per item, a database constraint), an
item never has two auctions: the new one is made only once the old one has ended, and a
publish resumed after a crash never makes a second (see publishing).
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from items import lifecycle
from items.models import Item
from partners import backlog
from rheo.formatting import sek
from tradera.models import RelistRules, TraderaListing
from tradera.services.publishing import PUBLISHES

# The rules' names as the APIs spell them, and their defaults for a partner that set none.
DEFAULTS = {
    "enabled": False,
    "maxRelists": 2,
    "stepPercent": Decimal(10),
    "stepAmount": None,
    "floorPrice": None,
    "floorPercent": Decimal(50),
    "waitHours": 0,
    "marketplaceOnlyAtFloor": True,
}
FIELDS = {
    "enabled": "enabled",
    "maxRelists": "max_relists",
    "stepPercent": "step_percent",
    "stepAmount": "step_amount",
    "floorPrice": "floor_price",
    "floorPercent": "floor_percent",
    "waitHours": "wait_hours",
    "marketplaceOnlyAtFloor": "marketplace_only_at_floor",
}


def partner_rules(partner_id) -> dict:
    """The partner's rules (DEFAULTS where it set none), by the APIs' names."""
    row = RelistRules.objects.filter(partner_id=partner_id).first()
    if row is None:
        return dict(DEFAULTS)
    return {name: getattr(row, field) for name, field in FIELDS.items()}


def save_partner_rules(partner, rules: dict) -> dict:
    """Replace the partner's rules with `rules` (validated; missing names: DEFAULTS)."""
    values = {**DEFAULTS, **rules}
    RelistRules.objects.update_or_create(
        partner=partner, defaults={field: values[name] for name, field in FIELDS.items()}
    )
    return partner_rules(partner.pk)


def rules_for(item: Item, partner: dict | None = None) -> dict:
    """The partner's rules with the item's override on top. The step is one setting given
    as a percentage or an amount, and so is the floor: an override's one replaces the
    partner's other."""
    rules = dict(partner) if partner is not None else partner_rules(item.partner_id)
    override = item.relist or {}
    if "stepPercent" in override or "stepAmount" in override:
        rules["stepPercent"] = rules["stepAmount"] = None
    if "floorPercent" in override or "floorPrice" in override:
        rules["floorPercent"] = rules["floorPrice"] = None
    for name, value in override.items():
        if name in FIELDS:
            rules[name] = Decimal(str(value)) if isinstance(value, float) else value
    return rules


@dataclass(frozen=True)
class Step:
    """What an unsold end leads to: a relist at `price`, or none and why."""

    price: int | None
    reason: str = ""
    base: Decimal | None = None
    floor: int = 1


def next_step(item: Item, rules: dict | None = None) -> Step:
    """The relist an unsold end of the item's auction would make now."""
    rules = rules if rules is not None else rules_for(item)
    if not rules["enabled"]:
        return Step(None, "relisting is off")
    if item.status != Item.Status.ACTIVE or item.deleted_at is not None:
        return Step(None, "the item is not for sale")
    if item.relist_steps >= rules["maxRelists"]:
        return Step(None, f"the {rules['maxRelists']} relists allowed were made")
    base = item.relist_base_price or item.price
    floor = _floor(base, rules)
    current = Decimal(math.ceil(item.price))
    if rules["stepAmount"] is not None:
        step = Decimal(str(rules["stepAmount"]))
    else:
        step = base * Decimal(str(rules["stepPercent"] or 0)) / 100
    price = max(floor, math.ceil(current - step))
    if current <= floor and rules["marketplaceOnlyAtFloor"]:
        return Step(None, f"the floor {sek(floor)} is reached", base, floor)
    return Step(price, "", base, floor)


def _floor(base: Decimal, rules: dict) -> int:
    if rules["floorPrice"] is not None:
        return max(1, math.ceil(Decimal(str(rules["floorPrice"]))))
    if rules["floorPercent"] is not None:
        return max(1, math.ceil(base * Decimal(str(rules["floorPercent"])) / 100))
    return 1


def after_unsold_end(item: Item, listing: TraderaListing, *, ended_at: datetime) -> bool:
    """The item's auction ended unsold (the sync, in its transaction, the item locked, the
    listing just marked ended): relist it if the rules say so. True if relisted."""
    rules = rules_for(item)
    step = next_step(item, rules)
    if step.price is None:
        if rules["enabled"]:
            lifecycle.record_activity(
                item=item,
                kind="tradera",
                message=f"Not relisted on Tradera: {step.reason}. "
                "The item stays on Rheo's marketplace.",
            )
        return False
    now = timezone.now()
    due = max(now, ended_at + timedelta(hours=rules["waitHours"]))
    previous = listing.tradera_item_id
    count = listing.relist_count + 1
    lifecycle.record_activity(
        item=item,
        kind="price",
        message=f"Relist {item.relist_steps + 1} of {rules['maxRelists']}: price "
        f"{sek(item.price)} → {sek(step.price)} (floor {sek(step.floor)}); a new Tradera "
        f"auction replaces {previous}" + (f" from {due:%Y-%m-%d %H:%M} UTC" if due > now else ""),
    )
    Item.objects.filter(pk=item.pk).update(
        price=step.price,
        relist_steps=item.relist_steps + 1,
        relist_base_price=step.base,
        updated_at=now,
    )
    TraderaListing.objects.filter(pk=listing.pk, status=TraderaListing.Status.ENDED).update(
        status=TraderaListing.Status.PENDING_SYNC,
        relist_count=count,
        previous_tradera_item_id=previous,
        # The publish flow starts over for a new auction.
        ad_id=None,
        request_id=None,
        tradera_item_id=None,
        committed=False,
        commit_acknowledged=False,
        attempts=0,
        next_attempt_at=due,
        locked_until=None,
        nudged_at=now,
        error_code="",
        error_message="",
        published_at=None,
        ended_at=None,
        listed_price=None,
        wanted_price=None,
        end_wanted=False,
        issues=[],
        updated_at=now,
    )
    if due <= now:
        backlog.wake_on_commit(PUBLISHES, item.partner_id)
    # Otherwise the publish sweeper nudges the partner's tokens once it is due.
    return True


def state_of(item: Item, partner: dict | None = None) -> dict | None:
    """The relist state GET shows: the relists made, and the next relist's price and time
    (null when none is coming), or None for an item never sent to Tradera. `partner`: the
    partner's rules, when the caller read them already (a list of items)."""
    listing = getattr(item, "tradera_listing", None)
    if listing is None:
        return None
    rules = rules_for(item, partner)
    waiting = (
        listing.status == TraderaListing.Status.PENDING_SYNC
        and listing.relist_count > 0
        and listing.tradera_item_id is None
    )
    next_price, next_at = None, None
    if waiting:  # a relist made, its auction not yet sent
        next_price, next_at = math.ceil(item.price), listing.next_attempt_at
    elif listing.status == TraderaListing.Status.ACTIVE:
        step = next_step(item, rules)
        next_price = step.price
        if step.price is not None and listing.published_at is not None:
            ends = listing.published_at + timedelta(days=settings.TRADERA_AUCTION_DAYS)
            next_at = ends + timedelta(hours=rules["waitHours"])
    return {
        "enabled": bool(rules["enabled"]),
        "relistCount": listing.relist_count,
        "maxRelists": rules["maxRelists"],
        "previousTraderaAdId": _str_or_none(listing.previous_tradera_item_id),
        "nextPrice": next_price,
        "nextAt": next_at,
    }


def _str_or_none(value) -> str | None:
    return None if value is None else str(value)
