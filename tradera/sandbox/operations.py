"""The SOAP operations the sandbox serves: each reads its parameters, asks the market,
and writes Tradera's answer. `SERVICES` says which .asmx serves which operation and
whether it needs a seller (the AuthorizationHeader)."""

import base64
import binascii
import json

from tradera.sandbox.market import Market
from tradera.sandbox.soap import Call, Fault, Params, answer, moment, node, value

PUBLIC, RESTRICTED, ORDER = "PublicService.asmx", "RestrictedService.asmx", "OrderService.asmx"
ITEM_TYPES = {1: "Auction", 3: "PureBuyItNow", 4: "ShopItem"}
ITEM_URL = "https://www.tradera.com/item/{item_id}"
YEAR_ONE = -62135596800.0  # 0001-01-01T00:00:00Z, .NET's DateTime.MinValue


def add_item(market: Market, call: Call) -> bytes:
    request = call.params.child("itemRequest")
    if request.node is None:
        raise Fault("itemRequest is missing.")
    if (request.text("AutoCommit") or "").strip().lower() == "true":
        raise Fault("The sandbox serves the queued flow only: send AutoCommit false.")
    shipping = [
        {
            "id": s.int("ShippingOptionId"),
            "cost": s.int("Cost") or 0,
            "weight": s.number("ShippingWeight"),
        }
        for s in request.child("ShippingOptions").children("ItemShipping")
    ]
    item = {
        "title": (request.text("Title") or "").strip(),
        "description": request.text("Description") or "",
        "category_id": request.int("CategoryId"),
        "duration": request.int("Duration"),
        "restarts": request.int("Restarts") or 0,
        "start_price": request.int("StartPrice"),
        "reserve_price": request.int("ReservePrice"),
        "buy_now_price": request.int("BuyItNowPrice"),
        "accepted_bidder_id": request.int("AcceptedBidderId"),
        "item_attributes": request.ints("ItemAttributes"),
        "item_type": request.int("ItemType") or 1,
        "own_references": request.strings("OwnReferences"),
        "payment_option_ids": request.ints("PaymentOptionIds"),
        "shipping": shipping,
    }
    request_id, item_id = market.add_item(call.seller_id, item)
    return answer(
        "AddItem", node("AddItemResult", value("RequestId", request_id), value("ItemId", item_id))
    )


def add_item_image(market: Market, call: Call) -> bytes:
    image_format = call.params.text("imageFormat")
    if image_format not in ("Gif", "Jpeg", "Png"):
        raise Fault("imageFormat must be Gif, Jpeg or Png.")
    try:
        data = base64.b64decode(call.params.text("imageData") or "", validate=True)
    except binascii.Error:
        raise Fault("imageData is not base64.") from None
    if not data:
        raise Fault("imageData is empty.")
    market.add_image(call.seller_id, _required_int(call.params, "requestId"), data, image_format)
    return answer("AddItemImage")


def add_item_commit(market: Market, call: Call) -> bytes:
    market.commit(call.seller_id, _required_int(call.params, "requestId"))
    return answer("AddItemCommit")


def get_request_results(market: Market, call: Call) -> bytes:
    results = market.request_results(call.seller_id, call.params.ints("requestIds"))
    return answer(
        "GetRequestResults",
        node(
            "GetRequestResultsResult",
            *(
                node(
                    "RequestResult",
                    value("RequestId", request_id),
                    value("ResultCode", code),
                    value("Message", ""),
                )
                for request_id, code in results
            ),
        ),
    )


def end_item(market: Market, call: Call) -> bytes:
    ended = market.end_item(call.seller_id, _required_int(call.params, "itemId"))
    return answer("EndItem", value("EndItemResult", ended))


def set_prices(market: Market, call: Call) -> bytes:
    errors = []
    for item in call.params.child("request").children("NonShopItem"):
        item_id = _required_int(item, "Id")
        problems = market.set_prices(
            call.seller_id,
            item_id,
            item.int("OpeningPrice"),
            item.child("ReservedPrice").int("Price"),
            item.child("BinPrice").int("Price"),
        )
        errors += [(item_id, problem) for problem in problems]
    return answer(
        "SetPricesOnNonShopItems",
        node(
            "SetPricesOnNonShopItemsResult",
            value("IsSuccessful", not errors),
            node(
                "ValidationErrors",
                *(
                    node(
                        "SetPricesOnNonShopItemsError",
                        node("Item", value("Id", item_id)),
                        value("ErrorMessage", problem),
                    )
                    for item_id, problem in errors
                ),
            )
            if errors
            else None,
        ),
    )


ACTIVE_FILTERS = ("All", "Active", "Inactive")
ITEM_TYPE_FILTERS = {"All": None, "Auction": 1, "PureBuyItNow": 3, "ShopItem": 4}


def get_seller_items(market: Market, call: Call) -> bytes:
    """The seller's items, filtered as Tradera's GetSellerItems does (every parameter is
    required there: a missing date reads as year 1)."""
    params = call.params
    active = params.text("filterActive") or ""
    item_type = params.text("filterItemType") or ""
    if active not in ACTIVE_FILTERS or item_type not in ITEM_TYPE_FILTERS:
        raise Fault(
            "There is an error in XML document (1, 1). ---> Instance validation error: "
            f"'{active if active not in ACTIVE_FILTERS else item_type}' is not a valid value."
        )
    items = market.seller_items(
        call.seller_id,
        active=active,
        category_id=params.int("categoryId") or 0,
        item_type=ITEM_TYPE_FILTERS[item_type],
        min_end=_date_or_year_one(params, "minEndDate"),
        max_end=_date_or_year_one(params, "maxEndDate"),
        max_start=_date_or_year_one(params, "maxStartDate"),
    )
    return answer("GetSellerItems", node("GetSellerItemsResult", *(_item(i) for i in items)))


def _date_or_year_one(params: Params, name: str) -> float:
    found = params.date(name)
    return YEAR_ONE if found is None else found


def _item(item):
    """Tradera's Item: the auction, its bids and whether it was won."""
    best = item["max_bid"]
    return node(
        "Item",
        value("Id", item["id"]),
        value("ShortDescription", item["title"]),
        _strings("OwnReferences", json.loads(item["own_references"])),
        value("StartDate", moment(item["start_at"])),
        value("EndDate", moment(item["end_at"])),
        value("CategoryId", item["category_id"]),
        value("OpeningBid", item["start_price"]),
        value("MaxBid", best or 0),
        value("TotalBids", item["bids"]),
        value(
            "ReservePriceReached",
            item["reserve_price"] is None or (best or 0) >= item["reserve_price"],
        ),
        value("BuyItNowPrice", item["buy_now_price"] or 0),
        value("ItemLink", ITEM_URL.format(item_id=item["id"])),
        node(
            "Status",
            value("Ended", item["state"] == "ended"),
            value("GotBidders", item["bids"] > 0),
            value("GotWinner", bool(item["won"])),
        ),
    )


def get_seller_orders(market: Market, call: Call) -> bytes:
    request = call.params.child("request")
    start, end = request.date("FromDate"), request.date("ToDate")
    if start is None or end is None:
        raise Fault("FromDate and ToDate are required.")
    mode = request.text("QueryDateMode") or "CreatedDate"
    if mode not in ("CreatedDate", "LastUpdatedDate"):
        raise Fault(
            "There is an error in XML document (1, 1). ---> Instance validation error: "
            f"'{mode}' is not a valid value for SellerOrderQueryDateMode."
        )
    orders = market.orders(call.seller_id, start, end, mode)
    return answer(
        "GetSellerOrders",
        node(
            "GetSellerOrdersResult",
            *(
                node(
                    "SellerOrder",
                    value("OrderId", order["id"]),
                    value("CreatedDate", moment(order["created_at"])),
                    value("LastUpdatedDate", moment(order["updated_at"])),
                    value("SubTotal", order["price"]),
                    node(
                        "Buyer",
                        value("MemberId", 100_000 + order["id"] % 100_000),
                        value("Alias", order["buyer"]),
                    ),
                    node(
                        "Items",
                        node(
                            "SellerOrderItem",
                            value("ItemId", order["item_id"]),
                            value("Type", ITEM_TYPES.get(order["item_type"], "Auction")),
                            value("Title", order["title"]),
                            value("Quantity", 1),
                            value("UnitPrice", order["price"]),
                            _strings("OwnReferences", json.loads(order["own_references"])),
                        ),
                    ),
                    value("ShippingCost", order["shipping_cost"]),
                )
                for order in orders
            ),
        ),
    )


def fetch_token(market: Market, call: Call) -> bytes:
    seller = market.fetch_token(
        _required_int(call.params, "userId"), call.params.text("secretKey") or ""
    )
    return answer(
        "FetchToken",
        node(
            "FetchTokenResult",
            value("AuthToken", seller["token"]),
            value("HardExpirationTime", moment(seller["expires_at"])),
        ),
    )


def _required_int(params: Params, name: str) -> int:
    found = params.int(name)
    if found is None:
        raise Fault(f"{name} is required.")
    return found


def _strings(name: str, values: list[str]):
    return node(name, *(value("string", v) for v in values))


# operation → (service, needs a seller, handler)
SERVICES = {
    "AddItem": (RESTRICTED, True, add_item),
    "AddItemImage": (RESTRICTED, True, add_item_image),
    "AddItemCommit": (RESTRICTED, True, add_item_commit),
    "GetRequestResults": (RESTRICTED, True, get_request_results),
    "EndItem": (RESTRICTED, True, end_item),
    "SetPricesOnNonShopItems": (RESTRICTED, True, set_prices),
    "GetSellerItems": (RESTRICTED, True, get_seller_items),
    "GetSellerOrders": (ORDER, True, get_seller_orders),
    "FetchToken": (PUBLIC, False, fetch_token),
}
