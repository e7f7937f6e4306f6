"""Overview, items and the item page."""

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from items import selectors as item_selectors
from items.models import Item, ItemImage
from items.selectors import ItemFilter
from portal import analytics
from portal.dashboard import forms
from portal.dashboard.base import MODE_SESSION_KEY, paginate, partner_page, query_without_page
from portal.dashboard.timeline import item_timeline
from tradera import connect, guidance, relisting, sync
from tradera import selectors as tradera_selectors
from tradera.models import TraderaAccount, TraderaListing
from webhooks import selectors as webhook_selectors

ATTENTION_LIMIT = 10


def _items(request):
    return Item.objects.filter(
        partner=request.partner, livemode=request.livemode, deleted_at__isnull=True
    )


@partner_page
def overview(request):
    items = _items(request)
    inventory = analytics.inventory(partner=request.partner, livemode=request.livemode)
    failed_images = (
        items.filter(images__status=ItemImage.Status.FAILED).distinct().order_by("-updated_at")
    )
    sync_errors = items.filter(
        tradera_listing__status=TraderaListing.Status.SYNC_ERROR
    ).select_related("tradera_listing")
    account = TraderaAccount.objects.filter(partner=request.partner, livemode=True).first()
    context = {
        "inventory": inventory,
        "backlog": tradera_selectors.tradera_queue(
            partner=request.partner, livemode=request.livemode
        ),
        "failed_images": failed_images[:ATTENTION_LIMIT],
        "sync_errors": sync_errors.order_by("-updated_at")[:ATTENTION_LIMIT],
        "token": connect.token_health(account) if account and request.livemode else None,
        "endpoint": webhook_selectors.get_endpoint(
            partner=request.partner, livemode=request.livemode
        ),
        "deliveries": webhook_selectors.deliveries_for(partner=request.partner)
        .filter(event__livemode=request.livemode)
        .order_by("-created_at")[:ATTENTION_LIMIT],
    }
    return render(request, "dashboard/overview.html", context)


@partner_page
def item_list(request):
    form = forms.ItemFilterForm(request.GET)
    filters = ItemFilter()
    if form.is_valid():
        data = form.cleaned_data
        filters = ItemFilter(
            text=data["q"],
            status=data["status"],
            tradera_status=data["tradera"],
            grade=data["grade"],
        )
    items = (
        item_selectors.partner_items(
            partner=request.partner, livemode=request.livemode, filters=filters
        )
        .select_related("tradera_listing")
        .order_by("-updated_at", "pk")
    )
    context = {
        "form": form,
        "page": paginate(request, items),
        "query": query_without_page(request),
        "backlog": tradera_selectors.tradera_queue(
            partner=request.partner, livemode=request.livemode
        ),
    }
    return render(request, "dashboard/items.html", context)


@partner_page
def item_detail(request, item_id):
    """Any item of the partner's, in either mode and deleted ones too: its history stays
    readable (links from the delivery log reach it whatever mode is being viewed)."""
    item = get_object_or_404(
        Item.objects.select_related("tradera_listing").prefetch_related(
            Prefetch("images", ItemImage.objects.select_related("stored").order_by("position"))
        ),
        pk=item_id,
        partner=request.partner,
    )
    listing = getattr(item, "tradera_listing", None)
    context = {
        "item": item,
        "listing": listing,
        "timeline": item_timeline(item),
        "checked_at": sync.last_checked(listing) if listing else None,
        "relist": relisting.state_of(item),
        "guidance": guidance.priced(item),
    }
    return render(request, "dashboard/item.html", context)


@require_POST
@partner_page
def switch_mode(request):
    mode = "test" if request.POST.get("mode") == "test" else "live"
    request.session[MODE_SESSION_KEY] = mode
    messages.info(
        request,
        "Now viewing test data: your test keys' items, their webhooks and the Tradera "
        "sandbox; nothing real is sold."
        if mode == "test"
        else "Now viewing live data: your live keys' items, real Tradera auctions and sales.",
    )
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/dashboard/") else "dashboard:overview")
