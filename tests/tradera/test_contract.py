"""The exact XML the client sends and reads, against documents recorded by hand from
Tradera's names (tests/tradera/recorded/), answered by a recording server."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.tradera.conftest import RECORDED, normalised
from tradera.client import (
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
    TraderaClient,
    TraderaError,
)

SELLER = Seller(user_id=5550001, token="seller-token-abc")
RHEO_REF = "rheo:3ef37cde-1164-43c5-89e0-64d95621eb82"
STOCKHOLM_WINTER = timezone(timedelta(hours=1))
CALIPER = NewAuction(
    title="Volvo XC90 bromsok fram vänster 2018",
    description="Testad och fungerande. Skick B. <b>OEM 31400452</b>",
    category_id=1000860,
    duration_days=7,
    start_price=500,
    reserve_price=800,
    buy_now_price=950,
    shipping=(Shipping(12, 149, Decimal("3.2")), Shipping(8, 0)),
    own_references=(RHEO_REF,),
    payment_option_ids=(4096,),
    vat=25,
)


def tradera(recorder) -> TraderaClient:
    return TraderaClient(recorder.url, 1234, "app-key-xyz", sandbox=False, timeout=2)


CASES = {
    "add_item": (
        "RestrictedService.asmx",
        "AddItem",
        lambda c: c.add_item(SELLER, CALIPER),
        QueuedRequest(request_id=48213, item_id=612345678),
    ),
    "add_item_image": (
        "RestrictedService.asmx",
        "AddItemImage",
        lambda c: c.add_item_image(SELLER, 48213, b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        None,
    ),
    "add_item_commit": (
        "RestrictedService.asmx",
        "AddItemCommit",
        lambda c: c.add_item_commit(SELLER, 48213),
        None,
    ),
    "get_request_results": (
        "RestrictedService.asmx",
        "GetRequestResults",
        lambda c: c.get_request_results(SELLER, [48213, 48214, 48215, 48216]),
        [
            RequestResult(48213, frozenset({"Ok"}), ""),
            RequestResult(
                48214,
                frozenset({"Ok", "ImageProcessingError"}),
                "One image could not be processed.",
            ),
            RequestResult(48215, frozenset({"Error", "TryAgain"}), "Temporary error, try again."),
        ],
    ),
    "end_item": (
        "RestrictedService.asmx",
        "EndItem",
        lambda c: c.end_item(SELLER, 612345678),
        False,
    ),
    "set_prices": (
        "RestrictedService.asmx",
        "SetPricesOnNonShopItems",
        lambda c: c.set_prices(SELLER, 612345678, 450, reserve_price=700, buy_now_price=900),
        PriceChange(ok=False, errors=("Prices cannot be changed on an item with bids.",)),
    ),
    "get_seller_items": (
        "RestrictedService.asmx",
        "GetSellerItems",
        lambda c: c.get_seller_items(
            SELLER,
            datetime(2026, 11, 30, 11, 45, tzinfo=STOCKHOLM_WINTER),
            datetime(2026, 12, 15, 12, 0, tzinfo=UTC),
        ),
        [
            AuctionState(
                item_id=612345678,
                title="Volvo XC90 bromsok fram vänster 2018",
                own_references=(RHEO_REF,),
                start_date=datetime(2026, 11, 23, 13, 5, tzinfo=STOCKHOLM_WINTER),
                end_date=datetime(2026, 11, 30, 13, 5, 0, 123456, tzinfo=STOCKHOLM_WINTER),
                opening_bid=500,
                max_bid=820,
                total_bids=3,
                reserve_price_reached=True,
                buy_now_price=None,
                item_link="https://www.tradera.com/item/612345678",
                ended=True,
                got_bidders=True,
                got_winner=True,
            ),
            AuctionState(
                item_id=612345679,
                title="Strålkastare V70 höger",
                own_references=(),
                # no zone on the wire: Stockholm's time (winter, UTC+1)
                start_date=datetime(2026, 11, 23, 13, 10, tzinfo=STOCKHOLM_WINTER),
                end_date=datetime(2026, 11, 30, 13, 10, tzinfo=STOCKHOLM_WINTER),
                opening_bid=300,
                max_bid=0,
                total_bids=0,
                reserve_price_reached=True,
                buy_now_price=450,
                item_link="https://www.tradera.com/item/612345679",
                ended=True,
                got_bidders=False,
                got_winner=False,
            ),
        ],
    ),
    "get_seller_orders": (
        "OrderService.asmx",
        "GetSellerOrders",
        lambda c: c.get_seller_orders(
            SELLER,
            datetime(2026, 11, 23, 12, 45, tzinfo=STOCKHOLM_WINTER),
            datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
            mode="updated",
        ),
        [
            SellerOrder(
                order_id=88120031,
                created_at=datetime(2026, 11, 23, 11, 50, 12, tzinfo=UTC),
                updated_at=datetime(2026, 11, 23, 11, 51, 40, 500000, tzinfo=UTC),
                sub_total=820,
                shipping_cost=149,
                buyer=Buyer(member_id=4711, alias="bilmekaniker_umea"),
                lines=(
                    OrderLine(
                        item_id=612345678,
                        title="Volvo XC90 bromsok fram vänster 2018",
                        quantity=1,
                        unit_price=820,
                        own_references=(RHEO_REF,),
                    ),
                ),
            )
        ],
    ),
    "fetch_token": (
        "PublicService.asmx",
        "FetchToken",
        lambda c: c.fetch_token(5550001, "6f1c2a9e-58b4-4e0f-9d8a-2b7c4f3e1a90"),
        Token("seller-token-abc", datetime(2028, 5, 23, 10, 0, tzinfo=UTC)),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_each_call_sends_the_recorded_request_and_reads_the_recorded_answer(recorder, name):
    service, operation, call, expected = CASES[name]
    recorder.answer(200, f"{name}.response.xml")

    result = call(tradera(recorder))

    sent = recorder.last
    assert normalised(sent.body) == normalised((RECORDED / f"{name}.request.xml").read_bytes())
    assert sent.path == f"/v3/{service}"
    assert sent.headers["SOAPAction"] == f'"http://api.tradera.com/{operation}"'
    assert sent.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert result == expected
    if name == "get_seller_items":  # times compare as instants: check the zone too
        assert [_offsets(a) for a in result] == [_offsets(a) for a in expected]


def _offsets(value):
    return [v.utcoffset() for v in vars(value).values() if isinstance(v, datetime)]


def test_no_ended_items_read_as_an_empty_list(recorder):
    recorder.answer(
        200,
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap='
        '"http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetSellerItemsResponse '
        'xmlns="http://api.tradera.com"><GetSellerItemsResult /></GetSellerItemsResponse>'
        "</soap:Body></soap:Envelope>",
    )

    now = datetime.now(UTC)
    assert tradera(recorder).get_seller_items(SELLER, now, now) == []


def test_times_without_a_zone_are_read_as_stockholm_time(recorder):
    recorder.answer(200, "fetch_token.response.xml")

    token = tradera(recorder).fetch_token(5550001, "6f1c2a9e-58b4-4e0f-9d8a-2b7c4f3e1a90")

    assert token.hard_expiration == datetime(2028, 5, 23, 10, 0, tzinfo=UTC)  # CEST, UTC+2


def test_result_flags_read_space_or_comma_separated():
    results = {
        r.request_id: r
        for r in [
            RequestResult(1, frozenset({"Ok"})),
            RequestResult(2, frozenset({"Error", "TryAgain"}), "busy"),
            RequestResult(3, frozenset({"Error"}), "Bad category"),
            RequestResult(4, frozenset({"WaitingToBeProcessed"})),
        ]
    }

    assert results[1].ok and results[1].error() is None
    assert results[2].error().code == "try_again" and not results[2].error().permanent
    assert results[3].error().code == "refused" and results[3].error().message == "Bad category"
    assert results[4].pending and results[4].error() is None


def test_a_soap_fault_is_a_permanent_refusal_with_traderas_reason(recorder):
    recorder.answer(500, "fault.response.xml")

    with pytest.raises(TraderaError) as refused:
        tradera(recorder).add_item(SELLER, CALIPER)

    assert refused.value.code == "refused"
    assert refused.value.permanent
    assert refused.value.message == "ItemAttributes are missing"


@pytest.mark.parametrize(
    ("status", "body", "headers", "code", "permanent", "retry_after"),
    [
        (403, "Forbidden", {}, "token_invalid", True, None),
        (429, "Too many", {"Retry-After": "3600"}, "quota_exceeded", False, 3600.0),
        (429, "Too many", {}, "quota_exceeded", False, None),
        (500, "<html>IIS</html>", {}, "server_error", False, None),
        (503, "", {}, "server_error", False, None),
        (404, "Not found", {}, "http_error", True, None),
        (200, "<html>not soap", {}, "malformed_response", True, None),
    ],
)
def test_http_answers_become_transient_or_permanent_errors(
    recorder, status, body, headers, code, permanent, retry_after
):
    recorder.answer(status, body, **headers)

    with pytest.raises(TraderaError) as failed:
        tradera(recorder).end_item(SELLER, 612345678)

    assert (failed.value.code, failed.value.permanent) == (code, permanent)
    assert failed.value.retry_after == retry_after


def test_a_403_without_a_seller_blames_the_applications_keys(recorder):
    recorder.answer(403, "Forbidden")

    with pytest.raises(TraderaError) as failed:
        tradera(recorder).fetch_token(5550001, "6f1c2a9e-58b4-4e0f-9d8a-2b7c4f3e1a90")

    assert failed.value.code == "forbidden" and failed.value.permanent


def test_retry_after_as_an_http_date_is_read_as_seconds(recorder):
    later = datetime.now(UTC) + timedelta(minutes=10)
    recorder.answer(429, "", **{"Retry-After": later.strftime("%a, %d %b %Y %H:%M:%S GMT")})

    with pytest.raises(TraderaError) as failed:
        tradera(recorder).end_item(SELLER, 1)

    assert 590 <= failed.value.retry_after <= 600


def test_nothing_listening_is_a_transient_connection_error(recorder):
    recorder.close()
    client = tradera(recorder)

    with pytest.raises(TraderaError) as failed:
        client.end_item(SELLER, 1)

    assert failed.value.code == "connection" and not failed.value.permanent
