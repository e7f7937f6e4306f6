"""TraderaClient: one method per Tradera operation Rheo uses, our dataclasses in and out.

Every call is first paid for from the call budget (tradera.quota); a spent budget raises
TraderaError("budget_spent", retry_after=...) without calling Tradera. Tradera's own 429
blocks the budget until its Retry-After, for every process. A job that knows its next
calls pays for them at once (`paid_ahead`, then `refund`).
"""

import base64
import copy
import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urljoin

import urllib3

from tradera.client import errors
from tradera.client.errors import TraderaError
from tradera.client.types import (
    ActiveFilter,
    AuctionState,
    Buyer,
    ImageFormat,
    NewAuction,
    OrderDateMode,
    OrderLine,
    PriceChange,
    QueuedRequest,
    RequestResult,
    Seller,
    SellerOrder,
    Token,
)
from tradera.client.wire import Credentials, Reader, element, envelope, leaf, post
from tradera.quota import Budget, Deferred, Prepaid, Purpose, UnlimitedBudget

PUBLIC, RESTRICTED, ORDER = "PublicService.asmx", "RestrictedService.asmx", "OrderService.asmx"

# operation → (service, whose share of the budget it spends by default)
OPERATIONS: dict[str, tuple[str, Purpose]] = {
    "AddItem": (RESTRICTED, "publish"),
    "AddItemImage": (RESTRICTED, "publish"),
    "AddItemCommit": (RESTRICTED, "publish"),
    "GetRequestResults": (RESTRICTED, "publish"),
    "EndItem": (RESTRICTED, "publish"),
    "SetPricesOnNonShopItems": (RESTRICTED, "publish"),
    "GetSellerItems": (RESTRICTED, "sync"),
    "GetSellerOrders": (ORDER, "sync"),
    "FetchToken": (PUBLIC, "publish"),
}

_IMAGE_FORMATS = {"jpeg": "Jpeg", "png": "Png", "gif": "Gif"}
_DATE_MODES = {"created": "CreatedDate", "updated": "LastUpdatedDate"}
_ACTIVE_FILTERS = {"all": "All", "active": "Active", "inactive": "Inactive"}


class TraderaClient:
    """Speaks to Tradera's v3 SOAP API at `base_url` (".../v3/") as one application.

    Thread-safe; hold one per process and mode (see `for_mode`)."""

    def __init__(
        self,
        base_url: str,
        app_id: int,
        app_key: str,
        *,
        sandbox: bool = False,
        timeout: float = 30.0,
        budget: Budget | None = None,
        purpose: Purpose | None = None,
    ):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.credentials = Credentials(app_id=int(app_id), app_key=app_key, sandbox=sandbox)
        self.timeout = timeout
        self.budget = budget or UnlimitedBudget()
        self.purpose = purpose
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=8)
        self._paid: Counter[str] = Counter()  # calls paid ahead, not made yet
        self._prepaid: Prepaid | None = None

    def sandbox_seller(self, name: str) -> Seller:
        """Test mode: the sandbox's seller account of that name (a partner's), created on
        first use. Not a Tradera call: the sandbox's control endpoint, free of quota."""
        made = self._control("sellers", {"name": name})
        return Seller(user_id=made["userId"], token=made["token"])

    def sandbox_sell(self, item_id: int, price: int) -> None:
        """Test mode (`simulate`): a bid of `price`, then the auction's time is up, so it
        ends sold to that bidder, as a real sale would."""
        self._control(f"auctions/{item_id}/bid", {"amount": price, "bidder": "simulerad"})
        self._control(f"auctions/{item_id}/end", {})

    def sandbox_end(self, item_id: int) -> None:
        """Test mode (`simulate`): the auction's time is up (unsold, without bids)."""
        self._control(f"auctions/{item_id}/end", {})

    def _control(self, path: str, body: dict) -> dict:
        if not self.credentials.sandbox:
            raise ValueError("Only the sandbox can be told what happens.")
        url = urljoin(self.base_url, f"../control/{path}")
        try:
            response = self._pool.request(
                "POST", url, json=body, timeout=self.timeout, retries=False
            )
            answer = json.loads(response.data)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise TraderaError(errors.CONNECTION, f"The sandbox did not answer: {exc}") from exc
        if response.status != 200:
            reason = answer.get("error", f"HTTP {response.status}")
            raise TraderaError(errors.REFUSED, f"The sandbox refused: {reason}")
        return answer

    def charged_to(self, purpose: Purpose) -> "TraderaClient":
        """The same client, spending every call from `purpose`'s share (e.g. the sync
        reading publish results in its pass)."""
        clone = copy.copy(self)
        clone.purpose = purpose
        clone._paid, clone._prepaid = Counter(), None
        return clone

    def paid_ahead(self, operations: list[str]) -> "TraderaClient":
        """The same client for one job's next calls, these operations (all of one share),
        paid for at once: one round trip to the budget instead of one a call. Its calls
        of those operations spend what was paid; `refund()` gives back what the job did
        not call. Raises TraderaError("budget_spent") when they do not all fit now, as a
        call would; more calls than the share could ever hold are paid one by one."""
        clone = self.charged_to(self.purpose)  # type: ignore[arg-type]
        if len(operations) < 2:
            return clone
        purpose = self.purpose or OPERATIONS[operations[0]][1]
        decision = self.budget.spend_ahead(
            purpose, operations, ahead_seconds=self.timeout * len(operations)
        )
        if isinstance(decision, Deferred):
            raise _budget_spent(purpose, decision)
        if decision is not None:
            clone._paid, clone._prepaid = Counter(operations), decision
        return clone

    def refund(self) -> None:
        """Give back the calls paid ahead (paid_ahead) that were not made."""
        unused = list(self._paid.elements())
        if unused and self._prepaid is not None:
            self.budget.refund(self._prepaid, unused)
        self._paid.clear()

    # --- Publishing (the queued flow) --------------------------------------------------

    def add_item(self, seller: Seller, item: NewAuction) -> QueuedRequest:
        """AddItem without AutoCommit: the request waits for images and add_item_commit."""
        answer = self._call("AddItem", element("AddItem", _item_request(item)), seller)
        result = _result(answer, "AddItem")
        return QueuedRequest(
            request_id=result.required_int("RequestId"), item_id=result.required_int("ItemId")
        )

    def add_item_image(
        self, seller: Seller, request_id: int, data: bytes, format: ImageFormat
    ) -> None:
        body = element(
            "AddItemImage",
            leaf("requestId", request_id),
            leaf("imageData", base64.b64encode(data).decode("ascii")),
            leaf("imageFormat", _IMAGE_FORMATS[format]),
            leaf("hasMega", True),
        )
        self._call("AddItemImage", body, seller)

    def add_item_commit(self, seller: Seller, request_id: int) -> None:
        self._call("AddItemCommit", element("AddItemCommit", leaf("requestId", request_id)), seller)

    def get_request_results(self, seller: Seller, request_ids: list[int]) -> list[RequestResult]:
        """One call for all of an account's pending requests. Requests Tradera has not
        processed yet are absent from the answer."""
        ids = element("requestIds", *(leaf("int", rid) for rid in request_ids))
        answer = self._call("GetRequestResults", element("GetRequestResults", ids), seller)
        return [
            RequestResult(
                request_id=r.required_int("RequestId"),
                flags=_flags(r.text("ResultCode")),
                message=r.text("Message"),
            )
            for r in _result(answer, "GetRequestResults").children("RequestResult")
        ]

    # --- Changing a running auction ------------------------------------------------------

    def end_item(self, seller: Seller, item_id: int) -> bool:
        """True when Tradera ended the auction; False when it would not (it has bids)."""
        answer = self._call("EndItem", element("EndItem", leaf("itemId", item_id)), seller)
        return Reader(answer, "EndItem").bool("EndItemResult")

    def set_prices(
        self,
        seller: Seller,
        item_id: int,
        start_price: int,
        reserve_price: int | None = None,
        buy_now_price: int | None = None,
    ) -> PriceChange:
        """Sets all three prices: a price left None is removed (a buy-now price is taken
        away; a reserve, once set, cannot be removed and Tradera refuses it)."""
        item = element(
            "NonShopItem",
            leaf("Id", item_id),
            leaf("OpeningPrice", start_price),
            element("ReservedPrice", leaf("Price", reserve_price)) if reserve_price else None,
            element("BinPrice", leaf("Price", buy_now_price)) if buy_now_price else None,
        )
        body = element("SetPricesOnNonShopItems", element("request", item))
        result = _result(self._call("SetPricesOnNonShopItems", body, seller), "SetPrices")
        failures = result.child("ValidationErrors")
        messages = tuple(
            e.text("ErrorMessage")
            for e in (failures.children("SetPricesOnNonShopItemsError") if failures else [])
        )
        return PriceChange(ok=result.bool("IsSuccessful") and not messages, errors=messages)

    # --- Watching --------------------------------------------------------------------

    def get_seller_items(
        self,
        seller: Seller,
        min_end_date: datetime,
        max_end_date: datetime,
        active: ActiveFilter = "inactive",
    ) -> list[AuctionState]:
        """The seller's auctions (of every category and type) whose end date is in the
        range; "inactive": only those that have ended. One call, however many."""
        body = element(
            "GetSellerItems",
            leaf("categoryId", 0),  # every category
            leaf("filterActive", _ACTIVE_FILTERS[active]),
            leaf("minEndDate", min_end_date),
            leaf("maxEndDate", max_end_date),
            leaf("filterItemType", "All"),
            # Sent because .NET reads a missing date as year 1 (nothing started before it).
            leaf("maxStartDate", max_end_date),
        )
        answer = self._call("GetSellerItems", body, seller)
        return [_auction(i) for i in _result(answer, "GetSellerItems").children("Item")]

    def get_seller_orders(
        self,
        seller: Seller,
        from_date: datetime,
        to_date: datetime,
        mode: OrderDateMode = "created",
    ) -> list[SellerOrder]:
        """The seller's orders created (or, with mode="updated", changed) in the range."""
        request = element(
            "request",
            leaf("FromDate", from_date),
            leaf("ToDate", to_date),
            leaf("QueryDateMode", _DATE_MODES[mode]),
        )
        answer = self._call("GetSellerOrders", element("GetSellerOrders", request), seller)
        return [_order(o) for o in _result(answer, "GetSellerOrders").children("SellerOrder")]

    # --- Connecting a seller -------------------------------------------------------------

    def fetch_token(self, user_id: int, secret_key: str) -> Token:
        """The token of a user who consented at tokenlogin.aspx with our `secret_key`."""
        body = element("FetchToken", leaf("userId", user_id), leaf("secretKey", secret_key))
        result = _result(self._call("FetchToken", body, None), "FetchToken")
        token = result.text("AuthToken")
        if not token:
            raise result.malformed("AuthToken is missing")
        return Token(token=token, hard_expiration=result.datetime("HardExpirationTime"))

    # --- The call ------------------------------------------------------------------------

    def _call(self, operation: str, body: ET.Element, seller: Seller | None) -> ET.Element:
        service, purpose = OPERATIONS[operation]
        if self._paid[operation] > 0:
            self._paid[operation] -= 1
        else:
            decision = self.budget.spend(self.purpose or purpose, operation=operation)
            if isinstance(decision, Deferred):
                raise _budget_spent(self.purpose or purpose, decision)
        payload = envelope(body, self.credentials, seller)
        url = urljoin(self.base_url, service)
        try:
            return post(self._pool, url, operation, payload, self.timeout, seller is not None)
        except TraderaError as exc:
            if exc.code == errors.QUOTA_EXCEEDED and exc.retry_after:
                until = datetime.now(UTC).timestamp() + exc.retry_after
                self.budget.block_until(datetime.fromtimestamp(until, UTC))
            raise


def _budget_spent(purpose: Purpose, decision: Deferred) -> TraderaError:
    return TraderaError(
        errors.BUDGET_SPENT,
        f"Rheo's Tradera call budget for {purpose} is spent until {decision.until.isoformat()}.",
        retry_after=decision.seconds,
    )


def _item_request(item: NewAuction) -> ET.Element:
    # The order is the WSDL's sequence: .NET's XmlSerializer skips elements out of order.
    shipping = [
        element(
            "ItemShipping",
            leaf("ShippingOptionId", s.option_id),
            leaf("Cost", s.cost),
            leaf("ShippingWeight", s.weight_kg),
        )
        for s in item.shipping
    ]
    return element(
        "itemRequest",
        leaf("Title", item.title),
        _array("OwnReferences", "string", item.own_references),
        leaf("CategoryId", item.category_id),
        leaf("Duration", item.duration_days),
        leaf("Restarts", item.restarts),
        leaf("StartPrice", item.start_price),
        leaf("ReservePrice", item.reserve_price),
        leaf("BuyItNowPrice", item.buy_now_price),
        leaf("Description", item.description),
        _array("PaymentOptionIds", "int", item.payment_option_ids),
        element("ShippingOptions", *shipping) if shipping else None,
        leaf("AcceptedBidderId", item.accepted_bidder_id),
        _array("ItemAttributes", "int", item.item_attributes),
        leaf("ItemType", item.item_type),
        leaf("AutoCommit", False),
        leaf("VAT", item.vat),
        leaf("DescriptionLanguageCodeIso2", item.language),
    )


def _array(name: str, of: str, values: Sequence[object]) -> ET.Element | None:
    return element(name, *(leaf(of, v) for v in values)) if values else None


def _result(answer: ET.Element, where: str) -> Reader:
    """<XResponse><XResult>…</XResult></XResponse> → the XResult."""
    found = next(iter(answer), None)
    if found is None:
        raise TraderaError(errors.MALFORMED_RESPONSE, f"{where}: the answer has no result.")
    return Reader(found, where)


def _flags(result_code: str) -> frozenset[str]:
    """ResultCode's flags; Tradera's wire form of a combination is unconfirmed, so both
    "Ok ImageProcessingError" and "Ok, ImageProcessingError" are read."""
    return frozenset(f for f in result_code.replace(",", " ").split() if f)


def _auction(item: Reader) -> AuctionState:
    status = item.child("Status") or Reader(ET.Element("Status"), item.where)
    return AuctionState(
        item_id=item.required_int("Id"),
        title=item.text("ShortDescription") or item.text("Title"),
        own_references=item.strings("OwnReferences"),
        start_date=item.datetime("StartDate"),
        end_date=item.datetime("EndDate"),
        opening_bid=item.int("OpeningBid"),
        max_bid=item.int("MaxBid"),
        total_bids=item.int("TotalBids", 0),
        reserve_price_reached=item.bool("ReservePriceReached"),
        buy_now_price=item.int("BuyItNowPrice") or None,
        item_link=item.text("ItemLink"),
        ended=status.bool("Ended"),
        got_bidders=status.bool("GotBidders"),
        got_winner=status.bool("GotWinner"),
    )


def _order(order: Reader) -> SellerOrder:
    buyer = order.child("Buyer")
    lines = order.child("Items")
    return SellerOrder(
        order_id=order.required_int("OrderId"),
        created_at=order.datetime("CreatedDate"),
        updated_at=order.datetime("LastUpdatedDate"),
        sub_total=order.int("SubTotal", 0),
        shipping_cost=order.int("ShippingCost", 0),
        buyer=Buyer(
            member_id=buyer.int("MemberId") if buyer else None,
            alias=buyer.text("Alias") if buyer else "",
        ),
        lines=tuple(
            OrderLine(
                item_id=line.required_int("ItemId"),
                title=line.text("Title"),
                quantity=line.int("Quantity", 1),
                unit_price=line.int("UnitPrice", 0),
                own_references=line.strings("OwnReferences"),
            )
            for line in (lines.children("SellerOrderItem") if lines else [])
        ),
    )
