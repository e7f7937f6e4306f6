from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from items.models import LISTED, Item, ItemImage, Order, searchable
from partners.models import Partner


def get_current_item(*, partner: Partner, livemode: bool, external_id: str) -> Item | None:
    return (
        with_item_details(Item.objects.all())
        .filter(
            partner=partner, livemode=livemode, external_id=external_id, deleted_at__isnull=True
        )
        .first()
    )


def with_item_details(items: QuerySet[Item]) -> QuerySet[Item]:
    """Items with what the Integration API's item shape shows (the Tradera listing, the
    images and their stored files) fetched in a fixed number of queries, however many."""
    return items.select_related("tradera_listing").prefetch_related(
        Prefetch("images", ItemImage.objects.select_related("stored"))
    )


@dataclass(frozen=True)
class ItemFilter:
    """What a partner asks its item list for (dashboard and GET /integration/v1/items);
    every part optional. `tradera_status` is a listing's status, or "none": no listing."""

    text: str = ""
    status: str = ""
    tradera_status: str = ""
    updated_since: datetime | None = None
    external_ids: tuple[str, ...] | None = None
    grade: str = ""  # Rheo's canonical grade (Item.grade), whatever the partner's code


def partner_items(
    *, partner: Partner, livemode: bool, filters: ItemFilter | None = None
) -> QuerySet[Item]:
    """A partner's current (not deleted) items of one mode matching `filters`, unordered:
    the one definition the dashboard's item list and the API's listing share. `text`
    matches a part of the external id, the title or the OEM code, case-insensitively."""
    filters = filters or ItemFilter()
    items = Item.objects.filter(partner=partner, livemode=livemode, deleted_at__isnull=True)
    if text := filters.text.strip():
        items = items.filter(
            Q(external_id__icontains=text)
            | Q(title__icontains=text)
            | Q(domain__oemCode__icontains=text)
        )
    if filters.status:
        items = items.filter(status=filters.status)
    if filters.tradera_status == "none":
        items = items.filter(tradera_listing__isnull=True)
    elif filters.tradera_status:
        items = items.filter(tradera_listing__status=filters.tradera_status)
    if filters.updated_since is not None:
        items = items.filter(updated_at__gte=filters.updated_since)
    if filters.external_ids is not None:
        items = items.filter(external_id__in=filters.external_ids)
    if filters.grade:
        items = items.filter(grade=filters.grade)
    return items


def current_item_count(*, livemode: bool) -> Coalesce:
    """For annotating partners: how many current items of that mode each has, counted per
    row shown (a subquery on the partner index), not by joining every item."""
    counts = (
        Item.objects.filter(partner=OuterRef("pk"), livemode=livemode, deleted_at__isnull=True)
        .order_by()
        .values("partner")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)


# --- The marketplace -------------------------------------------------------------------


def listed_items() -> QuerySet[Item]:
    """Items buyers may see and order: live, active, not deleted, of a partner not
    disabled. An item with an order in progress is listed but reserved."""
    return Item.objects.filter(LISTED, partner__is_active=True)


def _order_in_progress() -> QuerySet[Order]:
    return Order.objects.filter(item=OuterRef("pk"), status__in=Order.IN_PROGRESS)


def _ready_images() -> Prefetch:
    return Prefetch(
        "images",
        ItemImage.objects.filter(status=ItemImage.Status.READY).select_related("stored"),
        to_attr="ready_images",
    )


@dataclass(frozen=True)
class MarketSearch:
    """What a buyer asks the marketplace's front page for; every part optional."""

    text: str = ""
    grade: str = ""
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    sort: str = "newest"


SORTS = {
    "newest": ["-status_changed_at", "id"],
    "price_asc": ["price", "id"],
    "price_desc": ["-price", "id"],
}
MAX_SEARCH_WORDS = 8


def search_marketplace(search: MarketSearch) -> QuerySet[Item]:
    """Listed items that are not reserved, matching every word of `text` (in a title, the
    OEM code, the manufacturer or a model; see Item.search_text), the condition grade and
    the price range; each with its hosted images as `ready_images`."""
    items = listed_items().filter(~Exists(_order_in_progress()))
    for word in searchable(search.text).split()[:MAX_SEARCH_WORDS]:
        items = items.filter(search_text__contains=word)
    if search.grade:
        items = items.filter(grade=search.grade)  # canonical: every partner's scale maps to it
    if search.min_price is not None:
        items = items.filter(price__gte=search.min_price)
    if search.max_price is not None:
        items = items.filter(price__lte=search.max_price)
    return items.order_by(*SORTS.get(search.sort, SORTS["newest"])).prefetch_related(
        _ready_images()
    )


def marketplace_item(*, item_id: UUID | str) -> Item | None:
    """A listed item with its hosted images (`ready_images`), its seller, and `reserved`
    (an order for it is in progress)."""
    return (
        listed_items()
        .select_related("partner")
        .annotate(reserved=Exists(_order_in_progress()))
        .prefetch_related(_ready_images())
        .filter(pk=item_id)
        .first()
    )


def order_by_access_key(*, access_key: str) -> Order | None:
    return Order.objects.select_related("item").filter(access_key=access_key).first()


def count_plan_items(*, partner: Partner, livemode: bool) -> int:
    """The items a plan's max_active_items counts: current ones in draft or active."""
    return Item.objects.filter(
        partner=partner,
        livemode=livemode,
        deleted_at__isnull=True,
        status__in=Item.PLAN_COUNTED_STATUSES,
    ).count()
