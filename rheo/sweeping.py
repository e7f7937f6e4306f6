"""The sweepers' one mechanism. A row that is due carries its job's state (when it is
due, who holds it until when, when it was last nudged); a Celery message only nudges.
A sweep nudges again the rows that are due, not held, and whose last nudge is older than
the grace (lost, or due only now), marking them nudged in the same transaction; rows
another sweeper holds are skipped, not waited for."""

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone


def nudge_due(
    rows: QuerySet,
    *,
    due_field: str,
    lock_field: str | None,
    nudged_field: str,
    grace: timedelta,
    nudge: Callable[[object], None],
    limit: int,
) -> int:
    """Nudge (after commit) up to `limit` of `rows` that are due; how many were. Rows
    without a lease (`lock_field` None) are worked on under a row lock instead."""
    now = timezone.now()
    due = rows.filter(**{f"{due_field}__lte": now})
    if lock_field is not None:
        due = due.filter(Q(**{f"{lock_field}__isnull": True}) | Q(**{f"{lock_field}__lte": now}))
    with transaction.atomic():
        ids = list(
            due.select_for_update(skip_locked=True, no_key=True)
            .filter(
                Q(**{f"{nudged_field}__isnull": True}) | Q(**{f"{nudged_field}__lte": now - grace})
            )
            .order_by(due_field)
            .values_list("pk", flat=True)[:limit]
        )
        rows.model._default_manager.filter(pk__in=ids).update(**{nudged_field: now})
        for pk in ids:
            nudge(pk)
    return len(ids)
