"""Tradera's side of an item: following its changes (follow.py), publishing it as an
auction (publishing.py) and keeping the running auction in step (changes.py), with what
those jobs share (jobs.py); test mode's simulate (simulation.py). The sync is
tradera.sync."""

from tradera.services.changes import apply_changes, end_listing
from tradera.services.follow import follow_item, sweep_listings
from tradera.services.jobs import NotPublishable
from tradera.services.publishing import publish_backlog, publish_listing, retry_publish
from tradera.services.simulation import simulate_event

__all__ = [
    "NotPublishable",
    "apply_changes",
    "end_listing",
    "follow_item",
    "publish_backlog",
    "publish_listing",
    "retry_publish",
    "simulate_event",
    "sweep_listings",
]
