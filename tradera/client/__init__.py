"""The Tradera client: the one module that speaks Tradera's protocol (SOAP v3). Everything
else in Rheo sees the dataclasses and TraderaError exported here.

    client = for_mode(livemode=False)          # the sandbox; True: the configured Tradera
    seller = Seller(user_id=..., token=...)
    queued = client.add_item(seller, NewAuction(...))
    client.add_item_image(seller, queued.request_id, jpeg_bytes, "jpeg")
    client.add_item_commit(seller, queued.request_id)
    results = client.get_request_results(seller, [queued.request_id])
"""

from functools import cache

from django.conf import settings

from tradera.client.api import OPERATIONS, TraderaClient
from tradera.client.errors import TraderaError
from tradera.client.types import (
    AUCTION,
    BUY_NOW_ONLY,
    CONDITION_NEW,
    CONDITION_USED,
    DURATION_DAYS,
    MAX_DESCRIPTION,
    MAX_IMAGE_BYTES,
    MAX_OWN_REFERENCE,
    MAX_TITLE,
    PICKUP,
    WITHIN_SWEDEN,
    AuctionState,
    Buyer,
    NewAuction,
    OrderLine,
    PriceChange,
    QueuedRequest,
    RequestResult,
    Seller,
    SellerOrder,
    Shipping,
    Token,
)
from tradera.quota import CallBudget


@cache
def for_mode(livemode: bool) -> TraderaClient:
    """Live keys' client (the configured Tradera, its real quota) or test keys' (the
    sandbox, with a budget of its own). One per process: the budget lives in Redis."""
    if livemode:
        url, app_id, app_key = (
            settings.TRADERA_API_URL,
            settings.TRADERA_APP_ID,
            settings.TRADERA_APP_KEY,
        )
        allowance, name = settings.TRADERA_DAILY_CALLS, "live"
    else:
        url, app_id, app_key = (
            settings.TRADERA_SANDBOX_URL,
            settings.TRADERA_SANDBOX_APP_ID,
            settings.TRADERA_SANDBOX_APP_KEY,
        )
        allowance, name = settings.TRADERA_SANDBOX_DAILY_CALLS, "sandbox"
    budget = CallBudget(
        name,
        allowance=allowance,
        sync_reserve=settings.TRADERA_SYNC_RESERVE,
        redis_url=settings.REDIS_URL,
    )
    return TraderaClient(
        url,
        app_id,
        app_key,
        sandbox=not livemode,
        timeout=settings.TRADERA_TIMEOUT_SECONDS,
        budget=budget,
    )


__all__ = [
    "AUCTION",
    "BUY_NOW_ONLY",
    "CONDITION_NEW",
    "CONDITION_USED",
    "DURATION_DAYS",
    "MAX_DESCRIPTION",
    "MAX_IMAGE_BYTES",
    "MAX_OWN_REFERENCE",
    "MAX_TITLE",
    "OPERATIONS",
    "PICKUP",
    "WITHIN_SWEDEN",
    "AuctionState",
    "Buyer",
    "NewAuction",
    "OrderLine",
    "PriceChange",
    "QueuedRequest",
    "RequestResult",
    "Seller",
    "SellerOrder",
    "Shipping",
    "Token",
    "TraderaClient",
    "TraderaError",
    "for_mode",
]
