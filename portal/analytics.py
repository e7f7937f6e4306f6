"""A partner's figures, for the Analytics API and the dashboard: pure reads of one mode
(live or test), each figure one aggregate query the database computes, on the item
indexes that lead with (partner, livemode).

What counts (docs/management-api.md, "The Analytics API"):
- Inventory: the partner's current items (not deleted).
- A sale is an item sold on a platform (Tradera, or an order in Rheo's marketplace): it
  has `sold_at`, `sold_platform` and `sale_price`. An item the partner marked sold itself
  (PATCH status) sold elsewhere and is no sale here. Sales count even when the item was
  deleted afterwards: deleting an item does not undo its revenue.
- Months are calendar months in Swedish time (Europe/Stockholm).
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Func, OuterRef, Q, Subquery, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from items.models import Item, SalePlatform
from partners import subscriptions
from partners.models import ApiKey, Partner, Plan, Subscription
from tradera import mapping
from tradera.models import TraderaListing

REPORTING_TIME_ZONE = ZoneInfo("Europe/Stockholm")
MAX_MONTHS = 36

ZERO = Decimal("0.00")
SALE = Q(sold_at__isnull=False)
# Items that left the marketplace without a sale through Rheo: de-listed, sold by the
# partner elsewhere (PATCH to sold records no platform), or deleted while listed.
UNSOLD = (
    Q(status=Item.Status.NOT_LISTED)
    | Q(status=Item.Status.SOLD, sold_at__isnull=True)
    | Q(status=Item.Status.ACTIVE, deleted_at__isnull=False)
)
CURRENT = Q(deleted_at__isnull=True)


def _items(partner: Partner, livemode: bool):
    return Item.objects.filter(partner=partner, livemode=livemode).order_by()


# --- Inventory --------------------------------------------------------------------------


@dataclass(frozen=True)
class Inventory:
    total: int
    by_status: dict[str, int]  # every Rheo status, zeros included
    by_tradera_status: dict[str, int]  # every Tradera listing status, zeros included
    not_on_tradera: int  # items without a Tradera listing


def inventory(*, partner: Partner, livemode: bool) -> Inventory:
    """Current items by Rheo status and by their Tradera listing's status."""
    rheo = {f"rheo_{s}": Count("pk", filter=Q(status=s)) for s in Item.Status.values}
    tradera = {
        f"tradera_{s}": Count("pk", filter=Q(tradera_listing__status=s))
        for s in TraderaListing.Status.values
    }
    figures = (
        _items(partner, livemode)
        .filter(CURRENT)
        .aggregate(
            total=Count("pk"),
            not_on_tradera=Count("pk", filter=Q(tradera_listing__isnull=True)),
            **rheo,
            **tradera,
        )
    )
    return Inventory(
        total=figures["total"],
        by_status={s: figures[f"rheo_{s}"] for s in Item.Status.values},
        by_tradera_status={s: figures[f"tradera_{s}"] for s in TraderaListing.Status.values},
        not_on_tradera=figures["not_on_tradera"],
    )


# --- Revenue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthRevenue:
    month: date  # its first day
    revenue: dict[str, Decimal]  # per platform (tradera, rheo), SEK
    sales: dict[str, int]  # per platform

    @property
    def total(self) -> Decimal:
        return sum(self.revenue.values(), ZERO)


def revenue_by_month(*, partner: Partner, livemode: bool, months: int = 12) -> list[MonthRevenue]:
    """Sales per calendar month and platform for the last `months` months, this one
    included, oldest first; a month without sales is there with zeros."""
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"months must be 1 to {MAX_MONTHS}")
    now = timezone.localtime(timezone.now(), REPORTING_TIME_ZONE)
    month_starts = [_month_start(now, back) for back in range(months - 1, -1, -1)]
    rows = (
        _items(partner, livemode)
        .filter(SALE, sold_at__gte=month_starts[0], sold_at__lt=_month_start(now, -1))
        .annotate(month=TruncMonth("sold_at", tzinfo=REPORTING_TIME_ZONE))
        .values("month", "sold_platform")
        .annotate(revenue=Sum("sale_price"), sales=Count("pk"))
    )
    found = {
        (row["month"].date(), row["sold_platform"]): (_sek(row["revenue"]), row["sales"])
        for row in rows
    }
    platforms = SalePlatform.values
    return [
        MonthRevenue(
            month=start.date(),
            revenue={p: found.get((start.date(), p), (ZERO, 0))[0] for p in platforms},
            sales={p: found.get((start.date(), p), (ZERO, 0))[1] for p in platforms},
        )
        for start in month_starts
    ]


def _month_start(now: datetime, months_back: int) -> datetime:
    """The first moment of the month `months_back` before now's (negative: after)."""
    index = now.year * 12 + now.month - 1 - months_back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=REPORTING_TIME_ZONE)


# --- Categories -------------------------------------------------------------------------


@dataclass(frozen=True)
class Breakdown:
    key: str | int | None  # the manufacturer, or the Tradera category id
    name: str | None
    items: int  # current items
    sold: int  # sales
    revenue: Decimal  # SEK


def by_manufacturer(*, partner: Partner, livemode: bool) -> list[Breakdown]:
    """Items and sales by `domain.manufacturer` as the partner writes it (None: not
    given), highest revenue first."""
    rows = _breakdown(
        partner, livemode, manufacturer=KeyTextTransform("manufacturer", "domain")
    ).values("manufacturer", "items", "sold", "revenue")
    return _ordered(Breakdown(r["manufacturer"], r["manufacturer"], *_counts(r)) for r in rows)


def by_category(*, partner: Partner, livemode: bool) -> list[Breakdown]:
    """Items and sales by part category: the Tradera category the item's title maps to
    through staff's category rules (tradera.mapping), whether or not it was published;
    highest revenue first."""
    scope = _items(partner, livemode).filter(CURRENT | SALE)
    items_sql, params = scope.values(
        "id", "title", "deleted_at", "sold_at", "sale_price"
    ).query.sql_with_params()
    sql = (
        "SELECT category_id, category_name, "  # noqa: S608
        "SUM(CASE WHEN deleted_at IS NULL THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN sold_at IS NOT NULL THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN sold_at IS NOT NULL THEN sale_price ELSE 0 END) "
        f"FROM ({mapping.with_category_sql(items_sql)}) AS items "
        "GROUP BY category_id, category_name"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return _ordered(
        Breakdown(
            category_id or mapping.OTHER_PARTS,
            name or (mapping.OTHER_PARTS_NAME if category_id is None else str(category_id)),
            items,
            sold,
            _sek(revenue),
        )
        for category_id, name, items, sold, revenue in rows
    )


def _sek(amount) -> Decimal:
    """A sum as an amount of SEK (SQLite gives floats, or whole numbers without öre)."""
    return Decimal(str(amount or 0)).quantize(ZERO)


def _breakdown(partner, livemode, **group_by):
    """Current items, and sales whether or not their item was deleted since."""
    return (
        _items(partner, livemode)
        .filter(CURRENT | SALE)
        .annotate(**group_by)
        .values(*group_by)
        .annotate(
            items=Count("pk", filter=CURRENT),
            sold=Count("pk", filter=SALE),
            revenue=Coalesce(Sum("sale_price", filter=SALE), ZERO),
        )
    )


def _counts(row) -> tuple[int, int, Decimal]:
    return row["items"], row["sold"], _sek(row["revenue"])


def _ordered(breakdowns) -> list[Breakdown]:
    return sorted(breakdowns, key=lambda b: (-b.revenue, -b.items, str(b.name or "")))


# --- Performance ------------------------------------------------------------------------


@dataclass(frozen=True)
class SellThrough:
    sold: int  # items sold through Rheo (Tradera or the marketplace)
    unsold: int  # items that left without such a sale (UNSOLD)
    rate: float | None  # sold / (sold + unsold); None before any outcome
    auctions_sold: int  # Tradera auctions that sold
    auctions_ended: int  # Tradera auctions that ended without a winner
    auction_rate: float | None  # auctions_sold / (auctions_sold + auctions_ended)


def sell_through(*, partner: Partner, livemode: bool) -> SellThrough:
    """Of the items whose time in the marketplace is over, the share sold through Rheo;
    and of the finished Tradera auctions, the share that sold. Items still listed (draft,
    active) and archived ones (an order in progress) are not counted."""
    figures = _items(partner, livemode).aggregate(
        sold=Count("pk", filter=SALE),
        unsold=Count("pk", filter=UNSOLD & ~SALE),
        auctions_sold=Count("pk", filter=Q(tradera_listing__status=TraderaListing.Status.SOLD)),
        auctions_ended=Count("pk", filter=Q(tradera_listing__status=TraderaListing.Status.ENDED)),
    )
    return SellThrough(
        sold=figures["sold"],
        unsold=figures["unsold"],
        rate=_ratio(figures["sold"], figures["unsold"]),
        auctions_sold=figures["auctions_sold"],
        auctions_ended=figures["auctions_ended"],
        auction_rate=_ratio(figures["auctions_sold"], figures["auctions_ended"]),
    )


def _ratio(part: int, rest: int) -> float | None:
    return round(part / (part + rest), 4) if part + rest else None


class _DaysBetween(Func):
    """(end - start) in days, fractional."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s)) / 86400.0",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="(julianday(%(expressions)s))",
            arg_joiner=") - julianday(",
            **extra,
        )


class _Median(Aggregate):
    """PostgreSQL's continuous median."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def median_days_to_sale(*, partner: Partner, livemode: bool) -> float | None:
    """The median time from an item's creation in Rheo (its first PUT) to its sale, in
    days; None without sales. (An even count takes the mean of the two middle values.)"""
    sales = (
        _items(partner, livemode).filter(SALE).annotate(days=_DaysBetween("sold_at", "created_at"))
    )
    if connection.vendor == "postgresql":
        return sales.aggregate(median=_Median("days"))["median"]
    # Elsewhere (SQLite): no percentile function, so the mean of the middle row or rows
    # of the ordered days, still in one query.
    inner, params = sales.values("days").query.sql_with_params()
    sql = (
        "SELECT AVG(days) FROM (SELECT days, ROW_NUMBER() OVER (ORDER BY days) AS position, "  # noqa: S608
        f"COUNT(*) OVER () AS n FROM ({inner}) AS sales) AS ranked "
        "WHERE position IN ((n + 1) / 2, (n + 2) / 2)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


# --- Subscription -----------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionUsage:
    plan: Plan
    status: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    ended_at: datetime | None
    used_items: int  # in this mode: items in draft or active, as the limit counts them
    used_api_keys: int  # in this mode: unrevoked keys


def subscription_usage(*, partner: Partner, livemode: bool) -> SubscriptionUsage:
    """The plan, its period and what of its limits the partner uses, in one query (three
    for a partner without a subscription row, which is on the default plan)."""
    row = (
        Subscription.objects.select_related("plan")
        .filter(partner=partner)
        .annotate(**_usage("partner", livemode))
        .first()
    )
    if row is None:
        usage = Partner.objects.filter(pk=partner.pk).annotate(**_usage("pk", livemode))
        return SubscriptionUsage(
            plan=subscriptions.default_plan(),
            status=Subscription.Status.ACTIVE,
            current_period_start=None,
            current_period_end=None,
            cancel_at_period_end=False,
            ended_at=None,
            # The plugin cannot see the names _usage annotates (passed with **).
            **usage.values("used_items", "used_api_keys").get(),  # type: ignore[misc]
        )
    return SubscriptionUsage(
        plan=row.plan,
        status=row.status,
        current_period_start=row.current_period_start,
        current_period_end=row.current_period_end,
        cancel_at_period_end=row.cancel_at_period_end,
        ended_at=row.ended_at,
        used_items=row.used_items,  # type: ignore[attr-defined]  # annotated by _usage
        used_api_keys=row.used_api_keys,  # type: ignore[attr-defined]
    )


def _usage(partner_ref: str, livemode: bool) -> dict:
    """Counts of what the plan limits, as subqueries on the outer row's partner."""
    items = Item.objects.filter(
        partner=OuterRef(partner_ref),
        livemode=livemode,
        deleted_at__isnull=True,
        status__in=Item.PLAN_COUNTED_STATUSES,
    )
    mode = ApiKey.Mode.LIVE if livemode else ApiKey.Mode.TEST
    keys = ApiKey.objects.filter(partner=OuterRef(partner_ref), mode=mode, revoked_at__isnull=True)
    return {"used_items": _count(items), "used_api_keys": _count(keys)}


def _count(queryset):
    return Coalesce(
        Subquery(queryset.order_by().values("partner").annotate(n=Count("pk")).values("n")), 0
    )
