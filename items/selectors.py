from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce

from items.models import Item, ItemImage
from partners.models import Partner


def get_current_item(*, partner: Partner, livemode: bool, external_id: str) -> Item | None:
    return (
        Item.objects.select_related("tradera_listing")
        .prefetch_related(Prefetch("images", ItemImage.objects.select_related("stored")))
        .filter(
            partner=partner, livemode=livemode, external_id=external_id, deleted_at__isnull=True
        )
        .first()
    )


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
