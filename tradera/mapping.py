"""An item as a Tradera auction: title, category, description, shipping, references."""

import math

from django.conf import settings

from items.enhancer import part_facts, shorten
from items.models import Item
from tradera.client import MAX_DESCRIPTION, MAX_TITLE, NewAuction, Shipping
from tradera.models import CategoryRule

OTHER_PARTS = 343434  # Övriga reservdelar


def auction_for(item: Item) -> NewAuction:
    return NewAuction(
        title=shorten(item.display_title, MAX_TITLE),
        description=description_for(item),
        category_id=category_for(item),
        duration_days=settings.TRADERA_AUCTION_DAYS,
        # Tradera takes whole kronor; never open below what the partner asked.
        start_price=math.ceil(item.price),
        shipping=(
            Shipping(
                option_id=settings.TRADERA_SHIPPING_OPTION_ID,
                cost=math.ceil(item.shipping_cost),
                weight_kg=item.weight_kg,
            ),
        ),
        own_references=(str(item.id),),
    )


def category_for(item: Item) -> int:
    words = item.title.lower()
    for rule in CategoryRule.objects.all():
        if rule.keyword.lower() in words:
            return rule.category_id
    return OTHER_PARTS


def description_for(item: Item) -> str:
    """The item's text, then the facts Tradera has no field for (its condition is only
    new or used)."""
    parts = [item.display_description.strip()]
    if not item.enhanced_description:  # the enhanced text states the facts already
        parts.append("\n".join(part_facts(item.domain or {})))
    return shorten("\n\n".join(p for p in parts if p), MAX_DESCRIPTION)
