"""Guarded reconciliation: a partner's complete set of external ids, held against its
items, de-lists the listed ones the set leaves out.

A preview applies nothing. It reads the partner's current items of the key's mode once
(one indexed query, streamed), compares them with the set in Python, and stores the
absent items' ids (ReconciliationItem rows, inserted in batches): the apply de-lists
exactly what the preview showed, never what a later set would.

Applying is a background job whose state is the reconciliation row (items.jobs): the
apply request marks it due in its transaction and nudges after commit; the job claims it
with a lease, de-lists a chunk of items per transaction
(through items.lifecycle.transition_item, so their Tradera auctions end as any status
change's do) and records the chunk's progress in the same transaction. A killed worker
loses at most its uncommitted chunk; the sweeper nudges the job again once its lease has
run out. Items already dealt with are marked, so running the job twice de-lists nothing
twice.
"""

import csv
import io
import math
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from items import jobs, lifecycle
from items.models import Item, Order, Reconciliation, ReconciliationItem
from partners.models import Partner
from rheo.errors import ServiceError

APPLY_TASK = "items.apply_reconciliation"
MAX_IDS = 200_000
MAX_EXTERNAL_ID_LENGTH = 255
SAMPLE_SIZE = 100
PREVIEW_LIFETIME = timedelta(hours=1)
# The statuses a de-listing changes: the item is in the marketplace or on its way there.
LISTED_STATUSES = (Item.Status.DRAFT, Item.Status.ACTIVE)
# Items de-listed per transaction, and chunks per task run (a run then hands the rest to
# a fresh message, so no task nears its time limit).
CHUNK = 200
CHUNKS_PER_RUN = 25
INSERT_BATCH = 5000
APPLY_JOB = jobs.ChunkedJob(
    model=Reconciliation,
    task=APPLY_TASK,
    running={"status": Reconciliation.Status.APPLYING},
    due_field="apply_due_at",
    lock_field="apply_locked_until",
    nudged_field="apply_nudged_at",
    chunks_per_run=CHUNKS_PER_RUN,
)


def parse_csv_ids(text: str) -> list[str]:
    """External ids from CSV text: the column named externalId when the first row has one
    (any case), else the first column of every row. Blank lines are skipped."""
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    if "externalid" in header:
        column = header.index("externalid")
        return [row[column].strip() if column < len(row) else "" for row in rows[1:]]
    return [row[0].strip() for row in rows]


def check_ids(external_ids: object) -> list[str]:
    """The set as sent, validated: 1 to 200,000 strings of 1 to 255 characters without NUL.
    Duplicates are allowed and count once."""
    if not isinstance(external_ids, list) or not external_ids:
        raise ServiceError(
            "validation_error",
            "externalIds must be a non-empty list of your external ids.",
            fields={"externalIds": ["Send at least one external id."]},
        )
    if len(external_ids) > MAX_IDS:
        raise ServiceError(
            "validation_error",
            f"At most {MAX_IDS} external ids per reconciliation; {len(external_ids)} were sent.",
            fields={"externalIds": [f"Ensure this list has no more than {MAX_IDS} elements."]},
        )
    problems = {}
    for position, value in enumerate(external_ids):
        if not isinstance(value, str) or not value:
            problems[f"externalIds[{position}]"] = ["Must be a non-empty string."]
        elif len(value) > MAX_EXTERNAL_ID_LENGTH or "\x00" in value:
            problems[f"externalIds[{position}]"] = [
                f"At most {MAX_EXTERNAL_ID_LENGTH} characters, and no NUL characters."
            ]
        if len(problems) >= 20:  # enough to show what is wrong
            break
    if problems:
        raise ServiceError(
            "validation_error", f"{len(problems)} external ids are invalid.", fields=problems
        )
    return external_ids


def guard_limit(listed_count: int) -> int:
    """The most items an apply de-lists without force: RHEO_RECONCILIATION_GUARD_PERCENT of
    the partner's listed items, rounded down."""
    return math.floor(listed_count * settings.RHEO_RECONCILIATION_GUARD_PERCENT / 100)


def preview_reconciliation(
    *, partner: Partner, livemode: bool, external_ids: object
) -> Reconciliation:
    """Compare the set with the partner's current items (this mode) and store the preview
    with the absent listed items. Writes nothing else."""
    wanted = set(check_ids(external_ids))
    now = timezone.now()
    present = listed = 0
    absent: list[tuple[UUID, str]] = []
    rows = (
        Item.objects.filter(partner=partner, livemode=livemode, deleted_at__isnull=True)
        .order_by("created_at", "id")
        .values_list("id", "external_id", "status")
    )
    for item_id, external_id, status in rows.iterator(chunk_size=5000):
        is_listed = status in LISTED_STATUSES
        listed += is_listed
        if external_id in wanted:
            present += 1
        elif is_listed:
            absent.append((item_id, external_id))
    with transaction.atomic():
        reconciliation = Reconciliation.objects.create(
            partner=partner,
            livemode=livemode,
            created_at=now,
            expires_at=now + PREVIEW_LIFETIME,
            submitted_count=len(wanted),
            present_count=present,
            absent_count=len(absent),
            unknown_count=len(wanted) - present,
            listed_count=listed,
            guard_limit=guard_limit(listed),
            absent_sample=[external_id for _id, external_id in absent[:SAMPLE_SIZE]],
        )
        ReconciliationItem.objects.bulk_create(
            (ReconciliationItem(reconciliation=reconciliation, item_id=pk) for pk, _ in absent),
            batch_size=INSERT_BATCH,
        )
    return reconciliation


def get_reconciliation(*, partner: Partner, livemode: bool, reconciliation_id) -> Reconciliation:
    """The partner's reconciliation of this mode, else not_found (another partner's or the
    other mode's included)."""
    found = Reconciliation.objects.filter(
        pk=reconciliation_id, partner=partner, livemode=livemode
    ).first()
    if found is None:
        raise ServiceError("not_found", f"No reconciliation {reconciliation_id}.")
    return found


def apply_reconciliation(
    *, partner: Partner, livemode: bool, reconciliation_id, force: bool
) -> Reconciliation:
    """Start de-listing the preview's absent items, in the background. Idempotent: a
    reconciliation applying or applied already is returned as it is. Refused (conflict)
    when the preview has expired, or when it would de-list more than the guard allows and
    `force` is not set."""
    with transaction.atomic():
        reconciliation = (
            Reconciliation.objects.select_for_update()
            .filter(pk=reconciliation_id, partner=partner, livemode=livemode)
            .first()
        )
        if reconciliation is None:
            raise ServiceError("not_found", f"No reconciliation {reconciliation_id}.")
        if reconciliation.status != Reconciliation.Status.PREVIEWED:
            return reconciliation
        now = timezone.now()
        if reconciliation.is_expired(now):
            raise ServiceError(
                "conflict",
                f"Reconciliation {reconciliation.id} expired at "
                f"{reconciliation.expires_at:%Y-%m-%dT%H:%M:%SZ}; send your ids again for a "
                "new preview.",
            )
        if reconciliation.needs_force and not force:
            raise ServiceError(
                "conflict",
                f"This would de-list {reconciliation.absent_count} of your "
                f"{reconciliation.listed_count} listed items, more than the guard's "
                f"{settings.RHEO_RECONCILIATION_GUARD_PERCENT} % "
                f"({reconciliation.guard_limit} items). If your set is complete, apply with "
                '{"force": true}.',
            )
        reconciliation.status = Reconciliation.Status.APPLYING
        reconciliation.forced = force
        reconciliation.apply_requested_at = now
        for name, value in APPLY_JOB.start_fields().items():
            setattr(reconciliation, name, value)
        reconciliation.save()
        APPLY_JOB.nudge(reconciliation.pk)
    return reconciliation


def run_apply(*, reconciliation_id) -> None:
    """The apply job (items.jobs): de-list up to CHUNKS_PER_RUN chunks, then either finish
    or leave the rest due with a fresh nudge."""
    APPLY_JOB.run(reconciliation_id, step=_apply_chunk, finish=_finish)


def _apply_chunk(reconciliation_id) -> bool:
    """De-list the next chunk of pending items and count it, in one transaction; False when
    none was pending. The lease is renewed with the chunk's progress."""
    with transaction.atomic():
        reconciliation = Reconciliation.objects.select_for_update().get(pk=reconciliation_id)
        pending = list(
            ReconciliationItem.objects.filter(
                reconciliation=reconciliation, outcome=ReconciliationItem.Outcome.PENDING
            ).order_by("id")[:CHUNK]
        )
        if not pending:
            return False
        items = Item.objects.select_for_update().in_bulk([row.item_id for row in pending])
        busy = set(
            Order.objects.filter(item_id__in=items, status__in=Order.IN_PROGRESS).values_list(
                "item_id", flat=True
            )
        )
        delisted = []
        for row in pending:
            item = items.get(row.item_id)
            if item is not None and _may_delist(item, reconciliation, busy):
                lifecycle.transition_item(item=item, status=Item.Status.NOT_LISTED)
                lifecycle.record_activity(
                    item=item, kind="reconciled", message="De-listed by a reconciliation"
                )
                delisted.append(row.pk)
        skipped = [row.pk for row in pending if row.pk not in set(delisted)]
        rows = ReconciliationItem.objects.filter(pk__in=delisted)
        rows.update(outcome=ReconciliationItem.Outcome.DELISTED)
        ReconciliationItem.objects.filter(pk__in=skipped).update(
            outcome=ReconciliationItem.Outcome.SKIPPED
        )
        reconciliation.done_count += len(pending)
        reconciliation.delisted_count += len(delisted)
        reconciliation.skipped_count += len(skipped)
        reconciliation.apply_locked_until = jobs.lease_until()
        reconciliation.save(
            update_fields=[
                "done_count",
                "delisted_count",
                "skipped_count",
                "apply_locked_until",
            ]
        )
    return True


def _may_delist(item: Item, reconciliation: Reconciliation, busy: set) -> bool:
    """An absent item is de-listed unless, since the preview, it was deleted, left the
    listed statuses, or changed at all (a PUT re-sent it, its price or status changed):
    then the preview no longer describes it. An item with a Rheo order in progress keeps
    its status, as a PATCH status would be refused."""
    return (
        item.deleted_at is None
        and item.status in LISTED_STATUSES
        and item.updated_at <= reconciliation.created_at
        and item.pk not in busy
    )


def _finish(reconciliation_id) -> None:
    now = timezone.now()
    Reconciliation.objects.filter(pk=reconciliation_id).update(
        status=Reconciliation.Status.APPLIED,
        applied_at=now,
        **APPLY_JOB.stop_fields(),
    )


def sweep_reconciliations() -> int:
    """Nudge apply jobs that are due, not held (a killed worker's lease has run out), and
    whose last nudge is older than the grace."""
    return APPLY_JOB.sweep()
