"""Every step of a stock import, and its background job.

1. create_import: the file is read and every row stored (ImportRow) in one transaction,
   with the mapping guessed (the partner's remembered one first). Nothing else is written.
2. start_check: the partner's mapping is kept (on the import, and remembered for the
   partner's next upload) and the job checks every row: the batch service with
   validate_only, which writes nothing but the rows' check outcomes.
3. start_import: the job imports every row through the batch service, chunk by chunk
   (CHUNK rows, the batch endpoint's 100), with the items' timelines naming "import".

The job (items.jobs) works through the rows in order of their line; `position` is the last
line done. Each chunk runs in one transaction with its rows' outcomes and the import's
counts: the items' upserts run inside it as savepoints (each item's guarantees are the
PUT's: the same upsert, its image job nudged once the chunk commits), so a killed worker
loses its whole uncommitted chunk or none of it, and the next run carries on from
`position`: no row is imported twice, none is skipped, each outcome is the one that was
written.
"""

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterator

from django.db import transaction
from django.utils import timezone

from items import grades, jobs
from items.batch import MAX_BATCH_ITEMS, OUTCOMES, BatchItem, BatchResult, upsert_items
from items.imports import files
from items.imports.mapping import check_mapping, guess_mapping, remembered_columns, row_body
from items.imports.models import ImportMapping, ImportRow, StockImport
from items.payloads import BatchItemInputSerializer, batch_item
from partners.models import Partner
from rheo.errors import ServiceError, validation_error
from rheo.formatting import spreadsheet_cell

JOB_TASK = "items.run_stock_import"
CHUNK = MAX_BATCH_ITEMS
INSERT_BATCH = 2000
ACCEPTED = ("created", "updated", "unchanged")
FIRST_ERRORS = 20

IMPORT_JOB = jobs.ChunkedJob(
    model=StockImport,
    task=JOB_TASK,
    running={"status__in": StockImport.RUNNING},
    due_field="job_due_at",
    lock_field="job_locked_until",
    nudged_field="job_nudged_at",
    chunks_per_run=20,
)


def remembered_mapping(*, partner: Partner) -> dict[str, str]:
    found = ImportMapping.objects.filter(partner=partner).first()
    return found.columns if found else {}


def create_import(*, partner: Partner, livemode: bool, name: str, data: bytes) -> StockImport:
    """Read the file and store its rows; validation_error when it cannot be read."""
    table = files.read_table(name=name, data=data)
    with transaction.atomic():
        stock_import = StockImport.objects.create(
            partner=partner,
            livemode=livemode,
            filename=name[:255],
            file_format=table.file_format,
            header=table.header,
            row_count=len(table.rows),
            mapping=guess_mapping(table.header, remembered_mapping(partner=partner)),
        )
        ImportRow.objects.bulk_create(
            (
                ImportRow(stock_import=stock_import, number=number, cells=cells)
                for number, cells in table.rows
            ),
            batch_size=INSERT_BATCH,
        )
    return stock_import


def get_import(*, partner: Partner, livemode: bool, import_id) -> StockImport:
    found = StockImport.objects.filter(pk=import_id, partner=partner, livemode=livemode).first()
    if found is None:
        raise ServiceError("not_found", f"No import {import_id}.")
    return found


def start_check(
    *, partner: Partner, livemode: bool, import_id, mapping: list[str], defaults: dict
) -> StockImport:
    """Keep the mapping (remembered for the partner's next upload too) and start the
    validate-only pass. Allowed before the import starts, so a partner can fix the mapping
    and check again."""
    with transaction.atomic():
        stock_import = _locked(partner, livemode, import_id)
        if stock_import.status == StockImport.Status.VALIDATING:
            raise ServiceError("conflict", "The file is being checked; wait for the check.")
        if stock_import.status not in (StockImport.Status.MAPPING, StockImport.Status.VALIDATED):
            raise ServiceError(
                "conflict", "This file has been imported; upload it again to import it anew."
            )
        if len(mapping) != len(stock_import.header):
            raise validation_error({"mapping": ["Choose a field (or none) for every column."]})
        problems = check_mapping(mapping)
        if problems:
            raise validation_error({"mapping": problems})
        ImportMapping.objects.update_or_create(
            partner=partner,
            defaults={
                "columns": {
                    **remembered_mapping(partner=partner),
                    **remembered_columns(stock_import.header, mapping),
                }
            },
        )
        ImportRow.objects.filter(stock_import=stock_import).update(
            check_outcome="", check_error=None
        )
        stock_import.mapping = mapping
        stock_import.defaults = defaults
        stock_import.duplicates = _duplicates(stock_import)
        _start_phase(stock_import, StockImport.Status.VALIDATING)
    return stock_import


def start_import(*, partner: Partner, livemode: bool, import_id) -> StockImport:
    """Start importing a checked import. Idempotent: an import importing or imported
    already is returned as it is."""
    with transaction.atomic():
        stock_import = _locked(partner, livemode, import_id)
        if stock_import.status in (StockImport.Status.IMPORTING, StockImport.Status.IMPORTED):
            return stock_import
        if stock_import.status != StockImport.Status.VALIDATED:
            raise ServiceError("conflict", "Check the file before importing it.")
        stock_import.import_started_at = timezone.now()
        _start_phase(stock_import, StockImport.Status.IMPORTING)
    return stock_import


def _locked(partner: Partner, livemode: bool, import_id) -> StockImport:
    found = (
        StockImport.objects.select_for_update()
        .filter(pk=import_id, partner=partner, livemode=livemode)
        .first()
    )
    if found is None:
        raise ServiceError("not_found", f"No import {import_id}.")
    return found


def _start_phase(stock_import: StockImport, status: str) -> None:
    stock_import.status = status
    stock_import.position = 0
    stock_import.creates_ahead = 0
    if status == StockImport.Status.VALIDATING:
        stock_import.check_counts = {}
    else:
        stock_import.result_counts = {}
    for name, value in IMPORT_JOB.start_fields().items():
        setattr(stock_import, name, value)
    stock_import.save()
    IMPORT_JOB.nudge(stock_import.pk)


def _duplicates(stock_import: StockImport) -> dict[str, list[int]]:
    """External ids on more than one row, with their line numbers."""
    column = stock_import.mapping.index("externalId")
    lines: dict[str, list[int]] = defaultdict(list)
    rows = ImportRow.objects.filter(stock_import=stock_import).values_list("number", "cells")
    for number, cells in rows.order_by("number").iterator(chunk_size=5000):
        external_id = cells[column].strip() if column < len(cells) else ""
        if external_id:
            lines[external_id].append(number)
    return {external_id: found for external_id, found in lines.items() if len(found) > 1}


def run_job(*, import_id, chunks: int | None = None) -> None:
    """The job: up to `chunks` (default: the job's chunks_per_run) chunks of the current
    phase, then hand on or finish."""
    IMPORT_JOB.run(import_id, step=_step, finish=_finish, chunks=chunks)


def _step(import_id) -> bool:
    """One chunk of the current phase, with its progress, in one transaction; False when
    no row was left."""
    with transaction.atomic():
        stock_import = StockImport.objects.select_for_update().get(pk=import_id)
        checking = stock_import.status == StockImport.Status.VALIDATING
        rows = list(
            ImportRow.objects.filter(
                stock_import=stock_import, number__gt=stock_import.position
            ).order_by("number")[:CHUNK]
        )
        if not rows:
            return False
        serializer = BatchItemInputSerializer(
            context={"grade_scale": grades.scale_of(stock_import.partner)}
        )
        entries = [_entry(stock_import, row, serializer) for row in rows]
        results = upsert_items(
            partner=stock_import.partner,
            livemode=stock_import.livemode,
            items=entries,
            validate_only=checking,
            via="import",
            creates_ahead=stock_import.creates_ahead if checking else 0,
        )
        counts = Counter(stock_import.check_counts if checking else stock_import.result_counts)
        for row, entry, result in zip(rows, entries, results, strict=True):
            row.external_id = (entry.external_id or "")[:255]
            error = _error_of(result)
            if checking:
                row.check_outcome, row.check_error = result.outcome, error
            else:
                row.outcome, row.item_id, row.error = result.outcome, result.item_id, error
            counts[result.outcome] += 1
        changed = (
            ["external_id", "check_outcome", "check_error"]
            if checking
            else ["external_id", "outcome", "item_id", "error"]
        )
        ImportRow.objects.bulk_update(rows, changed)
        if checking:
            stock_import.check_counts = dict(counts)
            stock_import.creates_ahead += sum(r.outcome == "created" for r in results)
        else:
            stock_import.result_counts = dict(counts)
        stock_import.position = rows[-1].number
        stock_import.job_locked_until = jobs.lease_until()
        stock_import.save(
            update_fields=[
                "check_counts",
                "result_counts",
                "creates_ahead",
                "position",
                "job_locked_until",
            ]
        )
    return True


def _entry(
    stock_import: StockImport, row: ImportRow, serializer: BatchItemInputSerializer
) -> BatchItem:
    body = row_body(row.cells, stock_import.mapping, stock_import.defaults)
    external_id = body.get("externalId")
    lines = stock_import.duplicates.get(external_id) if isinstance(external_id, str) else None
    if lines:
        others = ", ".join(str(line) for line in lines)
        message = f"{external_id!r} is on more than one row of the file (lines {others})."
        return BatchItem(external_id, error=validation_error({"externalId": [message]}))
    return batch_item(body, serializer)


def _error_of(result: BatchResult) -> dict | None:
    error = result.error
    if error is None:
        return None
    return {"code": error.code, "message": error.message, "fields": error.fields}


def _finish(import_id) -> None:
    now = timezone.now()
    with transaction.atomic():
        stock_import = StockImport.objects.select_for_update().get(pk=import_id)
        if stock_import.status == StockImport.Status.VALIDATING:
            stock_import.status = StockImport.Status.VALIDATED
            stock_import.validated_at = now
        elif stock_import.status == StockImport.Status.IMPORTING:
            stock_import.status = StockImport.Status.IMPORTED
            stock_import.imported_at = now
        for name, value in IMPORT_JOB.stop_fields().items():
            setattr(stock_import, name, value)
        stock_import.save()


def sweep_imports() -> int:
    """Nudge import jobs that are due, not held (a killed worker's lease has run out), and
    whose last nudge is older than the grace."""
    return IMPORT_JOB.sweep()


# Reading the outcome.


def counts_of(counts: dict) -> dict[str, int]:
    """Every outcome's count, zeros included, in OUTCOMES' order."""
    return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}


def first_errors(stock_import: StockImport, *, checked: bool, limit: int = FIRST_ERRORS):
    """The first rows that were invalid or refused, in line order."""
    rows = ImportRow.objects.filter(stock_import=stock_import)
    if checked:
        rows = rows.filter(check_outcome__in=("invalid", "refused"))
    else:
        rows = rows.filter(outcome__in=("invalid", "refused"))
    return list(rows.order_by("number")[:limit])


def error_text(error: dict | None) -> str:
    """An error for a person: its message, then each bad field's messages."""
    if not error:
        return ""
    parts = [error.get("message", "")]
    for name, messages in _flat_fields(error.get("fields") or {}):
        parts.append(f"{name}: {' '.join(messages)}")
    return " ".join(part for part in parts if part)


def _flat_fields(fields, prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    if isinstance(fields, dict):
        for name, value in fields.items():
            yield from _flat_fields(value, f"{prefix}.{name}" if prefix else str(name))
    elif isinstance(fields, list) and fields and all(isinstance(f, str) for f in fields):
        yield prefix, fields
    elif isinstance(fields, list):
        for index, value in enumerate(fields):
            yield from _flat_fields(value, f"{prefix}[{index}]")
    elif fields:
        yield prefix, [str(fields)]


RESULT_COLUMNS = ("line", "externalId", "outcome", "itemId", "error")


def results_csv(stock_import: StockImport, *, checked: bool, errors_only: bool) -> Iterator[str]:
    """The rows' outcomes as CSV lines (a header first): the check's, or the import's.
    Streamed, a few thousand rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([spreadsheet_cell(value) for value in values])
        return buffer.getvalue()

    yield line(RESULT_COLUMNS)
    rows = ImportRow.objects.filter(stock_import=stock_import).order_by("number")
    outcome_field = "check_outcome" if checked else "outcome"
    if errors_only:
        rows = rows.filter(**{f"{outcome_field}__in": ("invalid", "refused")})
    error_field = "check_error" if checked else "error"
    fields = ("number", "external_id", outcome_field, "item_id", error_field)
    for number, external_id, outcome, item_id, error in rows.values_list(*fields).iterator(
        chunk_size=2000
    ):
        yield line([number, external_id, outcome, item_id or "", error_text(error)])
