"""The Analytics API and the selectors under it, on a known data set: items in every
state, sales on both platforms across months, test items and another partner's items that
must not count. Every figure is checked exactly, and costs one query."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from items import lifecycle, orders, services
from items.models import Item
from items.services import ItemContent
from portal import analytics
from tests.conftest import login
from tests.items.market import order_placed
from tradera import mapping

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def at(clock, *args):
    clock.move_to(datetime(*args, tzinfo=UTC), tick=False)


def create(partner, external_id, title, manufacturer="Volvo", *, livemode=True, price=500) -> Item:
    domain = {"domain": "automotive_part", "manufacturer": manufacturer} if manufacturer else None
    content = ItemContent(
        title=title,
        description="",
        price=Decimal(price),
        shipping_cost=Decimal(0),
        weight_kg=None,
        currency="SEK",
        image_urls=("https://cdn.example.com/1.jpg",),
        domain=domain,
        use_ai_enhancement=False,
    )
    return services.upsert_item(
        partner=partner,
        livemode=livemode,
        external_id=external_id,
        content=content,
        auto_publish_tradera=False,
    ).item


def listed(partner, external_id, title, manufacturer="Volvo", **fields) -> Item:
    """Created, and active once its images are ready (what the pipeline does)."""
    item = create(partner, external_id, title, manufacturer, **fields)
    lifecycle.transition_item(item=item, status=Item.Status.ACTIVE)
    return item


def sell_on_tradera(item, price) -> None:
    """What the sync does when Tradera reports the sale."""
    lifecycle.mark_item_sold(item=item, platform="tradera", price=Decimal(price))


def sell_on_rheo(item) -> None:
    """A buyer's order in the marketplace, paid, shipped and completed by staff."""
    order = order_placed(item)
    for step in (orders.mark_order_paid, orders.mark_order_shipped, orders.complete_order):
        step(order_id=order.pk)


@pytest.fixture
def dataset(clock, partner_a, partner_b):
    """partner_a's live items, in time order. Sales: A0 45 days after creation, A1 35,
    A2 10, A3 about 91.9, A4 about 152.5, A5 19 (median 40)."""
    at(clock, 2025, 10, 1, 12)
    a0 = listed(partner_a, "A0", "Bromsok höger", "Volvo")
    at(clock, 2025, 11, 15, 12)
    sell_on_tradera(a0, 999)  # 13 months ago: outside the last 12 months
    at(clock, 2026, 1, 10, 12)
    a1 = listed(partner_a, "A1", "Bromsok fram vänster", "Volvo")
    at(clock, 2026, 2, 14, 12)
    sell_on_tradera(a1, 1100)
    at(clock, 2026, 3, 1, 12)
    a2 = listed(partner_a, "A2", "Bromsok bak höger", "Volvo", price=800)
    a3 = listed(partner_a, "A3", "Strålkastare vänster", "Saab")
    at(clock, 2026, 3, 11, 12)
    sell_on_rheo(a2)
    at(clock, 2026, 6, 1, 10)
    sell_on_tradera(a3, "2500.50")
    at(clock, 2026, 6, 1, 12)
    a4 = listed(partner_a, "A4", "Generator 14V", "Volvo", price=450)
    at(clock, 2026, 10, 31, 23, 30)  # 00:30 on 1 November in Sweden
    sell_on_rheo(a4)
    at(clock, 2026, 11, 1, 12)
    a5 = listed(partner_a, "A5", "Startmotor", "BMW")
    at(clock, 2026, 11, 20, 12)
    sell_on_tradera(a5, 600)
    services.delete_item(partner=partner_a, livemode=True, external_id="A5")  # still a sale

    at(clock, 2026, 11, 23, 11)
    listed(partner_a, "A6", "Bromsok", "Volvo")  # for sale
    create(partner_a, "A7", "Strålkastare höger", "Saab")  # draft
    listed(partner_a, "A8", "Sidospegel", manufacturer=None)
    services.change_item_status(
        partner=partner_a, livemode=True, external_id="A8", status="not_listed"
    )
    listed(partner_a, "A9", "Generator", "Volvo")  # sold in the partner's own shop
    services.change_item_status(partner=partner_a, livemode=True, external_id="A9", status="sold")
    listed(partner_a, "A10", "Bromsok", "Saab")
    services.delete_item(partner=partner_a, livemode=True, external_id="A10")  # left unsold
    create(partner_a, "A11", "Strålkastare", "Volvo")
    services.delete_item(partner=partner_a, livemode=True, external_id="A11")  # never listed
    order_placed(listed(partner_a, "A12", "Turbo", "Volvo"))  # a buyer's order in progress
    services.delete_item(partner=partner_a, livemode=True, external_id="A12")  # archived

    # Neither partner_a's test items nor partner_b's count in partner_a's live figures.
    sell_on_tradera(listed(partner_a, "T1", "Bromsok", "Volvo", livemode=False), 5000)
    listed(partner_a, "T2", "Generator", "Saab", livemode=False)
    sell_on_tradera(listed(partner_b, "B1", "Bromsok", "Volvo"), 7000)
    listed(partner_b, "B2", "Turbo", "Volvo")
    at(clock, 2026, 11, 23, 12)


def test_inventory_counts_current_items_by_status(dataset, partner_a, django_assert_num_queries):
    with django_assert_num_queries(1):
        figures = analytics.inventory(partner=partner_a, livemode=True)

    assert figures.total == 10
    assert figures.by_status == {
        "draft": 1,
        "active": 1,
        "sold": 6,
        "not_listed": 1,
        "archived": 1,
    }
    assert figures.by_tradera_status == {
        "active": 0,
        "sold": 0,
        "ended": 0,
        "pending_sync": 0,
        "sync_error": 0,
    }
    assert figures.not_on_tradera == 10


def test_revenue_is_per_swedish_calendar_month_and_platform_with_empty_months(
    dataset, partner_a, django_assert_num_queries
):
    with django_assert_num_queries(1):
        months = analytics.revenue_by_month(partner=partner_a, livemode=True)

    assert [f"{m.month:%Y-%m}" for m in months] == [
        "2025-12",
        *(f"2026-{n:02}" for n in range(1, 12)),
    ]
    figures = {
        f"{m.month:%Y-%m}": (m.revenue["tradera"], m.revenue["rheo"], m.sales)
        for m in months
        if m.total
    }
    assert figures == {
        "2026-02": (Decimal("1100"), Decimal(0), {"tradera": 1, "rheo": 0}),
        "2026-03": (Decimal(0), Decimal("800"), {"tradera": 0, "rheo": 1}),
        "2026-06": (Decimal("2500.50"), Decimal(0), {"tradera": 1, "rheo": 0}),
        # The Rheo sale at 23:30 UTC on 31 October is November's in Sweden; the Tradera
        # sale's item was deleted since.
        "2026-11": (Decimal("600"), Decimal("450"), {"tradera": 1, "rheo": 1}),
    }
    assert all(m.revenue == {"tradera": 0, "rheo": 0} for m in months if m.total == 0)

    three = analytics.revenue_by_month(partner=partner_a, livemode=True, months=3)
    assert [(f"{m.month:%Y-%m}", m.total) for m in three] == [
        ("2026-09", 0),
        ("2026-10", 0),
        ("2026-11", Decimal("1050")),
    ]


def test_categories_by_manufacturer_and_by_tradera_category(
    dataset, partner_a, django_assert_num_queries
):
    with django_assert_num_queries(1):
        manufacturers = analytics.by_manufacturer(partner=partner_a, livemode=True)
    with django_assert_num_queries(1):
        categories = analytics.by_category(partner=partner_a, livemode=True)

    # (name, current items, sales, revenue): deleted items count only as sales.
    assert [(m.name, m.items, m.sold, m.revenue) for m in manufacturers] == [
        ("Volvo", 7, 4, Decimal("3349")),
        ("Saab", 2, 1, Decimal("2500.50")),
        ("BMW", 0, 1, Decimal("600")),
        (None, 1, 0, Decimal(0)),
    ]
    assert [(c.key, c.name, c.items, c.sold, c.revenue) for c in categories] == [
        (1000860, "Bromsok", 4, 3, Decimal("2899")),
        (343450, "Strålkastare", 2, 1, Decimal("2500.50")),
        (343482, "Startmotorer", 0, 1, Decimal("600")),
        (343477, "Generatorer", 2, 1, Decimal("450")),
        (343533, "Turbo", 1, 0, Decimal(0)),
        (mapping.OTHER_PARTS, mapping.OTHER_PARTS_NAME, 1, 0, Decimal(0)),
    ]


def test_sell_through_and_median_days_to_sale(dataset, partner_a, django_assert_num_queries):
    with django_assert_num_queries(1):
        sell_through = analytics.sell_through(partner=partner_a, livemode=True)
    with django_assert_num_queries(1):
        median = analytics.median_days_to_sale(partner=partner_a, livemode=True)

    # Sold through Rheo: A0–A5. Unsold: A8 (not listed), A9 (sold in the partner's shop),
    # A10 (deleted while listed). Not counted: A6 (listed), A7 (draft), A11 (a draft,
    # deleted), A12 (an order in progress).
    assert (sell_through.sold, sell_through.unsold, sell_through.rate) == (6, 3, 0.6667)
    assert (sell_through.auctions_sold, sell_through.auctions_ended) == (0, 0)
    assert sell_through.auction_rate is None
    assert median == pytest.approx(40.0)


def test_test_mode_has_figures_of_its_own(dataset, partner_a):
    assert analytics.inventory(partner=partner_a, livemode=False).by_status["active"] == 1
    [november] = analytics.revenue_by_month(partner=partner_a, livemode=False, months=1)
    assert november.revenue == {"tradera": Decimal("5000"), "rheo": 0}
    assert analytics.median_days_to_sale(partner=partner_a, livemode=False) == pytest.approx(0)


def test_a_partner_without_sales_has_empty_figures(partner_b, django_assert_num_queries):
    assert analytics.inventory(partner=partner_b, livemode=True).total == 0
    assert analytics.by_manufacturer(partner=partner_b, livemode=True) == []
    figures = analytics.sell_through(partner=partner_b, livemode=True)
    assert (figures.sold, figures.unsold, figures.rate) == (0, 0, None)
    assert analytics.median_days_to_sale(partner=partner_b, livemode=True) is None
    months = analytics.revenue_by_month(partner=partner_b, livemode=True)
    assert len(months) == 12 and all(m.total == 0 for m in months)


def test_subscription_usage_is_one_query(dataset, partner_a, django_assert_num_queries):
    with django_assert_num_queries(1):
        usage = analytics.subscription_usage(partner=partner_a, livemode=True)

    assert (usage.plan.code, usage.status, usage.cancel_at_period_end) == ("free", "active", False)
    assert usage.used_items == 2  # A6 active, A7 draft
    assert usage.used_api_keys == 0


# --- The API ----------------------------------------------------------------------------


@pytest.fixture
def api(dataset):
    """partner_a's user, logged in once the data set is there (tokens follow the clock)."""
    return login("ops@recopart.example")


def test_inventory_endpoint(api):
    response = api.get("/api/v1/analytics/inventory")

    assert response.status_code == 200
    assert response.json() == {
        "mode": "live",
        "total": 10,
        "rheoStatus": {"draft": 1, "active": 1, "sold": 6, "not_listed": 1, "archived": 1},
        "traderaStatus": {"active": 0, "sold": 0, "ended": 0, "pending_sync": 0, "sync_error": 0},
        "notOnTradera": 10,
    }
    assert response["RateLimit-Policy"] == '"analytics";q=10;w=1'


def test_revenue_endpoint(api):
    body = api.get("/api/v1/analytics/revenue?months=3").json()

    assert body == {
        "mode": "live",
        "currency": "SEK",
        "months": [
            {
                "month": "2026-09",
                "tradera": 0,
                "rheo": 0,
                "total": 0,
                "traderaSales": 0,
                "rheoSales": 0,
            },
            {
                "month": "2026-10",
                "tradera": 0,
                "rheo": 0,
                "total": 0,
                "traderaSales": 0,
                "rheoSales": 0,
            },
            {
                "month": "2026-11",
                "tradera": 600,
                "rheo": 450,
                "total": 1050,
                "traderaSales": 1,
                "rheoSales": 1,
            },
        ],
        "totals": {"tradera": 600, "rheo": 450, "total": 1050},
    }
    year = api.get("/api/v1/analytics/revenue").json()
    assert len(year["months"]) == 12
    assert year["totals"] == {"tradera": 4200.5, "rheo": 1250, "total": 5450.5}


@pytest.mark.parametrize("months", ["0", "37", "twelve", "1.5", ""])
def test_revenue_months_must_be_1_to_36(api, months):
    response = api.get(f"/api/v1/analytics/revenue?months={months}")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == ["months"]


def test_categories_endpoint(api):
    body = api.get("/api/v1/analytics/categories").json()

    assert body["manufacturers"] == [
        {"manufacturer": "Volvo", "items": 7, "sold": 4, "revenue": 3349},
        {"manufacturer": "Saab", "items": 2, "sold": 1, "revenue": 2500.5},
        {"manufacturer": "BMW", "items": 0, "sold": 1, "revenue": 600},
        {"manufacturer": None, "items": 1, "sold": 0, "revenue": 0},
    ]
    assert body["categories"][0] == {
        "categoryId": 1000860,
        "name": "Bromsok",
        "items": 4,
        "sold": 3,
        "revenue": 2899,
    }
    assert [c["categoryId"] for c in body["categories"]] == [
        1000860,
        343450,
        343482,
        343477,
        343533,
        343434,
    ]


def test_performance_endpoint(api):
    assert api.get("/api/v1/analytics/performance").json() == {
        "mode": "live",
        "sellThrough": {"rate": 0.6667, "sold": 6, "unsold": 3},
        "traderaSellThrough": {"rate": None, "sold": 0, "ended": 0},
        "medianDaysToSale": 40.0,
    }


def test_test_mode_figures_with_mode_test(api):
    body = api.get("/api/v1/analytics/performance?mode=test").json()

    assert body["mode"] == "test"
    assert body["sellThrough"] == {"rate": 1.0, "sold": 1, "unsold": 0}
    assert api.get("/api/v1/analytics/inventory?mode=sandbox").status_code == 400


def test_each_partner_sees_only_its_own_figures(dataset):
    other = login("it@bildelarnorr.example")

    inventory = other.get("/api/v1/analytics/inventory").json()
    assert (inventory["total"], inventory["rheoStatus"]["sold"]) == (2, 1)
    revenue = other.get("/api/v1/analytics/revenue").json()
    assert revenue["totals"] == {"tradera": 7000, "rheo": 0, "total": 7000}


@pytest.mark.parametrize(
    "path", ["inventory", "revenue", "categories", "performance", "subscription"]
)
def test_the_analytics_api_needs_a_partner_users_token(client, api_a, path):
    response = client.get(f"/api/v1/analytics/{path}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    with_api_key = client.get(f"/api/v1/analytics/{path}", HTTP_X_API_KEY=api_a.key)
    assert with_api_key.status_code == 401


def test_the_analytics_api_is_rate_limited_per_partner(dashboard_a, dashboard_b, settings):
    settings.RHEO_RATE_LIMITS = {**settings.RHEO_RATE_LIMITS, "analytics": "2/60s"}
    statuses = [dashboard_a.get("/api/v1/analytics/inventory").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert dashboard_b.get("/api/v1/analytics/inventory").status_code == 200
    # The Management API keeps an allowance of its own.
    keys = dashboard_a.get("/api/v1/api-keys")
    assert keys.status_code == 200
    assert keys["RateLimit-Policy"] == '"management";q=20;w=1'
