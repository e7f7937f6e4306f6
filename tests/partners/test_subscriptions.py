"""Plans and subscriptions: limits where they bite (item creates, API keys), changing plan,
cancelling at period end and what happens when the period passes."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests
from django.conf import settings
from django.db import IntegrityError, transaction

from items.models import Item
from partners import services, subscriptions
from partners.models import Plan, Subscription, SubscriptionChange, User
from rheo.errors import ServiceError
from tests.conftest import integration, item_body, login, needs_postgres

SUBSCRIPTION = "/api/v1/analytics/subscription"


def set_limits(code: str, **limits) -> None:
    """What staff do in admin: plans are data."""
    Plan.objects.filter(code=code).update(**limits)


def codes(changes) -> list[tuple[str, str | None, str | None]]:
    return [
        (c.kind, c.from_plan and c.from_plan.code, c.to_plan and c.to_plan.code) for c in changes
    ]


def history(partner) -> list[tuple[str, str | None, str | None]]:
    return codes(SubscriptionChange.objects.filter(subscription__partner=partner).order_by("at"))


# --- Plans and the start ----------------------------------------------------------------


def test_the_seeded_plans_and_a_new_partner_on_the_default_one(clock, partner_a):
    assert [
        (p.code, p.monthly_price_sek, p.max_active_items, p.max_api_keys, p.is_public)
        for p in Plan.objects.all()
    ] == [
        ("free", 0, 100, 3, True),
        ("starter", 295, 1000, 5, True),
        ("pro", 995, 10000, 20, True),
        ("enterprise", 4995, None, None, False),
    ]
    subscription = partner_a.subscription
    assert (subscription.plan.code, subscription.status) == ("free", "active")
    assert subscription.current_period_start.date().isoformat() == "2026-11-23"
    assert subscription.current_period_end.date().isoformat() == "2026-12-23"
    assert history(partner_a) == [("started", None, "free")]


def test_a_partner_without_a_subscription_row_is_on_the_default_plan(partner_a):
    Subscription.objects.filter(partner=partner_a).delete()

    assert subscriptions.plan_of(partner_a).code == "free"
    assert login("ops@recopart.example").get(SUBSCRIPTION).json()["plan"]["code"] == "free"
    subscriptions.change_plan(partner=partner_a, plan_code="pro")  # gets a row on the way
    assert Subscription.objects.get(partner=partner_a).plan.code == "pro"


# --- The item limit ---------------------------------------------------------------------


def test_a_put_that_would_create_an_item_beyond_the_limit_is_refused(api_a, partner_a):
    set_limits("free", max_active_items=2)
    assert api_a.put("P1").status_code == 202
    assert api_a.put("P2").status_code == 202

    refused = api_a.put("P3")

    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "plan_limit_reached"
    assert error["message"].startswith(
        "Your plan Free allows 2 active items (in draft or active); you have 2."
    )
    assert api_a.get("P3").status_code == 404
    assert Item.objects.count() == 2

    # Updates of existing items always pass.
    updated = api_a.put("P1", item_body(price=990))
    assert (updated.status_code, updated.json()["message"]) == (
        202,
        "Item updated; changes are being processed in the background.",
    )

    subscriptions.change_plan(partner=partner_a, plan_code="starter")
    assert api_a.put("P3").status_code == 202


def test_the_database_refuses_any_insert_beyond_the_limit_not_only_the_apis(partner_a):
    set_limits("free", max_active_items=1)

    plan_item(partner_a, "P1").save()
    with pytest.raises(IntegrityError, match="item_plan_limit"), transaction.atomic():
        plan_item(partner_a, "P2").save()
    plan_item(partner_a, "P3", status=Item.Status.SOLD).save()  # not counted
    assert sorted(Item.objects.values_list("external_id", flat=True)) == ["P1", "P3"]


@pytest.mark.parametrize("status", Item.Status.values)
def test_the_trigger_counts_the_statuses_the_model_counts(partner_a, status):
    """The trigger's statuses were written in a migration (items 0009); should the model's
    PLAN_COUNTED_STATUSES change without a migration that rewrites it, this fails."""
    set_limits("free", max_active_items=1)
    plan_item(partner_a, "P1", status=status).save()
    counted = status in Item.PLAN_COUNTED_STATUSES
    try:
        with transaction.atomic():
            plan_item(partner_a, "P2").save()
    except IntegrityError as refusal:
        assert counted, f"{status} items are not counted by the model"
        if settings.USING_POSTGRES:  # refused by name, as items.services recognises it
            assert refusal.__cause__.diag.constraint_name == "item_plan_limit"
    else:
        assert not counted, f"{status} items are counted by the model, not by the trigger"


def plan_item(partner, external_id, status=Item.Status.DRAFT) -> Item:
    return Item(
        partner=partner,
        livemode=True,
        external_id=external_id,
        title="Bromsok",
        price=100,
        shipping_cost=0,
        status=status,
    )


def test_items_no_longer_listed_free_their_place(api_a):
    set_limits("free", max_active_items=2)
    api_a.put("P1"), api_a.put("P2")

    assert api_a.patch_status("P1", {"status": "not_listed"}).status_code == 202
    assert api_a.put("P3").status_code == 202
    assert api_a.delete("P2").status_code == 202
    assert api_a.put("P4").status_code == 202
    assert api_a.put("P5").status_code == 402


def test_test_items_have_an_allowance_of_their_own(api_a, api_a_test):
    set_limits("free", max_active_items=1)
    assert api_a.put("P1").status_code == 202
    assert api_a.put("P2").status_code == 402

    assert api_a_test.put("T1").status_code == 202
    refused = api_a_test.put("T2")
    assert refused.status_code == 402
    assert "allows 1 active test items" in refused.json()["error"]["message"]


def test_an_unlimited_plan_has_no_item_limit(api_a, partner_a):
    set_limits("free", max_active_items=0)
    assert api_a.put("P1").status_code == 402
    subscriptions.change_plan(partner=partner_a, plan_code="enterprise", staff=True)
    assert api_a.put("P1").status_code == 202


@needs_postgres
def test_concurrent_creates_at_the_limit_never_exceed_it(transactional_db, live_server, partner_a):
    set_limits("free", max_active_items=3, max_api_keys=None)
    keys = [integration(partner_a).key for _ in range(12)]  # the rate limit is per key

    statuses = create_at_once(live_server.url, keys)

    # Creates of one partner take turns at the count, each seeing those before it:
    # exactly the allowance passes.
    assert Item.objects.filter(partner=partner_a).count() == 3
    assert sorted(statuses) == [202] * 3 + [402] * 9


def create_at_once(base_url: str, keys: list[str]) -> list[int]:
    """PUTs of as many new ids as keys, released together by a barrier."""
    barrier = threading.Barrier(len(keys))

    def send(n):
        session = requests.Session()
        barrier.wait()
        url = f"{base_url}/integration/v1/items/P{n}"
        return session.put(url, headers={"x-api-key": keys[n]}, json=item_body(), timeout=30)

    with ThreadPoolExecutor(len(keys)) as pool:
        return [r.status_code for r in pool.map(send, range(len(keys)))]


# --- The API key limit ------------------------------------------------------------------


def test_api_keys_beyond_the_plan_limit_are_refused(partner_a, dashboard_a):
    set_limits("free", max_api_keys=2)
    new_key = {"name": "ERP", "mode": "live"}
    assert dashboard_a.post("/api/v1/api-keys", new_key, format="json").status_code == 201
    first = dashboard_a.post("/api/v1/api-keys", new_key, format="json").json()

    refused = dashboard_a.post("/api/v1/api-keys", new_key, format="json")

    assert refused.status_code == 402
    assert refused.json()["error"] == {
        "code": "plan_limit_reached",
        "message": "Your plan Free allows 2 live API keys; you have 2. Revoke a key you no "
        "longer use, or change to a larger plan.",
        "requestId": refused["X-Request-Id"],
    }
    with pytest.raises(ServiceError) as raised:  # the service the dashboard calls
        services.create_api_key(partner=partner_a, name="ERP", mode="live")
    assert raised.value.code == "plan_limit_reached"

    test_key = dashboard_a.post("/api/v1/api-keys", {"name": "T", "mode": "test"}, format="json")
    assert test_key.status_code == 201
    dashboard_a.delete(f"/api/v1/api-keys/{first['id']}")
    assert dashboard_a.post("/api/v1/api-keys", new_key, format="json").status_code == 201


# --- Changing plan, cancelling, resuming ------------------------------------------------


def test_the_subscription_endpoint_shows_plan_period_and_usage(clock, partner_a, api_a):
    api_a.put("P1")
    body = login("ops@recopart.example").get(SUBSCRIPTION).json()

    assert body["plan"] == {
        "code": "free",
        "name": "Free",
        "monthlyPriceSek": 0,
        "limits": {"activeItems": 100, "apiKeys": 3},
    }
    assert (body["status"], body["cancelAtPeriodEnd"], body["endedAt"]) == ("active", False, None)
    assert body["currentPeriodEnd"].startswith("2026-12-23T12:00")
    assert body["usage"] == {"activeItems": 1, "apiKeys": 1}
    assert [p["code"] for p in body["availablePlans"]] == ["free", "starter", "pro"]
    assert body["mode"] == "live"


def test_changing_plan_takes_effect_at_once_and_is_recorded(clock, partner_a, dashboard_a):
    period_end = partner_a.subscription.current_period_end

    response = dashboard_a.put(SUBSCRIPTION, {"plan": "pro"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["plan"]["code"], body["plan"]["limits"]) == (
        "pro",
        {"activeItems": 10000, "apiKeys": 20},
    )
    subscription = Subscription.objects.get(partner=partner_a)
    assert subscription.current_period_end == period_end  # the period stays
    assert history(partner_a) == [("started", None, "free"), ("plan_changed", "free", "pro")]
    change = SubscriptionChange.objects.get(kind="plan_changed")
    assert change.changed_by == User.objects.get(email="ops@recopart.example")

    assert dashboard_a.put(SUBSCRIPTION, {"plan": "pro"}, format="json").status_code == 200
    assert len(history(partner_a)) == 2  # the same plan again changes nothing


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"plan": "gold"}, "plan"),
        ({"plan": "enterprise"}, "plan"),  # not public: staff's to give
        ({"plan": 3}, "plan"),
        ({"cancelAtPeriodEnd": "yes"}, "cancelAtPeriodEnd"),
    ],
)
def test_unknown_plans_and_bad_values_are_refused(dashboard_a, body, field):
    response = dashboard_a.put(SUBSCRIPTION, body, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_an_empty_change_is_refused(dashboard_a):
    response = dashboard_a.put(SUBSCRIPTION, {}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_a_cancelled_subscription_ends_at_period_end_and_the_default_plan_applies(
    clock, partner_a, api_a
):
    dashboard = login("ops@recopart.example")
    dashboard.put(SUBSCRIPTION, {"plan": "starter"}, format="json")
    set_limits("free", max_active_items=1)
    api_a.put("P1"), api_a.put("P2")

    cancelled = dashboard.put(SUBSCRIPTION, {"cancelAtPeriodEnd": True}, format="json").json()

    assert (cancelled["plan"]["code"], cancelled["cancelAtPeriodEnd"]) == ("starter", True)
    assert api_a.put("P3").status_code == 202  # Starter's limits until the period ends

    clock.move_to(datetime(2026, 12, 23, 12, 0, 1, tzinfo=UTC))
    assert subscriptions.roll_subscription_periods() == 1  # beat's pass

    body = login("ops@recopart.example").get(SUBSCRIPTION).json()
    assert (body["plan"]["code"], body["status"], body["cancelAtPeriodEnd"]) == (
        "free",
        "canceled",
        False,
    )
    assert body["endedAt"].startswith("2026-12-23T12:00:00")
    assert history(partner_a)[-2:] == [
        ("cancel_scheduled", "starter", None),
        ("ended", "starter", "free"),
    ]
    refused = api_a.put("P4")
    assert refused.status_code == 402
    assert "Your plan Free allows 1 active items" in refused.json()["error"]["message"]
    assert api_a.put("P1", item_body(price=999)).status_code == 202
    assert subscriptions.roll_subscription_periods() == 0  # nothing more to do


def test_resuming_before_the_end_keeps_the_plan_and_it_renews_month_by_month(
    clock, partner_a, dashboard_a
):
    dashboard_a.put(SUBSCRIPTION, {"plan": "pro", "cancelAtPeriodEnd": True}, format="json")
    body = dashboard_a.put(SUBSCRIPTION, {"cancelAtPeriodEnd": False}, format="json").json()
    assert body["cancelAtPeriodEnd"] is False

    clock.move_to(datetime(2027, 2, 1, tzinfo=UTC))  # two periods later
    subscriptions.roll_subscription_periods()

    subscription = Subscription.objects.get(partner=partner_a)
    assert (subscription.plan.code, subscription.status) == ("pro", "active")
    anchor = subscription.billing_cycle_anchor  # when partner_a was created
    assert anchor.date().isoformat() == "2026-11-23"
    assert subscription.current_period_start == subscriptions.add_months(anchor, 2)
    assert subscription.current_period_end == subscriptions.add_months(anchor, 3)
    assert history(partner_a)[-2:] == [("cancel_scheduled", "pro", None), ("resumed", None, "pro")]


def test_periods_follow_the_anchor_day_through_short_months(clock, partner_a):
    clock.move_to(datetime(2027, 1, 31, 9, tzinfo=UTC))
    subscriptions.change_plan(partner=partner_a, plan_code="pro")
    subscription = Subscription.objects.get(partner=partner_a)
    subscription.billing_cycle_anchor = subscription.current_period_start = datetime(
        2027, 1, 31, 9, tzinfo=UTC
    )
    subscription.current_period_end = subscriptions.add_months(subscription.current_period_start, 1)
    subscription.save()
    assert subscription.current_period_end == datetime(2027, 2, 28, 9, tzinfo=UTC)

    clock.move_to(datetime(2027, 3, 1, tzinfo=UTC))
    subscriptions.roll_subscription_periods()

    subscription.refresh_from_db()
    assert subscription.current_period_start == datetime(2027, 2, 28, 9, tzinfo=UTC)
    assert subscription.current_period_end == datetime(2027, 3, 31, 9, tzinfo=UTC)


def test_what_cannot_be_cancelled_or_resumed(clock, partner_a, dashboard_a):
    on_free = dashboard_a.put(SUBSCRIPTION, {"cancelAtPeriodEnd": True}, format="json")
    assert on_free.status_code == 409
    assert on_free.json()["error"]["message"].startswith("The Free plan has nothing to cancel")

    subscriptions.change_plan(partner=partner_a, plan_code="starter")
    subscriptions.cancel_subscription(partner=partner_a)
    clock.move_to(datetime(2027, 1, 1, tzinfo=UTC))
    subscriptions.roll_subscription_periods()

    dashboard = login("ops@recopart.example")
    assert (
        dashboard.put(SUBSCRIPTION, {"cancelAtPeriodEnd": False}, format="json").status_code == 409
    )
    # Choosing a plan after the end starts a new subscription from now.
    body = dashboard.put(SUBSCRIPTION, {"plan": "pro"}, format="json").json()
    assert (body["plan"]["code"], body["status"], body["endedAt"]) == ("pro", "active", None)
    assert body["currentPeriodStart"].startswith("2027-01-01T00:00")
    assert body["currentPeriodEnd"].startswith("2027-02-01T00:00")
    assert history(partner_a)[-1] == ("started", "free", "pro")


def test_a_change_of_plan_and_a_cancellation_are_all_or_nothing(partner_a, dashboard_a):
    # Free cannot be cancelled, so the change to it is not made either.
    dashboard_a.put(SUBSCRIPTION, {"plan": "pro"}, format="json")
    response = dashboard_a.put(
        SUBSCRIPTION, {"plan": "free", "cancelAtPeriodEnd": True}, format="json"
    )

    assert response.status_code == 409
    assert Subscription.objects.get(partner=partner_a).plan.code == "pro"


def test_each_partner_changes_only_its_own_subscription(partner_a, partner_b, dashboard_b):
    dashboard_b.put(SUBSCRIPTION, {"plan": "pro"}, format="json")

    assert Subscription.objects.get(partner=partner_a).plan.code == "free"
    assert Subscription.objects.get(partner=partner_b).plan.code == "pro"


# --- Admin ------------------------------------------------------------------------------


@pytest.fixture
def staff(client, db):
    user = User.objects.create_superuser(email="staff@rheo.example", password="pw")
    client.force_login(user)
    client.user = user
    return client


def test_staff_edit_plans_as_data(staff, partner_a):
    page = staff.get("/admin/partners/plan/").content.decode()
    assert "Enterprise" in page and "unlimited" in page

    free = Plan.objects.get(code="free")
    response = staff.post(
        f"/admin/partners/plan/{free.pk}/change/",
        {
            "name": "Free",
            "code": "free",
            "monthly_price_sek": "0",
            "max_active_items": "50",
            "max_api_keys": "",
            "is_default": "on",
            "is_public": "on",
            "position": "10",
        },
    )
    assert response.status_code == 302
    free.refresh_from_db()
    assert (free.max_active_items, free.max_api_keys) == (50, None)

    # A second default plan is refused, and the default plan cannot be deleted.
    pro = Plan.objects.get(code="pro")
    second_default = staff.post(
        f"/admin/partners/plan/{pro.pk}/change/",
        {
            "name": "Pro",
            "code": "pro",
            "monthly_price_sek": "995",
            "max_active_items": "10000",
            "max_api_keys": "20",
            "is_default": "on",
            "is_public": "on",
            "position": "30",
        },
    )
    assert second_default.status_code == 200
    assert "Another plan is the default" in second_default.content.decode()
    assert staff.get(f"/admin/partners/plan/{free.pk}/delete/").status_code == 403


def test_staff_change_plans_and_cancel_through_the_actions_which_record_who(staff, partner_a):
    subscription = partner_a.subscription
    assert staff.get("/admin/partners/subscription/").status_code == 200
    assert staff.get(f"/admin/partners/subscription/{subscription.pk}/change/").status_code == 200
    enterprise = Plan.objects.get(code="enterprise")

    staff.post(
        "/admin/partners/subscription/",
        {
            "action": "change_to_chosen_plan",
            "plan": str(enterprise.pk),
            "_selected_action": [str(subscription.pk)],
        },
    )
    staff.post(
        "/admin/partners/subscription/",
        {"action": "cancel_at_period_end", "_selected_action": [str(subscription.pk)]},
    )

    subscription.refresh_from_db()
    assert (subscription.plan.code, subscription.cancel_at_period_end) == ("enterprise", True)
    changes = SubscriptionChange.objects.filter(subscription=subscription).order_by("at", "id")
    assert codes(changes)[-2:] == [
        ("plan_changed", "free", "enterprise"),
        ("cancel_scheduled", "enterprise", None),
    ]
    assert {c.changed_by for c in changes[1:]} == {staff.user}
