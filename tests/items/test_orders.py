"""Orders in the marketplace: a buyer orders on the item page, the order reserves the part,
staff move it along in admin, completion sells the part (platform rheo), ends its Tradera
auction and tells the partner with item.sold; cancelling releases it."""

import json
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client

from items import orders
from items.models import Item, ItemActivity, Order
from partners.models import User
from rheo.errors import ServiceError
from tests.conftest import integration, needs_postgres
from tests.items.market import (
    ORDER_FORM,
    csrf_token,
    listed,
    order_on_page,
    order_placed,
    titles,
)
from tests.tradera.conftest import (  # noqa: F401 - fixtures
    photo,
    push,
    rheo_on_the_sandbox,
    sandbox,
    sandbox_server,
)
from tests.tradera.test_connect import (  # noqa: F401 - a fixture
    consent_at_tradera,
    live_tradera_is_the_sandbox,
)
from tests.webhooks.conftest import Receiver
from tradera import connect
from tradera import sync as tradera_sync
from tradera.models import TraderaAccount, TraderaListing
from webhooks import services as webhooks
from webhooks.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    """A Rheo staff member, logged in to admin."""
    user = User.objects.create_superuser(email="staff@rheo.example", password="pw-for-tests")
    client = Client()
    client.force_login(user)
    return client


def admin_action(staff, action: str, *orders_):
    """Staff tick the orders in admin's order list and run the action."""
    response = staff.post(
        "/admin/items/order/",
        {"action": action, "_selected_action": [str(o.pk) for o in orders_]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def status_of(order: Order) -> str:
    return Order.objects.get(pk=order.pk).status


def timeline(item: Item) -> list[str]:
    return list(
        ItemActivity.objects.filter(item=item, kind="order").values_list("message", flat=True)
    )


def sold_events() -> list[dict]:
    return [json.loads(e.body) for e in Event.objects.filter(event_type="item.sold")]


class TestPlacingAnOrder:
    def test_an_order_reserves_the_part_and_the_buyer_sees_a_confirmation(self, client, partner_a):
        item = listed(partner_a, price=950, shippingCost=149)

        response = order_on_page(client, item)

        order = Order.objects.get()
        assert response.status_code == 302
        assert response["Location"] == f"/orders/{order.access_key}/"
        page = client.get(response["Location"]).content.decode()
        assert f"Beställning {order.reference}" in page
        assert "Delen är reserverad för dig" in page
        assert "Volvo XC90 bromsok fram vänster — 2018" in page
        assert "1\N{NARROW NO-BREAK SPACE}099\N{NO-BREAK SPACE}kr" in page  # with shipping
        assert "Storgatan 1<br>" in page
        assert "411 05 Göteborg" in page  # the postal code as Sweden writes it
        # What the buyer agreed to is kept with the order.
        assert (order.status, order.price, order.shipping_cost) == ("pending", 950, 149)
        assert order.item_title == "Volvo XC90 bromsok fram vänster — 2018"
        assert (order.buyer_name, order.buyer_email, order.buyer_phone) == (
            "Anna Svensson",
            "anna@example.se",
            "070-123 45 67",
        )
        # Reserved: gone from the front page; its page says so and takes no order.
        assert titles(client.get("/").content.decode()) == []
        item_page = client.get(f"/parts/{item.id}/").content.decode()
        assert "Reserverad" in item_page
        assert 'name="csrfmiddlewaretoken"' not in item_page
        # The item itself stays active: a reservation is no change of the partner's item.
        assert Item.objects.get(pk=item.pk).status == "active"
        assert timeline(item) == [
            f"Order {order.reference} placed in the Rheo marketplace "
            "(1\N{NARROW NO-BREAK SPACE}099\N{NO-BREAK SPACE}kr with shipping); "
            "the part is reserved."
        ]

    def test_the_buyer_gets_an_email_with_the_link_to_the_order(self, client, partner_a, committed):
        item = listed(partner_a)

        with committed():
            order_on_page(client, item)

        order = Order.objects.get()
        [email] = mail.outbox
        assert email.to == ["anna@example.se"]
        assert email.subject == f"Tack för din beställning {order.reference}"
        assert "Delen är reserverad för dig" in email.body
        assert "Totalt: 1\N{NARROW NO-BREAK SPACE}099\N{NO-BREAK SPACE}kr" in email.body
        link = f"http://localhost:8000/orders/{order.access_key}/"
        assert link in email.body
        assert client.get(link.removeprefix("http://localhost:8000")).status_code == 200

    def test_a_second_order_for_a_reserved_part_is_refused(self, client, partner_a):
        item = listed(partner_a)
        order_on_page(client, item)

        response = order_on_page(Client(), item, email="bertil@example.se")

        assert response.status_code == 409
        assert "reserverad för en annan beställning" in response.content.decode()
        assert Order.objects.count() == 1

    def test_an_order_is_refused_when_the_price_changed_since_the_page_was_read(
        self, client, partner_a, api_a
    ):
        item = listed(partner_a, price=950, shippingCost=149)
        page = client.get(f"/parts/{item.id}/").content.decode()
        assert 'name="total" value="1099.00"' in page
        api_a.patch_price("P1", {"price": 1200})

        response = order_on_page(client, item, total="1099.00")

        page = response.content.decode()
        assert response.status_code == 409
        assert "Priset har ändrats" in page
        assert 'name="total" value="1349.00"' in page  # the new price, to agree to
        assert 'value="Storgatan 1"' in page
        assert Order.objects.count() == 0
        assert order_on_page(client, item, total="1349.00").status_code == 302
        assert Order.objects.get().price == 1200

    def test_mistakes_in_the_form_are_shown_and_nothing_is_ordered(self, client, partner_a):
        item = listed(partner_a)

        response = order_on_page(
            client, item, name="", email="anna-at-example", postal_code="4110", phone="ring"
        )

        page = response.content.decode()
        assert response.status_code == 400
        assert "Det här fältet är obligatoriskt." in page  # the name (Django's Swedish)
        assert "Ange en giltig mejladress." in page
        assert "Ange ett svenskt postnummer med fem siffror" in page
        assert "Ange ett telefonnummer med siffror" in page
        assert 'value="Storgatan 1"' in page  # what was right is kept
        assert Order.objects.count() == 0

    def test_an_order_needs_the_csrf_token_of_the_page(self, partner_a):
        item = listed(partner_a)
        buyer = Client(enforce_csrf_checks=True)

        forged = order_on_page(buyer, item)
        token = csrf_token(buyer.get(f"/parts/{item.id}/").content.decode())
        genuine = order_on_page(buyer, item, csrfmiddlewaretoken=token)

        assert forged.status_code == 403
        assert genuine.status_code == 302
        assert Order.objects.count() == 1

    def test_a_part_no_longer_for_sale_cannot_be_ordered(self, client, partner_a, api_a):
        item = listed(partner_a)
        api_a.patch_status("P1", {"status": "not_listed"})

        assert order_on_page(client, item).status_code == 404
        assert Order.objects.count() == 0

    def test_a_test_item_cannot_be_ordered(self, client, partner_a):
        item = listed(partner_a, "T1", livemode=False)

        assert order_on_page(client, item).status_code == 404
        with pytest.raises(ServiceError):
            order_placed(item)
        assert Order.objects.count() == 0

    def test_orders_are_only_posted(self, client, partner_a):
        item = listed(partner_a)

        assert client.get(f"/parts/{item.id}/order/").status_code == 405

    def test_one_address_can_place_only_a_few_orders_at_a_time(self, client, partner_a, settings):
        settings.RHEO_RATE_LIMITS = {**settings.RHEO_RATE_LIMITS, "market-order": "2/600s"}
        parts = [listed(partner_a, f"P{n}") for n in range(3)]
        # An address of its own (the count lives in Redis, beyond this test).
        address = {"REMOTE_ADDR": f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"}

        statuses = [
            client.post(f"/parts/{p.id}/order/", ORDER_FORM, **address).status_code for p in parts
        ]
        refused = client.post(f"/parts/{parts[2].id}/order/", ORDER_FORM, **address)

        assert statuses == [302, 302, 429]
        assert int(refused["Retry-After"]) > 0
        assert "Försök igen om en stund" in refused.content.decode()
        assert Order.objects.count() == 2


class TestTheOrderPage:
    def test_the_order_page_needs_its_unguessable_key(self, client, partner_a):
        order = order_placed(listed(partner_a))

        assert client.get(f"/orders/{order.access_key}/").status_code == 200
        assert client.get(f"/orders/{order.reference}/").status_code == 404
        assert client.get(f"/orders/{order.access_key[:-1]}x/").status_code == 404
        assert len(order.access_key) >= 43  # 256 random bits

    def test_the_order_page_is_never_cached_or_indexed(self, client, partner_a):
        order = order_placed(listed(partner_a))

        response = client.get(f"/orders/{order.access_key}/")

        assert "no-store" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]
        assert response["X-Robots-Tag"] == "noindex"


@needs_postgres
def test_two_buyers_at_once_make_one_order(transactional_db, live_server, partner_a):
    item = listed(partner_a)
    url = f"{live_server.url}/parts/{item.id}/"
    buyers = 5
    barrier = threading.Barrier(buyers)

    def buy(n: int) -> int:
        session = requests.Session()
        token = csrf_token(session.get(url, timeout=10).text)
        form = {**ORDER_FORM, "email": f"buyer{n}@example.se", "csrfmiddlewaretoken": token}
        barrier.wait()
        return session.post(f"{url}order/", data=form, allow_redirects=False, timeout=30)

    with ThreadPoolExecutor(buyers) as pool:
        statuses = sorted(r.status_code for r in pool.map(buy, range(buyers)))

    assert statuses == [302] + [409] * (buyers - 1)
    assert Order.objects.filter(item=item).count() == 1


class TestStaffMoveOrders:
    def test_paid_then_shipped_then_completed(self, staff, partner_a, committed):
        item = listed(partner_a, price=950)
        order = order_placed(item)

        with committed():
            paid = admin_action(staff, "mark_paid", order)
            shipped = admin_action(staff, "mark_shipped", order)
            completed = admin_action(staff, "mark_completed", order)

        assert (paid, shipped, completed) == (
            ["1 marked paid."],
            ["1 marked shipped."],
            ["1 completed."],
        )
        order = Order.objects.get(pk=order.pk)
        assert order.status == "completed"
        assert order.paid_at <= order.shipped_at <= order.completed_at
        item = Item.objects.get(pk=item.pk)
        assert (item.status, item.sold_platform, item.sale_price) == ("sold", "rheo", 950)
        assert timeline(item)[1:] == [
            f"Order {order.reference} paid.",
            f"Order {order.reference} shipped to the buyer.",
            f"Order {order.reference} completed.",
        ]
        assert ItemActivity.objects.get(item=item, kind="sold").message == (
            "Sold on Rheo for 950\N{NO-BREAK SPACE}kr"
        )
        # The buyer heard of each step.
        assert [m.subject for m in mail.outbox] == [
            f"Betalning mottagen för {order.reference}",
            f"Din beställning {order.reference} är skickad",
        ]

    def test_completion_tells_the_partner_item_sold_on_rheo(
        self, staff, partner_a, committed, worker
    ):
        receiver = Receiver()
        webhooks.configure_endpoint(
            partner=partner_a,
            livemode=True,
            url=receiver.url(),
            enabled=True,
            event_types=["item.sold"],
        )
        item = listed(partner_a, "ERP_PART_12345", price=1100)
        order = order_placed(item)
        for action in ("mark_paid", "mark_shipped"):
            admin_action(staff, action, order)

        with committed():
            admin_action(staff, "mark_completed", order)
        worker()

        [event] = sold_events()
        assert event["eventType"] == "item.sold"
        assert event["data"] == {
            "externalId": "ERP_PART_12345",
            "rheoItemId": str(item.id),
            "platform": "rheo",
            "salePrice": 1100,
            "currency": "SEK",
            "traderaAdId": None,
            "traderaAdUrl": None,
            "sequence": 1,  # the item's first event
        }
        [delivered] = receiver.received
        assert json.loads(delivered.body) == event
        receiver.close()

    def test_a_move_out_of_turn_is_refused_with_a_message(self, staff, partner_a):
        order = order_placed(listed(partner_a))

        messages = admin_action(staff, "mark_completed", order)

        assert messages == [
            "0 completed; 1 skipped (An order that is pending cannot become completed): "
            f"Order {order.reference}."
        ]
        assert status_of(order) == "pending"
        assert Item.objects.get(pk=order.item_id).status == "active"

    def test_each_selected_order_is_moved_or_skipped_with_the_reason(self, staff, partner_a):
        pending = order_placed(listed(partner_a, "P1"))
        paid = order_placed(listed(partner_a, "P2"))
        shipped = order_placed(listed(partner_a, "P3"))
        for order in (paid, shipped):
            orders.mark_order_paid(order_id=order.pk)
        orders.mark_order_shipped(order_id=shipped.pk)

        messages = admin_action(staff, "mark_shipped", pending, paid, shipped)

        assert messages == [
            "1 marked shipped; "
            "1 skipped (An order that is pending cannot become shipped): "
            f"Order {pending.reference}; "
            f"1 skipped (already shipped): Order {shipped.reference}."
        ]
        assert [status_of(o) for o in (pending, paid, shipped)] == ["pending", "shipped", "shipped"]

    def test_staff_who_may_only_look_cannot_move_orders(self, partner_a):
        user = User.objects.create_user(
            email="intern@rheo.example", password="pw-for-tests", is_staff=True
        )
        user.user_permissions.add(Permission.objects.get(codename="view_order"))
        intern = Client()
        intern.force_login(user)
        order = order_placed(listed(partner_a))

        listing = intern.get("/admin/items/order/")
        intern.post(
            "/admin/items/order/", {"action": "mark_paid", "_selected_action": [str(order.pk)]}
        )

        assert listing.status_code == 200
        assert order.reference in listing.content.decode()
        assert 'value="mark_paid"' not in listing.content.decode()
        assert status_of(order) == "pending"

    def test_the_order_list_finds_orders_by_reference_buyer_or_part(self, staff, partner_a):
        order = order_placed(listed(partner_a, "ERP_PART_12345"))
        other = order_placed(listed(partner_a, "OTHER"))

        for query in (order.reference, "ERP_PART_12345"):
            page = staff.get("/admin/items/order/", {"q": query}).content.decode()
            assert order.reference in page
            assert other.reference not in page
        page = staff.get("/admin/items/order/", {"status__exact": "pending"}).content.decode()
        assert order.reference in page and other.reference in page
        detail = staff.get(f"/admin/items/order/{order.pk}/change/").content.decode()
        assert "Storgatan 1" in detail
        assert order.access_key in detail  # the buyer's page, for staff to send again


class TestCancelling:
    def test_a_cancelled_order_releases_the_part(self, client, staff, partner_a, committed):
        item = listed(partner_a, title="Bromsok")
        order_on_page(client, item)
        order = Order.objects.get()
        orders.mark_order_paid(order_id=order.pk)

        with committed():
            messages = admin_action(staff, "cancel", order)

        assert messages == ["1 cancelled."]
        order = Order.objects.get(pk=order.pk)
        assert (order.status, order.cancel_reason) == ("cancelled", "staff")
        assert titles(client.get("/").content.decode()) == ["Bromsok"]
        assert 'name="csrfmiddlewaretoken"' in client.get(f"/parts/{item.id}/").content.decode()
        assert timeline(item)[-1] == (
            f"Order {order.reference} cancelled (cancelled by rheo staff); "
            "the part is listed again."
        )
        [email] = mail.outbox
        assert email.subject == f"Din beställning {order.reference} är avbruten"
        assert "Har du redan betalat får du pengarna tillbaka." in email.body
        assert (
            "Din beställning är avbruten."
            in client.get(f"/orders/{order.access_key}/").content.decode()
        )
        # Another buyer may order it now.
        assert order_on_page(Client(), item, email="bertil@example.se").status_code == 302

    @pytest.mark.parametrize("status", ["shipped", "completed", "cancelled"])
    def test_only_an_order_in_progress_can_be_cancelled(self, staff, partner_a, status):
        order = order_placed(listed(partner_a))
        steps = {
            "shipped": [orders.mark_order_paid, orders.mark_order_shipped],
            "completed": [orders.mark_order_paid, orders.mark_order_shipped, orders.complete_order],
            "cancelled": [orders.cancel_order],
        }
        for step in steps[status]:
            step(order_id=order.pk)

        messages = admin_action(staff, "cancel", order)

        if status == "shipped":  # the buyer sends it back, say
            assert messages == ["1 cancelled."]
        elif status == "cancelled":
            assert messages == [
                f"0 cancelled; 1 skipped (already cancelled): Order {order.reference}."
            ]
        else:
            assert messages == [
                "0 cancelled; 1 skipped (An order that is completed cannot become cancelled): "
                f"Order {order.reference}."
            ]
            assert status_of(order) == "completed"

    def test_an_unpaid_order_is_cancelled_after_the_payment_days(
        self, client, partner_a, clock, settings
    ):
        settings.RHEO_ORDER_PAYMENT_DAYS = 7
        item = listed(partner_a, title="Bromsok")
        unpaid = order_placed(item)
        paid = order_placed(listed(partner_a, "P2", title="Backspegel"))
        orders.mark_order_paid(order_id=paid.pk)

        clock.shift(timedelta(days=6))
        assert orders.expire_unpaid_orders() == 0
        clock.shift(timedelta(days=1, minutes=1))
        assert orders.expire_unpaid_orders() == 1

        assert status_of(unpaid) == "cancelled"
        assert Order.objects.get(pk=unpaid.pk).cancel_reason == "not_paid"
        assert status_of(paid) == "paid"
        assert titles(client.get("/").content.decode()) == ["Bromsok"]


class TestAnItemDeletedWhileOrdered:
    def test_completion_still_sells_it(self, api_a, partner_a, staff, committed):
        item = listed(partner_a, "P1", price=950)
        order = order_placed(item)
        orders.mark_order_paid(order_id=order.pk)
        orders.mark_order_shipped(order_id=order.pk)
        api_a.delete("P1")
        assert api_a.get("P1").json()["rheoStatus"] == "archived"

        with committed():
            admin_action(staff, "mark_completed", order)

        assert api_a.get("P1").json()["rheoStatus"] == "sold"
        [event] = sold_events()
        assert (event["data"]["platform"], event["data"]["salePrice"]) == ("rheo", 950)

    def test_cancellation_deletes_it_as_the_partner_asked(self, api_a, partner_a, staff):
        item = listed(partner_a, "P1")
        order = order_placed(item)
        api_a.delete("P1")

        admin_action(staff, "cancel", order)

        assert api_a.get("P1").status_code == 404
        assert Item.objects.get(pk=item.pk).deleted_at is not None
        assert timeline(item)[-1].endswith(
            "the partner had deleted the item meanwhile, so it is deleted now."
        )
        # The id is free for a new item, as after any deletion.
        assert api_a.put("P1").json()["itemId"] != str(item.id)


class TestIsolation:
    def test_an_order_touches_only_its_own_partners_item(
        self, client, api_a, api_b, partner_a, partner_b
    ):
        item_a = listed(partner_a, "P1", title="Från Recopart")
        listed(partner_b, "P1", title="Från Bildelar Norr")
        listed(partner_a, "P1", livemode=False, title="Testläge")
        order_on_page(client, item_a)

        # partner_b's item of the same external id is still for sale and free to delete.
        assert titles(client.get("/").content.decode()) == ["Från Bildelar Norr"]
        assert api_b.delete("P1").json()["message"] == "Item deleted."
        # partner_a's test item of that id is its own: its status can change.
        assert api_a.patch_status("P1", {"status": "not_listed"}).status_code == 409
        test_api = integration(partner_a, "test")
        assert test_api.patch_status("P1", {"status": "not_listed"}).status_code == 202

    def test_item_sold_goes_to_the_items_partner_in_its_mode_only(
        self, partner_a, partner_b, staff
    ):
        order = order_placed(listed(partner_a))
        for action in ("mark_paid", "mark_shipped", "mark_completed"):
            admin_action(staff, action, order)

        [event] = Event.objects.filter(event_type="item.sold")
        assert (event.partner_id, event.livemode) == (partner_a.pk, True)


# --- With Tradera: the auction runs while reserved and ends on completion ---------------


@pytest.fixture
def live_on_the_sandbox(live_tradera_is_the_sandbox, partner_a):  # noqa: F811
    """Live mode's Tradera is the sandbox, and partner_a has connected its seller account
    there through the token login."""
    login = connect.start_connection(livemode=True, accept_url="")  # Tradera's own, at Tradera
    back = consent_at_tradera(login.url)
    user_id = int(parse_qs(urlsplit(back).query)["userId"][0])
    connect.complete_connection(
        partner=partner_a, livemode=True, user_id=user_id, secret_key=login.secret_key
    )


@pytest.fixture
def auction(live_on_the_sandbox, rheo_on_the_sandbox, api_a, committed, worker, photo):  # noqa: F811
    """A live item, published with autoPublishTradera: its running auction's id."""
    push(api_a, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert listing.status == "active"
    return listing.tradera_item_id


class TestWithATraderaAuction:
    def test_the_auction_runs_while_reserved_and_ends_when_the_order_completes(
        self,
        client,
        staff,
        api_a,
        committed,
        worker,
        sandbox,  # noqa: F811
        auction,
    ):
        item = Item.objects.get(external_id="ERP_PART_12345")
        with committed():
            order_on_page(client, item)
        worker()
        assert sandbox.auction(auction)["state"] == "active"
        order = Order.objects.get()

        with committed():
            for action in ("mark_paid", "mark_shipped", "mark_completed"):
                admin_action(staff, action, order)
        worker()

        assert sandbox.auction(auction)["state"] == "ended"
        body = api_a.get("ERP_PART_12345").json()
        assert (body["rheoStatus"], body["traderaStatus"], body["issues"]) == (
            "sold",
            "ended",
            [],
        )
        [event] = sold_events()
        assert event["data"]["platform"] == "rheo"
        assert event["data"]["salePrice"] == 950
        assert event["data"]["traderaAdId"] == str(auction)
        assert event["data"]["traderaAdUrl"] == f"https://www.tradera.com/item/{auction}"

    def test_a_tradera_sale_first_cancels_the_order_and_tells_the_buyer(
        self,
        client,
        api_a,
        committed,
        sandbox,  # noqa: F811
        auction,
    ):
        item = Item.objects.get(external_id="ERP_PART_12345")
        order_on_page(client, item)
        order = Order.objects.get()
        orders.mark_order_paid(order_id=order.pk)
        sandbox.bid(auction, 1100)
        sandbox.end(auction)

        with committed():
            tradera_sync.sync_account(account_id=TraderaAccount.objects.get().pk)

        order = Order.objects.get(pk=order.pk)
        assert (order.status, order.cancel_reason) == ("cancelled", "sold_elsewhere")
        item = Item.objects.get(pk=item.pk)
        assert (item.status, item.sold_platform) == ("sold", "tradera")
        [event] = sold_events()
        assert event["data"]["platform"] == "tradera"
        assert timeline(item)[-1] == (
            f"Order {order.reference} cancelled (sold on tradera first); the item stays sold."
        )
        [email] = mail.outbox
        assert "delen hann säljas på Tradera" in email.body
