from django.db.models import Prefetch

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
