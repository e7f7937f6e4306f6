"""Tradera's rules as the sandbox applies them (API-NOTES.md), and its settings."""

from dataclasses import dataclass

PICKUP = 8


class Refused(Exception):
    """Tradera refuses the request; the message is its reason (a soap:Fault)."""


@dataclass
class Rules:
    speed: float = 1.0  # auction days per real day
    processing_seconds: float = 1.0  # from commit until a request is processed
    order_seconds: float = 0.0  # from a won auction's end until its order exists
    token_days: float = 540  # a new token's lifetime (about 18 months, as seen live)


def check_item(item: dict) -> None:
    """AddItem's validation, with Tradera's limits (API-NOTES.md)."""
    title = item["title"]
    if not title:
        raise Refused("Title is required.")
    if len(title) > 80:
        raise Refused(f"Title is {len(title)} characters long; at most 80 are allowed.")
    if len(item["description"]) > 7000:
        raise Refused("Description is longer than 7000 characters.")
    if not item["category_id"]:
        raise Refused("CategoryId is required.")
    if not item["item_attributes"]:
        raise Refused("ItemAttributes are missing")
    if not 1 <= (item["duration"] or 0) <= 14:
        raise Refused("Duration must be between 1 and 14 days.")
    if not 0 <= item["restarts"] <= 2:
        raise Refused("Restarts must be between 0 and 2.")
    if not item["accepted_bidder_id"]:
        raise Refused("AcceptedBidderId must not be 0.")
    if item["item_type"] not in (1, 3, 4):
        raise Refused(f"ItemType {item['item_type']} does not exist.")
    if any(len(ref) > 60 for ref in item["own_references"]):
        raise Refused("OwnReferences can be at most 60 characters each.")
    shipping = item["shipping"]
    allowed = 3 if any(s["id"] == PICKUP for s in shipping) else 2
    if len(shipping) > allowed:
        raise Refused(f"At most {allowed} shipping options are allowed.")
    check_prices(item["start_price"], item["reserve_price"], item["buy_now_price"])


def check_prices(start, reserve, buy_now) -> None:
    if start is None or start < 1:
        raise Refused("StartPrice must be at least 1 SEK.")
    if reserve is not None and reserve <= start:
        raise Refused("ReservePrice must be higher than StartPrice.")
    if buy_now is not None and buy_now <= max(start, reserve or 0):
        raise Refused("BuyItNowPrice must be higher than StartPrice and ReservePrice.")
