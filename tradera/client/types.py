"""What goes into and comes out of the Tradera client: our own frozen dataclasses, with
Rheo's names. Prices are whole SEK."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from tradera.client.errors import REFUSED, TRY_AGAIN, TraderaError

# Tradera's limits (API-NOTES.md), for callers that want to check before spending a call.
MAX_TITLE = 80
MAX_DESCRIPTION = 7000
MAX_OWN_REFERENCE = 60
MAX_IMAGE_BYTES = 4 * 1024 * 1024
DURATION_DAYS = range(1, 15)

CONDITION_NEW = 1  # ItemAttributes
CONDITION_USED = 2
AUCTION = 1  # ItemType
BUY_NOW_ONLY = 3
WITHIN_SWEDEN = 1  # AcceptedBidderId
PICKUP = 8  # ShippingOptionId

ImageFormat = Literal["jpeg", "png", "gif"]
OrderDateMode = Literal["created", "updated"]
ActiveFilter = Literal["all", "active", "inactive"]


@dataclass(frozen=True)
class Seller:
    """A Tradera user's credentials: the user id and the token FetchToken gave us."""

    user_id: int
    token: str = field(repr=False)


@dataclass(frozen=True)
class Shipping:
    option_id: int  # 1 Posten, 2 DHL, 8 Pickup, 12 PostNord Paket, ...
    cost: int
    weight_kg: Decimal | None = None


@dataclass(frozen=True)
class NewAuction:
    """Tradera's ItemRequest, with the fields Rheo uses."""

    title: str
    description: str
    category_id: int
    duration_days: int
    start_price: int
    reserve_price: int | None = None
    buy_now_price: int | None = None
    item_attributes: tuple[int, ...] = (CONDITION_USED,)
    shipping: tuple[Shipping, ...] = ()
    own_references: tuple[str, ...] = ()
    payment_option_ids: tuple[int, ...] = ()
    accepted_bidder_id: int = WITHIN_SWEDEN
    item_type: int = AUCTION
    restarts: int = 0
    vat: int | None = None
    language: str | None = "sv"


@dataclass(frozen=True)
class QueuedRequest:
    """AddItem's answer: the queued request and the id the auction will have."""

    request_id: int
    item_id: int


@dataclass(frozen=True)
class RequestResult:
    """One processed request of GetRequestResults. `flags` holds Tradera's ResultCode
    names (Ok, Error, TryAgain, ImageProcessingError, ...)."""

    request_id: int
    flags: frozenset[str]
    message: str = ""

    @property
    def ok(self) -> bool:
        return "Ok" in self.flags

    @property
    def pending(self) -> bool:
        return bool(self.flags & {"WaitingToBeProcessed", "Uncommited"}) and not self.ok

    def error(self) -> TraderaError | None:
        """None when the auction is live or still pending; otherwise what went wrong:
        `try_again` (transient: send the request again) or `refused` (permanent)."""
        if self.ok or self.pending:
            return None
        reason = self.message or ", ".join(sorted(self.flags)) or "no result code"
        if self.flags & {"TryAgain", "Timeout"}:
            return TraderaError(TRY_AGAIN, reason)
        return TraderaError(REFUSED, reason)


@dataclass(frozen=True)
class PriceChange:
    ok: bool
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuctionState:
    """Where an auction stands: Tradera's Item, as GetSellerItems lists them."""

    item_id: int
    title: str
    own_references: tuple[str, ...]
    start_date: datetime | None
    end_date: datetime | None
    opening_bid: int | None
    max_bid: int | None
    total_bids: int
    reserve_price_reached: bool
    buy_now_price: int | None
    item_link: str
    ended: bool
    got_bidders: bool
    got_winner: bool


@dataclass(frozen=True)
class Buyer:
    member_id: int | None
    alias: str


@dataclass(frozen=True)
class OrderLine:
    item_id: int
    title: str
    quantity: int
    unit_price: int
    own_references: tuple[str, ...]


@dataclass(frozen=True)
class SellerOrder:
    order_id: int
    created_at: datetime | None
    updated_at: datetime | None
    sub_total: int
    shipping_cost: int
    buyer: Buyer
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True)
class Token:
    token: str = field(repr=False)
    hard_expiration: datetime | None = None
