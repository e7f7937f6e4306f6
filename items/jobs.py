"""Background jobs that work through many rows in chunks, with their state on one row:
a reconciliation's apply (items.reconciliations) and a stock import (items.imports).

The row says whether its job is due (`due_field`), who holds it until when
(`lock_field`, a lease) and when it was last nudged (`nudged_field`). Starting the job
marks the row due in the caller's transaction and nudges after commit. A run claims the
row with a conditional UPDATE (so two runs never work at once), then calls `step` up to
`chunks_per_run` times; each step does one chunk in its own transaction, records its
progress there and renews the lease (`lease_until()`). When a step finds nothing left the
run calls `finish`; otherwise it releases the row, still due, with a fresh nudge, so no
task nears its time limit. A killed worker loses at most its uncommitted chunk: once its
lease runs out, the sweeper nudges the job again and the next run carries on.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from rheo import celery, sweeping


def lease_until() -> datetime:
    """When a lease taken or renewed now runs out."""
    return timezone.now() + timedelta(seconds=settings.RHEO_LEASE_SECONDS)


@dataclass(frozen=True)
class ChunkedJob:
    model: type[models.Model]
    task: str  # the Celery task that runs the job, given the row's pk as a string
    running: dict[str, Any]  # the filter of rows whose job is under way
    due_field: str
    lock_field: str
    nudged_field: str
    chunks_per_run: int = 25
    sweep_limit: int = field(default=100)

    def start_fields(self) -> dict[str, Any]:
        """The fields that make a row's job due now; the caller saves them in its
        transaction and calls nudge()."""
        now = timezone.now()
        return {self.due_field: now, self.nudged_field: now, self.lock_field: None}

    def nudge(self, pk) -> None:
        celery.nudge_on_commit(self.task, str(pk))

    def run(
        self,
        pk,
        *,
        step: Callable[[Any], bool],
        finish: Callable[[Any], None],
        chunks: int | None = None,
    ) -> None:
        """If the job is due and not held, claim it and run up to `chunks` (default
        chunks_per_run) steps; a step returns False when nothing was left, and the job is
        then finished (finish clears the due field in its transaction, see stop_fields)."""
        now = timezone.now()
        claimed = self.model._default_manager.filter(
            Q(**{f"{self.lock_field}__isnull": True}) | Q(**{f"{self.lock_field}__lte": now}),
            pk=pk,
            **self.running,
            **{f"{self.due_field}__lte": now},
        ).update(**{self.lock_field: lease_until()})
        if not claimed:
            return
        for _chunk in range(chunks or self.chunks_per_run):
            if not step(pk):
                finish(pk)
                return
        with transaction.atomic():
            self.model._default_manager.filter(pk=pk).update(**self.start_fields())
            self.nudge(pk)

    def stop_fields(self) -> dict[str, Any]:
        """The fields that end a row's job (nothing due, nothing held)."""
        return {self.due_field: None, self.lock_field: None}

    def sweep(self) -> int:
        """Nudge jobs that are due, not held (a killed worker's lease has run out), and
        whose last nudge is older than the grace; how many were."""
        return sweeping.nudge_due(
            self.model._default_manager.filter(**self.running),
            due_field=self.due_field,
            lock_field=self.lock_field,
            nudged_field=self.nudged_field,
            grace=timedelta(seconds=settings.RHEO_NUDGE_GRACE_SECONDS),
            nudge=self.nudge,
            limit=self.sweep_limit,
        )
