"""Analytics and the subscription: the figures of portal.analytics (one query each),
drawn as inline SVG beside their tables, and each table as a CSV download."""

import csv
from collections.abc import Callable, Iterable

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from items.models import SalePlatform
from partners import subscriptions
from portal import analytics as figures
from portal.dashboard import charts
from portal.dashboard.base import partner_page
from rheo.errors import ServiceError
from rheo.formatting import spreadsheet_cell
from tradera import guidance

PLATFORMS = [
    charts.Series(SalePlatform.TRADERA, "Tradera", "#2f6fb3"),
    charts.Series(SalePlatform.RHEO, "Rheo", "#0b6e4f"),
]
TOP_GROUPS = 10
# The listed items the "priced far from guidance" table looks at, most recently changed.
GUIDANCE_ITEMS = 1000


@partner_page
def analytics(request):
    scope = {"partner": request.partner, "livemode": request.livemode}
    revenue = figures.revenue_by_month(**scope)
    manufacturers = figures.by_manufacturer(**scope)
    categories = figures.by_category(**scope)
    context = {
        "inventory": figures.inventory(**scope),
        "revenue": revenue,
        "revenue_total": sum((m.total for m in revenue), figures.ZERO),
        "manufacturers": manufacturers,
        "categories": categories,
        "sell_through": figures.sell_through(**scope),
        "median_days": figures.median_days_to_sale(**scope),
        "revenue_chart": charts.stacked_columns(
            [(m.month.strftime("%b %y"), m.revenue) for m in revenue],
            PLATFORMS,
            title="Revenue per month by platform, SEK",
        ),
        "manufacturer_chart": _bars(manufacturers, "Items by manufacturer", "#2f6fb3"),
        "category_chart": _bars(categories, "Items by part category", "#0b6e4f"),
        "far_from_guidance": guidance.far_from_guidance(**scope, limit=GUIDANCE_ITEMS),
    }
    return render(request, "dashboard/analytics.html", context)


def _bars(breakdowns, title: str, colour: str):
    rows = sorted(breakdowns, key=lambda b: -b.items)[:TOP_GROUPS]
    return charts.horizontal_bars(
        [(b.name or "(not given)", b.items) for b in rows], title=title, colour=colour
    )


# name → (header, the rows of a scope)
CSV_TABLES: dict[str, tuple[list[str], Callable[[dict], Iterable[list]]]] = {
    "revenue": (
        ["month", "tradera_sek", "rheo_sek", "total_sek", "tradera_sales", "rheo_sales"],
        lambda scope: (
            [
                m.month.isoformat(),
                m.revenue["tradera"],
                m.revenue["rheo"],
                m.total,
                m.sales["tradera"],
                m.sales["rheo"],
            ]
            for m in figures.revenue_by_month(**scope)
        ),
    ),
    "manufacturers": (
        ["manufacturer", "items", "sold", "revenue_sek"],
        lambda scope: (
            [b.name or "", b.items, b.sold, b.revenue] for b in figures.by_manufacturer(**scope)
        ),
    ),
    "categories": (
        ["tradera_category_id", "category", "items", "sold", "revenue_sek"],
        lambda scope: (
            [b.key, b.name, b.items, b.sold, b.revenue] for b in figures.by_category(**scope)
        ),
    ),
}


@partner_page
def analytics_csv(request, table):
    if table not in CSV_TABLES:
        raise Http404("No such table.")
    header, rows = CSV_TABLES[table]
    mode = "live" if request.livemode else "test"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rheo-{table}-{mode}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows({"partner": request.partner, "livemode": request.livemode}):
        writer.writerow([spreadsheet_cell(value) for value in row])
    return response


@partner_page
def subscription(request):
    context = {
        "usage": figures.subscription_usage(partner=request.partner, livemode=request.livemode),
        "plans": subscriptions.public_plans(),
    }
    return render(request, "dashboard/subscription.html", context)


@require_POST
@partner_page
def change_subscription(request):
    """Change plan, cancel at period end, or resume: one form button each."""
    action = request.POST.get("action")
    change = {
        "change": lambda: subscriptions.change_plan(
            partner=request.partner, plan_code=request.POST.get("plan", ""), changed_by=request.user
        ),
        "cancel": lambda: subscriptions.cancel_subscription(
            partner=request.partner, changed_by=request.user
        ),
        "resume": lambda: subscriptions.resume_subscription(
            partner=request.partner, changed_by=request.user
        ),
    }.get(action)
    if change is None:
        messages.error(request, "Choose what to change.")
        return redirect("dashboard:subscription")
    try:
        done = change()
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:subscription")
    messages.success(
        request,
        {
            "change": f"You are on the {done.plan.name} plan.",
            "cancel": "The subscription ends at the end of this period.",
            "resume": "The subscription renews as before.",
        }[action],
    )
    return redirect("dashboard:subscription")
