"""The one hook through which other parts of Rheo follow an item's changes.

`item_changed` is sent after the change has committed, with `item` (as it is now) and
`change`: "status" (it moved along the lifecycle: activated, de-listed, sold, archived),
"price" or "deleted". The Tradera side (publish when an item with autoPublishTradera
becomes active, reprice, end the auction) connects here.
"""

from django.db import transaction
from django.dispatch import Signal

item_changed = Signal()


def send_on_commit(item, change: str) -> None:
    from items.models import Item

    transaction.on_commit(lambda: item_changed.send(sender=Item, item=item, change=change))
