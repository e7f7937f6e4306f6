"""An item's timeline: its own activity lines, with the webhook events it caused and
every delivery attempt of each, in the order they happened."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch

from items.models import Item
from webhooks.models import Delivery, Event


@dataclass
class Entry:
    at: datetime
    kind: str
    text: str
    event: Event | None = None
    deliveries: list = field(default_factory=list)


def item_timeline(item: Item) -> list[Entry]:
    entries = [Entry(item.created_at, "received", f"Received by {item.created_via}")]
    entries += [Entry(a.at, a.kind, a.message) for a in item.activities.all()]
    events = Event.objects.filter(item=item).prefetch_related(
        Prefetch(
            "deliveries",
            Delivery.objects.order_by("created_at").prefetch_related("attempt_log"),
        )
    )
    entries += [
        Entry(e.created_at, "event", e.event_type, event=e, deliveries=list(e.deliveries.all()))
        for e in events
    ]
    return sorted(entries, key=lambda entry: entry.at)
