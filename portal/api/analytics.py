"""The Analytics API: /api/v1/analytics/…, JWT as the Management API, `?mode=test` for
test mode's figures. Each view reads portal.analytics (one query per figure); the
subscription view also changes plan or cancels through partners.subscriptions."""

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.response import Response

from items.models import Item, SalePlatform
from partners import subscriptions
from portal import analytics
from portal.api.base import MANAGEMENT, ManagementAPIView
from rheo.fields import StrictBooleanField, StrictCharField, StrictDecimalField
from rheo.schema import error_responses
from tradera.models import TraderaListing

TAGS = ["Analytics"]
MODE = OpenApiParameter(
    "mode", str, enum=["live", "test"], description="Whose figures: live (default) or test."
)


ANALYTICS = "`?mode=test` for test mode's figures. " + MANAGEMENT
_PLAN = {"code": "pro", "name": "Pro", "monthlyPriceSek": 995}
EXAMPLE_SUBSCRIPTION = {
    "mode": "live",
    "plan": {**_PLAN, "limits": {"activeItems": 10000, "apiKeys": 20}},
    "status": "active",
    "currentPeriodStart": "2026-12-01T00:00:00Z",
    "currentPeriodEnd": "2027-01-01T00:00:00Z",
    "cancelAtPeriodEnd": False,
    "endedAt": None,
    "usage": {"activeItems": 38, "apiKeys": 2},
    "availablePlans": [
        {
            "code": "free",
            "name": "Free",
            "monthlyPriceSek": 0,
            "limits": {"activeItems": 100, "apiKeys": 3},
        },
        {
            "code": "starter",
            "name": "Starter",
            "monthlyPriceSek": 295,
            "limits": {"activeItems": 1000, "apiKeys": 5},
        },
        {**_PLAN, "limits": {"activeItems": 10000, "apiKeys": 20}},
    ],
}


def _money(**kwargs):
    return StrictDecimalField(max_digits=14, **kwargs)


def _counts(name: str, values) -> serializers.Serializer:
    fields = {value: serializers.IntegerField() for value in values}
    return type(name, (serializers.Serializer,), fields)()


class InventorySerializer(serializers.Serializer):
    mode = serializers.CharField()
    total = serializers.IntegerField(help_text="Current items (deleted ones are not).")
    rheoStatus = _counts("RheoStatusCounts", Item.Status.values)
    traderaStatus = _counts("TraderaStatusCounts", TraderaListing.Status.values)
    notOnTradera = serializers.IntegerField(help_text="Items without a Tradera listing.")


class MonthRevenueSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM, in Swedish time.")
    tradera = _money(help_text="SEK")
    rheo = _money(help_text="SEK")
    total = _money(help_text="SEK")
    traderaSales = serializers.IntegerField()
    rheoSales = serializers.IntegerField()


class RevenueTotalsSerializer(serializers.Serializer):
    tradera = _money()
    rheo = _money()
    total = _money()


class RevenueSerializer(serializers.Serializer):
    mode = serializers.CharField()
    currency = serializers.CharField(default="SEK")
    months = MonthRevenueSerializer(many=True, help_text="Oldest first; this month last.")
    totals = RevenueTotalsSerializer(help_text="Of these months.")


class RevenueQuerySerializer(serializers.Serializer):
    months = serializers.IntegerField(min_value=1, max_value=analytics.MAX_MONTHS, default=12)


class ManufacturerSerializer(serializers.Serializer):
    manufacturer = serializers.CharField(allow_null=True, help_text="null: not given.")
    items = serializers.IntegerField(help_text="Current items.")
    sold = serializers.IntegerField(help_text="Sales (deleted items' included).")
    revenue = _money(help_text="SEK")


class CategorySerializer(serializers.Serializer):
    categoryId = serializers.IntegerField(help_text="Tradera's category id.")
    name = serializers.CharField()
    items = serializers.IntegerField(help_text="Current items.")
    sold = serializers.IntegerField(help_text="Sales (deleted items' included).")
    revenue = _money(help_text="SEK")


class CategoriesSerializer(serializers.Serializer):
    mode = serializers.CharField()
    currency = serializers.CharField(default="SEK")
    manufacturers = ManufacturerSerializer(many=True)
    categories = CategorySerializer(many=True)


class RateSerializer(serializers.Serializer):
    rate = serializers.FloatField(allow_null=True, help_text="0 to 1; null before any outcome.")
    sold = serializers.IntegerField()


class ItemSellThroughSerializer(RateSerializer):
    unsold = serializers.IntegerField(
        help_text="Items that left without a sale through Rheo: not_listed, marked sold by "
        "you, or deleted while active."
    )


class AuctionSellThroughSerializer(RateSerializer):
    ended = serializers.IntegerField(help_text="Auctions that ended without a winner.")


class PerformanceSerializer(serializers.Serializer):
    mode = serializers.CharField()
    sellThrough = ItemSellThroughSerializer(help_text="sold / (sold + unsold), items.")
    traderaSellThrough = AuctionSellThroughSerializer(
        help_text="sold / (sold + ended), Tradera auctions."
    )
    medianDaysToSale = serializers.FloatField(
        allow_null=True, help_text="From the item's first PUT to its sale; null without sales."
    )


class PlanLimitsSerializer(serializers.Serializer):
    activeItems = serializers.IntegerField(
        allow_null=True, help_text="Items in draft or active, per mode; null: unlimited."
    )
    apiKeys = serializers.IntegerField(
        allow_null=True, help_text="Unrevoked keys, per mode; null: unlimited."
    )


class PlanSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    monthlyPriceSek = _money()
    limits = PlanLimitsSerializer()


class UsageSerializer(serializers.Serializer):
    activeItems = serializers.IntegerField()
    apiKeys = serializers.IntegerField()


class SubscriptionSerializer(serializers.Serializer):
    mode = serializers.CharField(help_text="Which mode `usage` counts.")
    plan = PlanSerializer()
    status = serializers.ChoiceField(
        choices=["active", "canceled"],
        help_text="canceled: it ended at the end of a cancelled period; the default plan "
        "applies until you choose a plan.",
    )
    currentPeriodStart = serializers.DateTimeField(allow_null=True)
    currentPeriodEnd = serializers.DateTimeField(allow_null=True)
    cancelAtPeriodEnd = serializers.BooleanField()
    endedAt = serializers.DateTimeField(allow_null=True)
    usage = UsageSerializer()
    availablePlans = PlanSerializer(many=True, help_text="The plans you may change to.")


@extend_schema_field(
    {
        "type": "string",
        "enum": ["free", "starter", "pro"],
        "description": "A public plan's code (these are the plans a new installation "
        "has; staff may change them): changes plan at once.",
    }
)
class PlanCodeField(StrictCharField):
    pass


class SubscriptionInputSerializer(serializers.Serializer):
    plan = PlanCodeField(required=False)
    cancelAtPeriodEnd = StrictBooleanField(
        required=False, help_text="true: ends at the period's end; false: resumes."
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send plan, cancelAtPeriodEnd, or both.")
        return attrs


def _mode(livemode: bool) -> str:
    return "live" if livemode else "test"


def _plan(plan) -> dict:
    return {
        "code": plan.code,
        "name": plan.name,
        "monthlyPriceSek": plan.monthly_price_sek,
        "limits": {"activeItems": plan.max_active_items, "apiKeys": plan.max_api_keys},
    }


class AnalyticsView(ManagementAPIView):
    rate_limit_tier = "analytics"


class InventoryView(AnalyticsView):
    @extend_schema(
        operation_id="getInventory",
        summary="Current items by Rheo status and by Tradera listing status",
        description=f"{ANALYTICS}",
        examples=[
            OpenApiExample(
                "Inventory",
                value={
                    "mode": "live",
                    "total": 42,
                    "rheoStatus": {
                        "draft": 1,
                        "active": 38,
                        "sold": 2,
                        "not_listed": 1,
                        "archived": 0,
                    },
                    "traderaStatus": {
                        "active": 30,
                        "sold": 2,
                        "ended": 1,
                        "pending_sync": 0,
                        "sync_error": 0,
                    },
                    "notOnTradera": 9,
                },
                response_only=True,
            )
        ],
        parameters=[MODE],
        responses={200: InventorySerializer, **error_responses(400, 401, 429)},
        tags=TAGS,
    )
    def get(self, request):
        livemode = self.livemode()
        figures = analytics.inventory(partner=self.partner, livemode=livemode)
        body = {
            "mode": _mode(livemode),
            "total": figures.total,
            "rheoStatus": figures.by_status,
            "traderaStatus": figures.by_tradera_status,
            "notOnTradera": figures.not_on_tradera,
        }
        return Response(InventorySerializer(body).data)


class RevenueView(AnalyticsView):
    @extend_schema(
        operation_id="getRevenue",
        summary="Revenue per calendar month and platform, SEK",
        description=f"Calendar months in Swedish time, this month last. {ANALYTICS}",
        examples=[
            OpenApiExample(
                "Two months",
                value={
                    "mode": "live",
                    "currency": "SEK",
                    "months": [
                        {
                            "month": "2026-11",
                            "tradera": 1100,
                            "rheo": 0,
                            "total": 1100,
                            "traderaSales": 1,
                            "rheoSales": 0,
                        },
                        {
                            "month": "2026-12",
                            "tradera": 0,
                            "rheo": 950,
                            "total": 950,
                            "traderaSales": 0,
                            "rheoSales": 1,
                        },
                    ],
                    "totals": {"tradera": 1100, "rheo": 950, "total": 2050},
                },
                response_only=True,
            )
        ],
        parameters=[
            MODE,
            OpenApiParameter(
                "months",
                {"type": "integer", "minimum": 1, "maximum": analytics.MAX_MONTHS, "default": 12},
                description=f"How many months, this one last: 1 to {analytics.MAX_MONTHS}.",
            ),
        ],
        responses={200: RevenueSerializer, **error_responses(400, 401, 429)},
        tags=TAGS,
    )
    def get(self, request):
        livemode = self.livemode()
        # A plain dict: from a QueryDict, DRF reads `?months=` as absent (the default).
        query = request.query_params.dict()
        months = self.validated(RevenueQuerySerializer, query)["months"]
        rows = analytics.revenue_by_month(partner=self.partner, livemode=livemode, months=months)
        tradera, rheo = SalePlatform.TRADERA, SalePlatform.RHEO
        body = {
            "mode": _mode(livemode),
            "currency": "SEK",
            "months": [
                {
                    "month": f"{row.month:%Y-%m}",
                    "tradera": row.revenue[tradera],
                    "rheo": row.revenue[rheo],
                    "total": row.total,
                    "traderaSales": row.sales[tradera],
                    "rheoSales": row.sales[rheo],
                }
                for row in rows
            ],
            "totals": {
                "tradera": sum(row.revenue[tradera] for row in rows),
                "rheo": sum(row.revenue[rheo] for row in rows),
                "total": sum(row.total for row in rows),
            },
        }
        return Response(RevenueSerializer(body).data)


class CategoriesView(AnalyticsView):
    @extend_schema(
        operation_id="getCategories",
        summary="Items and sales by manufacturer and by part category",
        description=f"{ANALYTICS}",
        examples=[
            OpenApiExample(
                "By manufacturer and category",
                value={
                    "mode": "live",
                    "currency": "SEK",
                    "manufacturers": [
                        {"manufacturer": "Volvo", "items": 30, "sold": 2, "revenue": 2050}
                    ],
                    "categories": [
                        {
                            "categoryId": 3401,
                            "name": "Bromsar",
                            "items": 12,
                            "sold": 1,
                            "revenue": 1100,
                        }
                    ],
                },
                response_only=True,
            )
        ],
        parameters=[MODE],
        responses={200: CategoriesSerializer, **error_responses(400, 401, 429)},
        tags=TAGS,
    )
    def get(self, request):
        livemode = self.livemode()
        manufacturers = analytics.by_manufacturer(partner=self.partner, livemode=livemode)
        categories = analytics.by_category(partner=self.partner, livemode=livemode)
        body = {
            "mode": _mode(livemode),
            "currency": "SEK",
            "manufacturers": [
                {"manufacturer": m.key, "items": m.items, "sold": m.sold, "revenue": m.revenue}
                for m in manufacturers
            ],
            "categories": [
                {
                    "categoryId": c.key,
                    "name": c.name,
                    "items": c.items,
                    "sold": c.sold,
                    "revenue": c.revenue,
                }
                for c in categories
            ],
        }
        return Response(CategoriesSerializer(body).data)


class PerformanceView(AnalyticsView):
    @extend_schema(
        operation_id="getPerformance",
        summary="Sell-through and median days to sale",
        description=f"{ANALYTICS}",
        examples=[
            OpenApiExample(
                "Performance",
                value={
                    "mode": "live",
                    "sellThrough": {"rate": 0.5, "sold": 2, "unsold": 2},
                    "traderaSellThrough": {"rate": 0.67, "sold": 2, "ended": 1},
                    "medianDaysToSale": 6.5,
                },
                response_only=True,
            )
        ],
        parameters=[MODE],
        responses={200: PerformanceSerializer, **error_responses(400, 401, 429)},
        tags=TAGS,
    )
    def get(self, request):
        livemode = self.livemode()
        sell = analytics.sell_through(partner=self.partner, livemode=livemode)
        median = analytics.median_days_to_sale(partner=self.partner, livemode=livemode)
        body = {
            "mode": _mode(livemode),
            "sellThrough": {"rate": sell.rate, "sold": sell.sold, "unsold": sell.unsold},
            "traderaSellThrough": {
                "rate": sell.auction_rate,
                "sold": sell.auctions_sold,
                "ended": sell.auctions_ended,
            },
            "medianDaysToSale": None if median is None else round(median, 1),
        }
        return Response(PerformanceSerializer(body).data)


class SubscriptionView(AnalyticsView):
    @extend_schema(
        operation_id="getSubscription",
        summary="The plan, its limits, the current period and usage",
        description=f"{ANALYTICS}",
        examples=[OpenApiExample("Pro", value=EXAMPLE_SUBSCRIPTION, response_only=True)],
        parameters=[MODE],
        responses={200: SubscriptionSerializer, **error_responses(400, 401, 429)},
        tags=TAGS,
    )
    def get(self, request):
        return self._respond(self.livemode())

    @extend_schema(
        operation_id="updateSubscription",
        summary="Change plan (at once), or cancel at period end / resume",
        examples=[
            OpenApiExample("Change plan", value={"plan": "pro"}, request_only=True),
            OpenApiExample("Pro", value=EXAMPLE_SUBSCRIPTION, response_only=True),
        ],
        description='`{"plan": "pro"}` changes plan at once, keeping the period. '
        '`{"cancelAtPeriodEnd": true}` cancels at the end of the current period, when the '
        "default plan's limits take over; `false` withdraws that before then. "
        f"{ANALYTICS}",
        parameters=[MODE],
        request=SubscriptionInputSerializer,
        responses={200: SubscriptionSerializer, **error_responses(400, 401, 409, 429)},
        tags=TAGS,
    )
    def put(self, request):
        livemode = self.livemode()
        data = self.validated(SubscriptionInputSerializer)
        subscriptions.update_subscription(
            partner=self.partner,
            plan_code=data.get("plan"),
            cancel_at_period_end=data.get("cancelAtPeriodEnd"),
            changed_by=request.user,
        )
        return self._respond(livemode)

    def _respond(self, livemode: bool) -> Response:
        usage = analytics.subscription_usage(partner=self.partner, livemode=livemode)
        body = {
            "mode": _mode(livemode),
            "plan": _plan(usage.plan),
            "status": usage.status,
            "currentPeriodStart": usage.current_period_start,
            "currentPeriodEnd": usage.current_period_end,
            "cancelAtPeriodEnd": usage.cancel_at_period_end,
            "endedAt": usage.ended_at,
            "usage": {"activeItems": usage.used_items, "apiKeys": usage.used_api_keys},
            "availablePlans": [_plan(p) for p in subscriptions.public_plans()],
        }
        return Response(SubscriptionSerializer(body).data)
