"""Price and time-to-sell guidance from completed sales across partners (issue 17).

For a part Rheo gives the median sale price, the interquartile range (25th to 75th
percentile, continuous as PostgreSQL's percentile_cont), the sell-through rate (sales
over sales plus items that left the marketplace unsold) and the median days from the
item's creation to its sale, with the sample size: at the most specific of four levels
that has enough sales from enough distinct sellers (RHEO_GUIDANCE_MIN_SALES,
RHEO_GUIDANCE_MIN_SELLERS):

1. OEM code and canonical grade;   2. OEM code;
3. part category, manufacturer, model and donor-year band, with grade;   4. the same
   without grade.

The part category is the Tradera category the title maps to through the category rules
(tradera.mapping), which is why this module sits in the tradera layer: both APIs and the
dashboard read it. The figures are computed here into items.guidance.PriceGuidance, by a
nightly full refresh and an update of a sold item's keys after each sale; reads only
look rows up. Only live items count; no individual sale is ever shown.
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from items import guidance as keys
from items.guidance import GuidanceUpdate, PriceGuidance
from items.models import Item
from rheo import sweeping
from tradera import mapping
from tradera.models import CategoryRule

Level = PriceGuidance.Level
# The columns of each level's key, most specific level first.
LEVEL_COLUMNS = {
    Level.OEM_GRADE: ("g_oem", "g_grade"),
    Level.OEM: ("g_oem",),
    Level.VEHICLE_GRADE: ("category_id", "g_make", "g_model", "g_band", "g_grade"),
    Level.VEHICLE: ("category_id", "g_make", "g_model", "g_band"),
}
ALL_COLUMNS = ("category_id", "g_oem", "g_grade", "g_make", "g_model", "g_band")
CENT = Decimal("0.01")


def key_of(level: int, values: dict) -> str | None:
    """A level's key from the key columns; None when one of them is missing."""
    parts = [values.get(column) for column in LEVEL_COLUMNS[Level(level)]]
    if any(part in (None, "") for part in parts):
        return None
    return "|".join(str(part) for part in parts)


# --- Computing ---------------------------------------------------------------------------


def _base_sql(where: Q | None = None) -> tuple[str, list]:
    """The outcome items (sales and unsold) with their key columns and category, and for
    a sale its price and days to sale."""
    rows = (
        Item.objects.filter(keys.OUTCOME)
        .annotate(**keys.key_expressions(settings.RHEO_GUIDANCE_YEAR_BAND))
        .filter(where or Q())
        .order_by()
        .values(
            "id",
            "title",
            "partner_id",
            "sold_at",
            "created_at",
            "sale_price",
            *keys.key_expressions(1),
        )
    )
    sql, params = rows.query.sql_with_params()
    return mapping.with_category_sql(sql), list(params)


def _days_sql() -> str:
    if connection.vendor == "postgresql":
        return "EXTRACT(EPOCH FROM (sold_at - created_at)) / 86400.0"
    return "julianday(sold_at) - julianday(created_at)"


@dataclass(frozen=True)
class Figures:
    level: int
    key: str
    sales: int
    sellers: int
    unsold: int
    median_price: Decimal
    p25_price: Decimal
    p75_price: Decimal
    median_days: float


def compute(where: Q | None = None) -> list[Figures]:
    """Every (level, key) with at least one sale among the outcome items `where` selects
    (all when None)."""
    base, params = _base_sql(where)
    if connection.vendor == "postgresql":
        return _compute_postgresql(base, params)
    return _compute_portable(base, params)


def _compute_postgresql(base: str, params: list) -> list[Figures]:
    """One scan, one statement: GROUPING SETS gives the four levels' groups; a group whose
    key has a missing part is dropped after."""
    sets = ", ".join(f"({', '.join(columns)})" for columns in LEVEL_COLUMNS.values())
    sql = (
        f"WITH base AS MATERIALIZED ({base}) "  # noqa: S608
        f"SELECT {', '.join(ALL_COLUMNS)}, GROUPING({', '.join(ALL_COLUMNS)}), "
        "COUNT(sold_at), COUNT(DISTINCT CASE WHEN sold_at IS NOT NULL THEN partner_id END), "
        "COUNT(*) - COUNT(sold_at), "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY sale_price), "
        "percentile_cont(0.25) WITHIN GROUP (ORDER BY sale_price), "
        "percentile_cont(0.75) WITHIN GROUP (ORDER BY sale_price), "
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {_days_sql()}) "
        f"FROM base GROUP BY GROUPING SETS ({sets}) HAVING COUNT(sold_at) > 0"
    )
    # GROUPING()'s bit for each level: a 1 marks a column not in the set (first = highest).
    width = len(ALL_COLUMNS)
    level_bits = {
        sum(1 << (width - 1 - i) for i, c in enumerate(ALL_COLUMNS) if c not in columns): level
        for level, columns in LEVEL_COLUMNS.items()
    }
    figures = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            values = _with_category(dict(zip(ALL_COLUMNS, row[:width], strict=True)))
            level = level_bits[row[width]]
            key = key_of(level, values)
            if key is None:
                continue
            sales, sellers, unsold, median, p25, p75, days = row[width + 1 :]
            figures.append(
                Figures(
                    level,
                    key,
                    sales,
                    sellers,
                    unsold,
                    _money(median),
                    _money(p25),
                    _money(p75),
                    float(days),
                )
            )
    return figures


def _with_category(values: dict) -> dict:
    """A title no rule matches is in OTHER_PARTS, as category_for says (the SQL gives
    NULL). Levels 1 and 2 do not read the category, so their NULL does no harm."""
    if values["category_id"] is None:
        values["category_id"] = mapping.OTHER_PARTS
    return values


def _compute_portable(base: str, params: list) -> list[Figures]:
    """Elsewhere (SQLite, the embedded default): the same rows, grouped in Python."""
    sql = (
        f"SELECT {', '.join(ALL_COLUMNS)}, partner_id, sale_price, {_days_sql()} FROM ({base}) AS b"  # noqa: S608
    )
    groups: dict[tuple[int, str], list] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            values = _with_category(dict(zip(ALL_COLUMNS, row, strict=False)))
            for level in Level:
                key = key_of(level, values)
                if key is not None:
                    groups[(level, key)].append(row[len(ALL_COLUMNS) :])
    figures = []
    for (group_level, key), rows in groups.items():
        sold = [
            (partner, Decimal(str(price)), days)
            for partner, price, days in rows
            if price is not None
        ]
        if not sold:
            continue
        prices = sorted(float(price) for _, price, _ in sold)
        days = sorted(float(d) for _, _, d in sold)
        figures.append(
            Figures(
                group_level,
                key,
                len(sold),
                len({partner for partner, _, _ in sold}),
                len(rows) - len(sold),
                _money(percentile(prices, 0.5)),
                _money(percentile(prices, 0.25)),
                _money(percentile(prices, 0.75)),
                percentile(days, 0.5),
            )
        )
    return figures


def percentile(ordered: list[float], fraction: float) -> float:
    """Continuous percentile of sorted values, as percentile_cont: linear interpolation
    between the two nearest ranks."""
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def _store(figures: Iterable[Figures], now: datetime) -> int:
    rows = [
        PriceGuidance(
            level=f.level,
            key=f.key,
            sales=f.sales,
            sellers=f.sellers,
            unsold=f.unsold,
            median_price=f.median_price,
            p25_price=f.p25_price,
            p75_price=f.p75_price,
            median_days=f.median_days,
            refreshed_at=now,
        )
        for f in figures
    ]
    PriceGuidance.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["level", "key"],
        update_fields=[
            "sales",
            "sellers",
            "unsold",
            "median_price",
            "p25_price",
            "p75_price",
            "median_days",
            "refreshed_at",
        ],
    )
    return len(rows)


def refresh_all() -> int:
    """The nightly job: every key recomputed from all outcome items, keys without sales
    any more removed; one transaction, so readers see the old table or the new one. A sale
    committed while it computed may be missing from what it stores over a sale's update:
    the sales since shortly before it began are queued for an update again. How many rows
    there are."""
    now = timezone.now()
    figures = compute()
    with transaction.atomic():
        count = _store(figures, now)
        PriceGuidance.objects.filter(refreshed_at__lt=now).delete()
        since = now - _lease()
        for item in Item.objects.filter(livemode=True, sold_at__gte=since).only("pk", "livemode"):
            keys.queue_update(item)
    return count


def update_for_item(*, item_id) -> int:
    """A sale's update: the sold item's four keys recomputed from the outcome items that
    share its OEM code or its vehicle (filtering on the key columns), then stored. Held
    by a lease on its GuidanceUpdate row, so two workers never do it twice at once; a
    worker that dies leaves the row for the sweeper. How many keys were stored."""
    now = timezone.now()
    claimed = (
        GuidanceUpdate.objects.filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .filter(item_id=item_id, due_at__lte=now)
        .update(locked_until=now + _lease())
    )
    if not claimed:
        return 0
    item = Item.objects.filter(pk=item_id).first()
    stored = 0
    if item is not None:
        wanted = item_keys(item, _rules())
        part = keys.python_keys(item, settings.RHEO_GUIDANCE_YEAR_BAND)
        where = Q(pk=item.pk)
        if part["g_oem"]:
            where |= Q(g_oem=part["g_oem"])
        if part["g_make"] and part["g_model"] and part["g_band"] is not None:
            where |= Q(g_make=part["g_make"], g_model=part["g_model"], g_band=part["g_band"])
        found = [f for f in compute(where) if wanted.get(f.level) == f.key]
        with transaction.atomic():
            stored = _store(found, now)
            GuidanceUpdate.objects.filter(item_id=item_id, due_at__lte=now).delete()
    else:
        GuidanceUpdate.objects.filter(item_id=item_id).delete()
    return stored


def _lease():
    from datetime import timedelta

    return timedelta(seconds=settings.RHEO_LEASE_SECONDS)


def sweep_updates() -> int:
    """Nudge again the sales' updates whose nudge was lost or whose worker died."""
    from datetime import timedelta

    from rheo import celery

    return sweeping.nudge_due(
        GuidanceUpdate.objects.all(),
        due_field="due_at",
        lock_field="locked_until",
        nudged_field="nudged_at",
        grace=timedelta(seconds=settings.RHEO_NUDGE_GRACE_SECONDS),
        nudge=lambda pk: celery.nudge_on_commit(keys.UPDATE_TASK, str(pk)),
        limit=500,
    )


# --- Reading -----------------------------------------------------------------------------


def _rules() -> list[tuple[str, int]]:
    return [
        (k.lower(), c)
        for k, c in CategoryRule.objects.order_by("position", "keyword").values_list(
            "keyword", "category_id"
        )
    ]


def _category(title: str, rules: list[tuple[str, int]]) -> int:
    words = title.lower()
    for keyword, category_id in rules:
        if keyword in words:
            return category_id
    return mapping.OTHER_PARTS


def item_keys(item: Item, rules: list[tuple[str, int]]) -> dict[int, str]:
    """The item's key at each level it has one for."""
    values = {**keys.python_keys(item, settings.RHEO_GUIDANCE_YEAR_BAND)}
    values["category_id"] = _category(item.title, rules)
    found = {}
    for level in Level:
        key = key_of(level, values)
        if key is not None:
            found[int(level)] = key
    return found


def _enough() -> Q:
    return Q(
        sales__gte=settings.RHEO_GUIDANCE_MIN_SALES, sellers__gte=settings.RHEO_GUIDANCE_MIN_SELLERS
    )


def _best(
    wanted: dict[int, str], rows: dict[tuple[int, str], PriceGuidance]
) -> PriceGuidance | None:
    for level in sorted(wanted):
        row = rows.get((level, wanted[level]))
        if row is not None:
            return row
    return None


def for_items(items: list[Item]) -> dict:
    """Each item's guidance (its most specific level with enough sales), or None: one
    query for the rows however many items, one for the category rules."""
    rules = _rules()
    wanted = {item.pk: item_keys(item, rules) for item in items}
    all_keys = {key for found in wanted.values() for key in found.values()}
    rows = {}
    if all_keys:
        for row in PriceGuidance.objects.filter(_enough(), key__in=all_keys):
            rows[(row.level, row.key)] = row
    return {pk: _best(found, rows) for pk, found in wanted.items()}


def for_oem(oem_code: str, grade: str = "") -> PriceGuidance | None:
    """Guidance for a part not pushed yet: its OEM code, with its grade when given."""
    oem = keys.normalised_oem(oem_code)
    grade = grade.strip().upper()
    wanted = {int(Level.OEM): oem}
    if grade:
        wanted[int(Level.OEM_GRADE)] = f"{oem}|{grade}"
    rows = {
        (r.level, r.key): r
        for r in PriceGuidance.objects.filter(_enough(), key__in=wanted.values())
    }
    return _best(wanted, rows)


def position(row: PriceGuidance, price: Decimal) -> str:
    """Where a price stands among the sales: top_quarter (above the 75th percentile),
    bottom_quarter (below the 25th) or middle_half."""
    if price > row.p75_price:
        return "top_quarter"
    if price < row.p25_price:
        return "bottom_quarter"
    return "middle_half"


def as_json(row: PriceGuidance | None, price: Decimal | None = None) -> dict:
    """The `guidance` block of the APIs."""
    if row is None:
        return {
            "available": False,
            "reason": "not_enough_sales",
            "minSales": settings.RHEO_GUIDANCE_MIN_SALES,
            "minSellers": settings.RHEO_GUIDANCE_MIN_SELLERS,
        }
    body = {
        "available": True,
        "level": row.get_level_display(),
        "sampleSize": row.sales,
        "sellers": row.sellers,
        "medianPrice": float(row.median_price),
        "interquartileRange": {"low": float(row.p25_price), "high": float(row.p75_price)},
        "sellThroughRate": row.sell_through,
        "medianDaysToSale": round(row.median_days, 1),
        "refreshedAt": row.refreshed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if price is not None:
        body["pricePosition"] = position(row, price)
    return body


# The OpenAPI examples of both APIs.
EXAMPLE = {
    "available": True,
    "level": "oem_grade",
    "sampleSize": 24,
    "sellers": 5,
    "medianPrice": 1300.0,
    "interquartileRange": {"low": 1150.0, "high": 1550.0},
    "sellThroughRate": 0.8,
    "medianDaysToSale": 25.0,
    "refreshedAt": "2026-12-06T02:00:00Z",
}
EXAMPLE_NOT_ENOUGH = {
    "available": False,
    "reason": "not_enough_sales",
    "minSales": 10,
    "minSellers": 3,
}


# --- The dashboard ------------------------------------------------------------------------

POSITION_TEXT = {
    "top_quarter": "Your price is in the top quarter of sales for this part",
    "bottom_quarter": "Your price is in the bottom quarter of sales for this part",
    "middle_half": "Your price is in the middle half of sales for this part",
}


@dataclass(frozen=True)
class Priced:
    """An item beside its guidance, for the dashboard."""

    item: Item
    row: PriceGuidance
    position: str

    @property
    def text(self) -> str:
        return POSITION_TEXT[self.position]

    @property
    def gap(self) -> Decimal:
        """How far the price is past the nearer quartile, SEK (positive above)."""
        if self.position == "top_quarter":
            return self.item.price - self.row.p75_price
        if self.position == "bottom_quarter":
            return self.item.price - self.row.p25_price
        return Decimal(0)


def priced(item: Item) -> Priced | None:
    row = for_items([item])[item.pk]
    return Priced(item, row, position(row, item.price)) if row else None


def far_from_guidance(*, partner, livemode: bool, limit: int) -> list[Priced]:
    """The partner's listed items priced above the 75th percentile or below the 25th of
    their guidance, furthest (relative to the median) first. Reads the `limit` most
    recently changed listed items: two queries for them, one for their guidance."""
    items = list(
        Item.objects.filter(
            partner=partner, livemode=livemode, deleted_at__isnull=True, status="active"
        ).order_by("-updated_at")[:limit]
    )
    found = for_items(items)
    outliers = [
        Priced(item, row, position(row, item.price))
        for item in items
        if (row := found[item.pk]) is not None and position(row, item.price) != "middle_half"
    ]
    return sorted(outliers, key=lambda p: -abs(p.gap) / p.row.median_price)
