"""Tradera's side of an item: publishing it as an auction (publishing.py) and keeping the
running auction in step with the item (changes.py). The sync is tradera.sync."""

from tradera.services.changes import apply_changes, end_listing, request_changes
from tradera.services.publishing import (
    NotPublishable,
    publish_listing,
    retry_publish,
    start_publishing,
    sweep_listings,
)
from tradera.services.simulation import simulate_event

__all__ = [
    "NotPublishable",
    "apply_changes",
    "end_listing",
    "publish_listing",
    "request_changes",
    "retry_publish",
    "simulate_event",
    "start_publishing",
    "sweep_listings",
]
