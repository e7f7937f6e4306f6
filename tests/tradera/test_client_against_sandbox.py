"""The client against the sandbox over real HTTP: the queued publish flow, Tradera's
refusals, transient failures, and what the sync reads."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.tradera.conftest import auction
from tradera.client import CONDITION_NEW, Shipping, TraderaClient, TraderaError

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


def publish(client, seller, item=None):
    queued = client.add_item(seller, item or auction())
    client.add_item_commit(seller, queued.request_id)
    return queued


def listed(client, seller, item_id, active="all"):
    """The auction as GetSellerItems tells it (None: not among the seller's auctions)."""
    now = datetime.now(UTC)
    found = client.get_seller_items(
        seller, now - timedelta(days=60), now + timedelta(days=60), active
    )
    return next((a for a in found if a.item_id == item_id), None)


def failure(call) -> TraderaError:
    with pytest.raises(TraderaError) as raised:
        call()
    return raised.value


class TestQueuedPublishing:
    def test_an_item_goes_live_once_committed_with_its_images(self, client, seller, sandbox):
        queued = client.add_item(seller, auction(own_references=("rheo:abc",)))
        client.add_item_image(seller, queued.request_id, JPEG, "jpeg")
        client.add_item_image(seller, queued.request_id, JPEG, "png")
        assert client.get_request_results(seller, [queued.request_id]) == []

        client.add_item_commit(seller, queued.request_id)

        [result] = client.get_request_results(seller, [queued.request_id])
        assert result.request_id == queued.request_id and result.ok
        state = listed(client, seller, queued.item_id)
        assert state.item_id == queued.item_id
        assert state.own_references == ("rheo:abc",)
        assert not state.ended and state.opening_bid == 500
        assert state.item_link == f"https://www.tradera.com/item/{queued.item_id}"
        assert sandbox.auction(queued.item_id)["images"] == 2

    def test_a_request_never_committed_never_goes_live(self, client, seller, sandbox):
        queued = client.add_item(seller, auction())

        sandbox.advance(days=30)

        assert client.get_request_results(seller, [queued.request_id]) == []
        assert listed(client, seller, queued.item_id) is None

    def test_a_request_is_pending_until_tradera_has_processed_it(self, client, seller, sandbox):
        sandbox.settings(processingSeconds=60)
        queued = publish(client, seller)
        assert client.get_request_results(seller, [queued.request_id]) == []

        sandbox.advance(seconds=61)

        assert client.get_request_results(seller, [queued.request_id])[0].ok

    def test_one_call_reads_the_results_of_many_requests(self, client, seller, sandbox):
        queued = [publish(client, seller) for _ in range(5)]

        results = client.get_request_results(seller, [q.request_id for q in queued])

        assert sorted(r.request_id for r in results) == [q.request_id for q in queued]
        assert sandbox.calls()["GetRequestResults"] == 1

    def test_images_are_refused_after_the_commit(self, client, seller):
        queued = publish(client, seller)

        refused = failure(lambda: client.add_item_image(seller, queued.request_id, JPEG, "jpeg"))

        assert refused.code == "refused" and "already committed" in refused.message

    def test_an_image_over_4_mb_is_refused(self, client, seller):
        queued = client.add_item(seller, auction())
        too_big = b"\xff" * (4 * 1024 * 1024 + 1)

        refused = failure(lambda: client.add_item_image(seller, queued.request_id, too_big, "jpeg"))

        assert refused.code == "refused" and "4 MB" in refused.message


class TestTraderasRules:
    @pytest.mark.parametrize(
        ("item", "reason"),
        [
            (auction(title="x" * 81), "at most 80"),
            (auction(item_attributes=()), "ItemAttributes are missing"),
            (auction(duration_days=15), "Duration must be between 1 and 14"),
            (auction(start_price=0), "StartPrice must be at least 1"),
            (auction(reserve_price=400), "ReservePrice must be higher"),
            (auction(reserve_price=800, buy_now_price=700), "BuyItNowPrice must be higher"),
            (auction(own_references=("r" * 61,)), "at most 60"),
            (auction(accepted_bidder_id=0), "AcceptedBidderId"),
        ],
    )
    def test_an_item_tradera_would_refuse_is_refused_permanently(
        self, client, seller, item, reason
    ):
        refused = failure(lambda: client.add_item(seller, item))

        assert refused.code == "refused" and refused.permanent
        assert reason in refused.message

    def test_a_title_of_80_characters_and_a_new_part_are_accepted(self, client, seller):
        queued = client.add_item(seller, auction(title="x" * 80, item_attributes=(CONDITION_NEW,)))

        assert queued.item_id > 0

    def test_three_shipping_options_only_with_pickup(self, client, seller):
        three = (Shipping(1, 99), Shipping(12, 149), Shipping(2, 199))
        with_pickup = (Shipping(1, 99), Shipping(12, 149), Shipping(8, 0))

        assert failure(lambda: client.add_item(seller, auction(shipping=three))).code == "refused"
        assert client.add_item(seller, auction(shipping=with_pickup)).item_id


class TestFailures:
    def test_an_expired_token_is_permanent(self, client, seller, sandbox):
        sandbox.expire_token(seller)

        expired = failure(lambda: client.add_item(seller, auction()))

        assert expired.code == "token_invalid" and expired.permanent

    def test_an_injected_expired_token_is_permanent(self, client, seller, sandbox):
        sandbox.fail("expired_token", operation="GetSellerOrders")

        expired = failure(lambda: client.get_seller_orders(seller, *_around_now()))

        assert expired.code == "token_invalid" and expired.permanent
        assert client.get_seller_orders(seller, *_around_now()) == []  # only the next call

    def test_a_server_error_is_transient(self, client, seller, sandbox):
        sandbox.fail("server_error", operation="AddItem")

        broken = failure(lambda: client.add_item(seller, auction()))

        assert broken.code == "server_error" and not broken.permanent

    def test_a_timeout_is_transient(self, client, seller, sandbox):
        sandbox.fail("timeout", operation="GetRequestResults", seconds=1.0)

        slow = failure(lambda: client.get_request_results(seller, [1]))

        assert slow.code == "timeout" and not slow.permanent

    def test_a_refusal_carries_traderas_reason(self, client, seller, sandbox):
        sandbox.fail("refuse", operation="AddItem", reason="Category 1000860 is closed")

        refused = failure(lambda: client.add_item(seller, auction()))

        assert (refused.code, refused.message) == ("refused", "Category 1000860 is closed")

    def test_an_injected_quota_error_is_transient_with_its_retry_time(
        self, client, seller, sandbox
    ):
        sandbox.fail("quota", operation="GetSellerItems", seconds=900)

        quota = failure(lambda: listed(client, seller, 1))

        assert quota.code == "quota_exceeded" and not quota.permanent and quota.deferred
        assert quota.retry_after == 900

    def test_the_sandbox_enforces_its_call_quota(self, client, seller, sandbox):
        sandbox.settings(quota=2, quotaWindowSeconds=3600)
        client.end_item(seller, 1)
        client.get_seller_orders(seller, *_around_now())

        quota = failure(lambda: listed(client, seller, 1))

        assert quota.code == "quota_exceeded"
        assert 3590 <= quota.retry_after <= 3600

    def test_wrong_application_keys_are_refused(self, sandbox):
        stranger = TraderaClient(sandbox.api_url, app_id=1, app_key="wrong", timeout=0.5)

        assert failure(lambda: stranger.fetch_token(1, str(uuid.uuid4()))).code == "forbidden"


class TestWatching:
    def test_seller_items_list_the_auctions_that_ended_in_the_window(self, client, seller, sandbox):
        unsold, won, running = (publish(client, seller) for _ in range(3))
        sandbox.end(unsold.item_id)
        sandbox.bid(won.item_id, 600)
        sandbox.end(won.item_id)
        now = datetime.now(UTC)

        ended = client.get_seller_items(seller, now - timedelta(minutes=5), now + timedelta(days=1))

        assert [(a.item_id, a.ended, a.got_winner) for a in ended] == [
            (unsold.item_id, True, False),
            (won.item_id, True, True),
        ]
        assert ended[1].max_bid == 600 and ended[1].total_bids == 1
        assert (
            client.get_seller_items(seller, now + timedelta(minutes=5), now + timedelta(days=1))
            == []
        )
        assert [
            a.item_id
            for a in client.get_seller_items(seller, now, now + timedelta(days=8), "active")
        ] == [running.item_id]
        assert sandbox.calls()["GetSellerItems"] == 3

    def test_other_sellers_items_are_not_listed(self, client, seller, sandbox):
        other = publish(client, sandbox.seller("Bildelar Norr AB"))

        assert listed(client, seller, other.item_id) is None

    def test_an_order_tradera_makes_after_the_end_shows_as_a_winner_first(
        self, client, seller, sandbox
    ):
        sandbox.settings(orderSeconds=60)
        queued = publish(client, seller)
        sandbox.bid(queued.item_id, 700)
        sandbox.end(queued.item_id)

        assert listed(client, seller, queued.item_id, "inactive").got_winner
        assert client.get_seller_orders(seller, *_around_now()) == []

        sandbox.advance(seconds=61)

        [order] = client.get_seller_orders(seller, *_around_now())
        assert order.lines[0].item_id == queued.item_id

    def test_a_buy_now_becomes_an_order_with_our_own_references(self, client, seller, sandbox):
        queued = publish(client, seller, auction(buy_now_price=900, own_references=("rheo:42",)))

        sandbox.buy_now(queued.item_id, buyer="verkstad_lulea")

        [order] = client.get_seller_orders(seller, *_around_now())
        assert order.sub_total == 900 and order.shipping_cost == 149
        assert order.buyer.alias == "verkstad_lulea"
        [line] = order.lines
        assert (line.item_id, line.unit_price, line.own_references) == (
            queued.item_id,
            900,
            ("rheo:42",),
        )
        assert listed(client, seller, queued.item_id).ended

    def test_a_won_auction_becomes_an_order_when_it_ends(self, client, seller, sandbox):
        queued = publish(client, seller, auction(reserve_price=700))
        sandbox.bid(queued.item_id, 650, "first")
        sandbox.bid(queued.item_id, 720, "second")
        assert client.get_seller_orders(seller, *_around_now()) == []

        sandbox.advance(days=7)

        [order] = client.get_seller_orders(seller, *_around_now(days=8))
        assert order.lines[0].item_id == queued.item_id and order.sub_total == 720
        state = listed(client, seller, queued.item_id, "inactive")
        assert (state.ended, state.got_winner, state.max_bid, state.total_bids) == (
            True,
            True,
            720,
            2,
        )

    def test_an_auction_below_its_reserve_ends_unsold(self, client, seller, sandbox):
        queued = publish(client, seller, auction(reserve_price=700))
        sandbox.bid(queued.item_id, 650)

        sandbox.end(queued.item_id)

        state = listed(client, seller, queued.item_id, "inactive")
        assert state.ended and not state.got_winner and not state.reserve_price_reached
        assert client.get_seller_orders(seller, *_around_now()) == []

    def test_the_accelerated_clock_ends_auctions(self, client, seller, sandbox):
        queued = publish(client, seller, auction(duration_days=3))
        state = listed(client, seller, queued.item_id)
        lasts = (state.end_date - state.start_date).total_seconds()
        assert lasts == pytest.approx(3, abs=0.001)  # one auction day lasts a second here

        sandbox.advance(days=2.9)
        assert not listed(client, seller, queued.item_id).ended
        sandbox.advance(days=0.2)
        assert listed(client, seller, queued.item_id).ended


class TestChangingARunningAuction:
    def test_end_item_ends_an_auction_without_bids(self, client, seller):
        queued = publish(client, seller)

        assert client.end_item(seller, queued.item_id) is True
        assert listed(client, seller, queued.item_id).ended

    def test_end_item_is_refused_once_there_are_bids(self, client, seller, sandbox):
        queued = publish(client, seller)
        sandbox.bid(queued.item_id, 500)

        assert client.end_item(seller, queued.item_id) is False
        assert not listed(client, seller, queued.item_id).ended

    def test_prices_change_while_there_are_no_bids(self, client, seller, sandbox):
        queued = publish(client, seller, auction(reserve_price=800))

        change = client.set_prices(
            seller, queued.item_id, 400, reserve_price=700, buy_now_price=990
        )

        assert change.ok and change.errors == ()
        assert sandbox.auction(queued.item_id)["buyNowPrice"] == 990

    def test_prices_are_refused_once_there_are_bids(self, client, seller, sandbox):
        queued = publish(client, seller)
        sandbox.bid(queued.item_id, 550)

        change = client.set_prices(seller, queued.item_id, 400)

        assert not change.ok
        assert change.errors == ("Prices cannot be changed on an item with bids.",)

    def test_a_reserve_cannot_be_removed(self, client, seller):
        queued = publish(client, seller, auction(reserve_price=800))

        change = client.set_prices(seller, queued.item_id, 400)

        assert change.errors == ("A reserve price cannot be removed.",)


def _around_now(days: float = 1):
    now = datetime.now(UTC)
    return now - timedelta(days=1), now + timedelta(days=days)
