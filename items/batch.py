"""Many items in one call (POST /integration/v1/items/batch): each item is upserted on its
own, by the same service and with the same guarantees as its own PUT (idempotent, its own
transaction, its image job due in that transaction, the plan limit counted by the
database), so one bad item never sinks the others.

Unlike a PUT, a batch sends no message per item: once its items committed, it wakes the
partner's image tokens (partners.backlog), so that a whole import takes turns with other
partners' items instead of queueing ahead of them."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from items import pipeline, services
from items.services import ItemContent
from partners.models import Partner
from rheo.errors import ServiceError, validation_error

MAX_BATCH_ITEMS = 100
OUTCOMES = ("created", "updated", "unchanged", "stale", "invalid", "refused")


@dataclass(frozen=True)
class BatchItem:
    """One entry of a batch: its external id as sent (None when it sent none as a string)
    and either what to write, or the validation error that keeps it from being written."""

    external_id: str | None
    content: ItemContent | None = None
    auto_publish_tradera: bool = False
    source_version: int | None = None
    error: ServiceError | None = None


@dataclass(frozen=True)
class BatchResult:
    external_id: str | None
    outcome: str  # one of OUTCOMES
    item_id: UUID | None = None
    changed_fields: tuple[str, ...] = ()  # on "updated"
    error: ServiceError | None = None  # on "invalid" and "refused"


def upsert_items(
    *,
    partner: Partner,
    livemode: bool,
    items: Sequence[BatchItem],
    validate_only: bool = False,
    via: str = "batch",
    creates_ahead: int = 0,
) -> list[BatchResult]:
    """One result per entry, in order. An entry whose external id appears more than once
    is invalid, each time. A refusal of the upsert (plan_limit_reached, conflict) is
    `refused`; the entries after it go on. With `validate_only`, nothing is written and
    each result says what would happen, creates earlier in the batch taking their places
    under the plan's limit first (`creates_ahead` more before the batch: an import's earlier
    chunks). `via` names the source on the items' timelines (batch, import)."""
    items = [_unique(entry, positions) for entry, positions in _with_positions(items)]
    results = []
    creates = creates_ahead
    for entry in items:
        result = _upsert_one(partner, livemode, entry, validate_only, creates, via)
        creates += result.outcome == "created"
        results.append(result)
    if not validate_only and any(r.outcome in ("created", "updated") for r in results):
        pipeline.wake_backlog_on_commit(partner.pk)
    return results


def _with_positions(items: Sequence[BatchItem]):
    positions: dict[str, list[int]] = defaultdict(list)
    for index, entry in enumerate(items):
        if entry.external_id is not None:
            positions[entry.external_id].append(index)
    for entry in items:
        yield entry, positions.get(entry.external_id, []) if entry.external_id else []


def _unique(entry: BatchItem, positions: list[int]) -> BatchItem:
    if len(positions) < 2:
        return entry
    where = ", ".join(f"items[{p}]" for p in positions)
    message = f"{entry.external_id!r} is in this batch more than once ({where}); send it once."
    fields = dict(entry.error.fields or {}) if entry.error else {}
    fields["externalId"] = [*fields.get("externalId", []), message]
    return BatchItem(entry.external_id, error=validation_error(fields))


def _upsert_one(
    partner: Partner,
    livemode: bool,
    entry: BatchItem,
    validate_only: bool,
    creates: int,
    via: str,
) -> BatchResult:
    if entry.error is not None or entry.content is None or entry.external_id is None:
        return BatchResult(entry.external_id, "invalid", error=entry.error)
    result: services.UpsertResult | services.UpsertPreview
    try:
        if validate_only:
            result = services.preview_upsert(
                partner=partner,
                livemode=livemode,
                external_id=entry.external_id,
                content=entry.content,
                source_version=entry.source_version,
                creates_ahead=creates,
            )
        else:
            result = services.upsert_item(
                partner=partner,
                livemode=livemode,
                external_id=entry.external_id,
                content=entry.content,
                auto_publish_tradera=entry.auto_publish_tradera,
                source_version=entry.source_version,
                via=via,
                bulk=True,
            )
    except ServiceError as exc:
        outcome = "invalid" if exc.code == "validation_error" else "refused"
        return BatchResult(entry.external_id, outcome, error=exc)
    return BatchResult(entry.external_id, result.outcome, result.item_id, result.changed_fields)
