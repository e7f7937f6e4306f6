from items.models import Item
from partners.models import Partner


def get_current_item(*, partner: Partner, livemode: bool, external_id: str) -> Item | None:
    return (
        Item.objects.select_related("tradera_listing")
        .filter(
            partner=partner, livemode=livemode, external_id=external_id, deleted_at__isnull=True
        )
        .first()
    )
