"""The public marketplace's pages: the parts for sale, a part, a buyer's order. No login;
every page reads without JavaScript."""

import functools

from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from items import grades, orders, selectors
from items.forms import OrderForm, SearchForm
from rheo import ratelimit
from rheo.errors import ServiceError

PAGE_SIZE = 24


def in_swedish(view):
    """Buyers read Swedish: Django's own texts too (form errors, dates)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        with translation.override("sv"):
            return view(request, *args, **kwargs)

    return wrapped


# What a buyer reads when the order cannot be placed.
REFUSALS = {
    "conflict": "Någon hann före: delen är reserverad för en annan beställning.",
    "not_found": "Delen är inte längre till salu.",
}
PRICE_CHANGED = (
    "Priset har ändrats sedan du öppnade sidan. Kontrollera det nya priset och beställ igen."
)


@in_swedish
@require_GET
def market_index(request):
    form = SearchForm(request.GET)
    items = selectors.search_marketplace(form.to_search())
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "market/index.html", {"form": form, "page": page, "query": query.urlencode()}
    )


@in_swedish
@require_GET
def item_page(request, item_id):
    item = selectors.marketplace_item(item_id=item_id)
    if item is None:
        return _not_found(request)
    return _item_page(request, item, OrderForm(initial={"total": _total(item)}))


@in_swedish
@require_POST
def place_order(request, item_id):
    item = selectors.marketplace_item(item_id=item_id)
    if item is None:
        return _not_found(request)
    form = OrderForm(request.POST)
    if not form.is_valid():
        return _item_page(request, item, form, status=400)
    # Counted per client address, valid orders only: a typo costs nothing.
    decision = ratelimit.hit("market-order", request.META.get("REMOTE_ADDR", ""))
    if not decision.allowed:
        response = _item_page(
            request,
            item,
            form,
            error="Du har lagt många beställningar på kort tid. Försök igen om en stund.",
            status=429,
        )
        response["Retry-After"] = str(decision.retry_after_seconds)
        return response
    try:
        order = orders.place_order(
            item_id=item.id, buyer=form.to_buyer(), seen_total=form.cleaned_data["total"]
        )
    except ServiceError as exc:
        if exc.code not in REFUSALS:
            raise
        if exc.fields and "total" in exc.fields:  # the price changed: show the new one
            item = selectors.marketplace_item(item_id=item_id) or item
            form = OrderForm(initial={**form.cleaned_data, "total": _total(item)})
            return _item_page(request, item, form, error=PRICE_CHANGED, status=409)
        # An annotation of selectors.marketplace_item, which the type checker cannot see.
        item.reserved = exc.code == "conflict"  # type: ignore[attr-defined]
        return _item_page(request, item, form, error=REFUSALS[exc.code], status=409)
    return redirect("market:order", access_key=order.access_key)


@never_cache  # the buyer's name and address: never kept by a shared cache
@in_swedish
@require_GET
def order_page(request, access_key):
    order = selectors.order_by_access_key(access_key=access_key)
    if order is None:
        return _not_found(request)
    response = render(request, "market/order.html", {"order": order})
    response["X-Robots-Tag"] = "noindex"
    return response


def _total(item):
    return item.price + item.shipping_cost


def _item_page(request, item, form, *, error: str = "", status: int = 200):
    context = {
        "item": item,
        "form": form,
        "error": error,
        "total": _total(item),
        "grade": grades.meaning_of(item),
    }
    return render(request, "market/item.html", context, status=status)


def _not_found(request):
    return render(request, "market/not_found.html", status=404)
