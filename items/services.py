"""Every change a partner makes to an item: the upsert of a PUT, price and status changes,
and deletion. Each function owns its transaction; the item's lifecycle (transitions, the
timeline, following on Tradera) is items.lifecycle, and its background job is enqueued
only once the transaction has committed."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from decimal import Decimal
from typing import cast
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from items import grades, lifecycle, pipeline, selectors
from items.models import Item, Order
from partners import subscriptions
from partners.models import Partner
from rheo.errors import ServiceError
from rheo.formatting import sek

# The constraint a create of an external id already in use runs into, and the one the plan
# limit's trigger names when it refuses an item (items migration 0008).
CURRENT_EXTERNAL_ID = "item_current_external_id_unique"
PLAN_LIMIT = "item_plan_limit"


@dataclass(frozen=True)
class ItemContent:
    """What a PUT says about an item, validated and normalised."""

    title: str
    description: str
    price: Decimal
    shipping_cost: Decimal
    weight_kg: Decimal | None
    currency: str
    image_urls: tuple[str, ...]
    domain: dict | None
    use_ai_enhancement: bool
    # The item's override of the partner's relist rules (tradera.relisting); None: none.
    relist: dict | None = None
    # The canonical grade of the domain's conditionGrade under the partner's grade scale
    # (items.grades); None: Rheo's own grades. Not part of the fingerprint: it follows
    # from the content and the scale, and a scale change rewrites it (items.grades).
    grade: str | None = None

    def fingerprint(self) -> str:
        fields = self.as_fields()
        del fields["grade"]
        if fields["relist"] is None:  # as before relisting existed: stored items stay equal
            del fields["relist"]
        canonical = json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def as_fields(self) -> dict:
        """The Item fields this content sets (a shallow dict: asdict's deep copy is costly
        on the PUT path and nothing here is mutated)."""
        fields = {f.name: getattr(self, f.name) for f in dataclass_fields(self)}
        fields["image_urls"] = list(self.image_urls)
        if self.grade is None:
            fields["grade"] = grades.builtin_grade(self.domain)
        return fields


@dataclass(frozen=True)
class UpsertResult:
    item: Item
    outcome: str  # "created", "updated", "unchanged" or "stale"
    changed_fields: tuple[str, ...] = ()  # on "updated": the Item fields that changed

    @property
    def item_id(self) -> UUID:
        return self.item.id


@dataclass(frozen=True)
class UpsertPreview:
    """What upsert_item would do (preview_upsert); `item` is None when it would create."""

    item: Item | None
    outcome: str
    changed_fields: tuple[str, ...] = ()

    @property
    def item_id(self) -> UUID | None:
        return self.item.id if self.item else None


def upsert_item(
    *,
    partner: Partner,
    livemode: bool,
    external_id: str,
    content: ItemContent,
    auto_publish_tradera: bool,
    source_version: int | None = None,
    via: str = "PUT",
    bulk: bool = False,
) -> UpsertResult:
    """Create the item or update it in place; idempotent on (partner, livemode, external_id).

    A create is an INSERT that the partial unique constraint on the current external id
    refuses when the item exists (in PostgreSQL it waits for a concurrent create of the same
    id to commit or roll back); the existing row is then locked and updated. The database
    refuses a create beyond the plan's item limit (a trigger, items migration 0008):
    plan_limit_reached. Updates always pass. `auto_publish_tradera` counts on creation
    only. Content equal to what is stored changes and enqueues nothing.

    `source_version` (the partner's sourceVersion) guards against an older write arriving
    late: below the stored one, the write is "stale" and changes nothing. It is compared
    on the locked row, so of concurrent writes the highest version's content stays. A
    write without one is not guarded and leaves the stored version as it is.

    `via` names the way the item came (PUT, batch, import) on its timeline. With `bulk`,
    no image job is nudged for the item: the caller wakes the partner's backlog once for
    all its items (items.batch; see partners.backlog)."""
    fingerprint = content.fingerprint()
    for _attempt in range(2):
        try:
            with transaction.atomic():
                item = Item(
                    partner=partner,
                    livemode=livemode,
                    external_id=external_id,
                    auto_publish_tradera=auto_publish_tradera,
                    content_fingerprint=fingerprint,
                    source_version=source_version,
                    created_via=via,
                    **content.as_fields(),
                )
                item.refresh_search_text()
                item.save(force_insert=True)
                if not bulk:
                    pipeline.nudge_on_commit(item.pk)
            return UpsertResult(item, "created")
        except IntegrityError as exc:
            refused_by = _constraint_of(exc)
            if refused_by == PLAN_LIMIT:
                raise _plan_limit_error(partner, livemode) from None
            if refused_by != CURRENT_EXTERNAL_ID:
                raise
        with transaction.atomic():
            result = _update_locked(
                partner, livemode, external_id, content, fingerprint, source_version, via, bulk
            )
        if result is not None:
            return result
        # Deleted between the two statements: the id is free again, so create it.
    raise ServiceError("conflict", f"Item {external_id} changed too often at once; try again.")


def _constraint_of(exc: IntegrityError) -> str | None:
    """The constraint the database named when it refused a write. psycopg reports it
    (the plan limit's trigger names item_plan_limit); SQLite names none, but its error
    code tells a unique constraint (on items, only the current external id's) from the
    trigger's refusal."""
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    if diag is not None:
        return diag.constraint_name
    return {
        "SQLITE_CONSTRAINT_UNIQUE": CURRENT_EXTERNAL_ID,
        "SQLITE_CONSTRAINT_TRIGGER": PLAN_LIMIT,
    }.get(getattr(cause, "sqlite_errorname", ""))


def _plan_limit_error(partner: Partner, livemode: bool) -> ServiceError:
    plan = subscriptions.plan_of(partner)
    return subscriptions.item_limit_error(
        plan_name=plan.name,
        # The trigger refused, so the plan has a limit.
        limit=cast(int, plan.max_active_items),
        used=selectors.count_plan_items(partner=partner, livemode=livemode),
        livemode=livemode,
    )


def preview_upsert(
    *,
    partner: Partner,
    livemode: bool,
    external_id: str,
    content: ItemContent,
    source_version: int | None = None,
    creates_ahead: int = 0,
) -> UpsertPreview:
    """What upsert_item would do now (validateOnly), writing nothing and locking nothing:
    the same decision (created, updated with the changed fields, unchanged or stale) and
    the same refusals (plan_limit_reached for a create without room, conflict for an
    archived item). `creates_ahead` is how many creates earlier in the same batch would
    take places under the plan's limit first. A preview is what would happen at that
    moment; a write in between may change it."""
    item = _current_items(partner, livemode).filter(external_id=external_id).first()
    if item is None:
        _check_plan_room(partner, livemode, creates_ahead)
        return UpsertPreview(None, "created")
    _refuse_archived(item)
    outcome, changed = _decide(item, content, content.fingerprint(), source_version)
    return UpsertPreview(item, outcome, tuple(changed))


def _check_plan_room(partner: Partner, livemode: bool, creates_ahead: int) -> None:
    """The plan limit's trigger (items migration 0007) as a question: refused when the
    counted items, with `creates_ahead` more, leave no room for one more."""
    plan = subscriptions.plan_of(partner)
    if plan.max_active_items is None:
        return
    used = selectors.count_plan_items(partner=partner, livemode=livemode) + creates_ahead
    if used >= plan.max_active_items:
        raise subscriptions.item_limit_error(
            plan_name=plan.name, limit=plan.max_active_items, used=used, livemode=livemode
        )


def _refuse_archived(item: Item) -> None:
    if item.status == Item.Status.ARCHIVED:
        raise ServiceError(
            "conflict",
            f"Item {item.external_id} is archived while a Rheo order for it is in progress; "
            "it cannot be changed until the order is resolved.",
        )


def _decide(
    item: Item, content: ItemContent, fingerprint: str, source_version: int | None
) -> tuple[str, list[str]]:
    """What writing `content` does to the existing item: "stale" (its sourceVersion is
    below the stored one), "unchanged", or "updated" with the Item fields that change."""
    if is_stale(source_version, item.source_version):
        return "stale", []
    if item.content_fingerprint == fingerprint:
        return "unchanged", []
    fields = content.as_fields().items()
    # The grade follows the domain, which names the change.
    changed = [n for n, value in fields if n != "grade" and getattr(item, n) != value]
    return "updated", changed


def is_stale(source_version: int | None, stored_version: int | None) -> bool:
    """A write is stale when both it and the item carry a version and its is lower; an
    equal version is a retry of the same write (or a correction of it) and passes."""
    if source_version is None or stored_version is None:
        return False
    return source_version < stored_version


def _update_locked(
    partner: Partner,
    livemode: bool,
    external_id: str,
    content: ItemContent,
    fingerprint: str,
    source_version: int | None,
    via: str,
    bulk: bool = False,
) -> UpsertResult | None:
    item = (
        _current_items(partner, livemode)
        .select_for_update()
        .filter(external_id=external_id)
        .first()
    )
    if item is None:
        return None
    _refuse_archived(item)
    outcome, changed = _decide(item, content, fingerprint, source_version)
    if outcome == "stale":
        return UpsertResult(item, "stale")
    newer_version = source_version is not None and source_version != item.source_version
    if newer_version:
        item.source_version = source_version
    if outcome == "unchanged":
        if newer_version:  # the content is the same, but a later write is now stale
            item.save(update_fields=["source_version", "updated_at"])
        return UpsertResult(item, "unchanged")
    images_changed = list(item.image_urls) != list(content.image_urls)
    for name, value in content.as_fields().items():
        setattr(item, name, value)
    item.content_fingerprint = fingerprint
    item.refresh_search_text()
    if images_changed or item.use_ai_enhancement:
        # New images to host, or texts to enhance anew: the background job is due.
        item.processing_due_at = item.processing_nudged_at = timezone.now()
        if not bulk:
            pipeline.nudge_on_commit(item.pk)
    if "price" in changed:
        lifecycle.follow_on_channels(item)  # a running auction takes the new price
    if "price" in changed or "relist" in changed:
        _restart_relist_schedule(item)
    item.save()
    lifecycle.record_activity(
        item=item, kind="updated", message=f"Updated by {via}: {', '.join(_labels(changed))}"
    )
    return UpsertResult(item, "updated", tuple(changed))


FIELD_LABELS = {
    "shipping_cost": "shipping cost",
    "weight_kg": "weight",
    "image_urls": "images",
    "domain": "part details",
    "use_ai_enhancement": "AI enhancement",
    "relist": "relist rules",
}


def _labels(field_names: list[str]) -> list[str]:
    return [FIELD_LABELS.get(name, name) for name in field_names] or ["no visible change"]


RELIST_FIELDS = ("relist_steps", "relist_base_price")


def _restart_relist_schedule(item: Item) -> None:
    """The partner set the price (or its relist rules): relisting counts its steps, and
    takes its floorPercent, from this price on (tradera.relisting)."""
    item.relist_steps = 0
    item.relist_base_price = None


# A caller's precondition (the API's If-Match), checked on the locked item: False refuses
# the change with precondition_failed.
Precondition = Callable[[Item], bool]


def update_item_price(
    *,
    partner: Partner,
    livemode: bool,
    external_id: str,
    price: Decimal,
    if_match: Precondition | None = None,
) -> Item:
    """Set the price at once. Only an active item has a price buyers see. `if_match` is
    checked under the item's row lock, so no write can slip in between."""
    with transaction.atomic():
        item = _lock_current_item(partner, livemode, external_id)
        _check_precondition(item, if_match)
        if item.status != Item.Status.ACTIVE:
            raise ServiceError(
                "conflict",
                f"The price of item {external_id} can only be changed while it is active; "
                f"it is {item.status}.",
            )
        if item.price != price:
            lifecycle.record_activity(
                item=item, kind="price", message=f"Price {sek(item.price)} → {sek(price)}"
            )
            item.price = price
            lifecycle.follow_on_channels(item)
            _restart_relist_schedule(item)
            item.save(
                update_fields=["price", *lifecycle.CHANNEL_FIELDS, *RELIST_FIELDS, "updated_at"]
            )
    return item


def change_item_status(
    *,
    partner: Partner,
    livemode: bool,
    external_id: str,
    status: str,
    if_match: Precondition | None = None,
) -> Item:
    """PATCH status: not_listed or sold. Asking for the status the item has is a no-op.
    `if_match` is checked under the item's row lock."""
    with transaction.atomic():
        item = _lock_current_item(partner, livemode, external_id)
        _check_precondition(item, if_match)
        if item.status != status:
            if _has_order_in_progress(item):
                raise ServiceError(
                    "conflict",
                    f"Item {external_id} has a Rheo order in progress; its status cannot be "
                    "changed until the order is resolved.",
                )
            lifecycle.transition_item(item=item, status=status)
    return item


@dataclass(frozen=True)
class DeleteResult:
    item: Item
    outcome: str  # "deleted" or "archived"


def delete_item(*, partner: Partner, livemode: bool, external_id: str) -> DeleteResult:
    """Delete the item; with a Rheo order in progress, archive it instead so the order
    keeps its record. A deleted item leaves the external id free for a new item."""
    with transaction.atomic():
        item = _lock_current_item(partner, livemode, external_id)
        if _has_order_in_progress(item):
            if item.status != Item.Status.ARCHIVED:
                lifecycle.transition_item(item=item, status=Item.Status.ARCHIVED)
            return DeleteResult(item, "archived")
        item.deleted_at = timezone.now()
        lifecycle.follow_on_channels(item)  # its auction comes down
        item.save(update_fields=["deleted_at", *lifecycle.CHANNEL_FIELDS, "updated_at"])
        lifecycle.record_activity(item=item, kind="deleted", message="Deleted by the partner")
    return DeleteResult(item, "deleted")


def _current_items(partner: Partner, livemode: bool) -> QuerySet[Item]:
    return Item.objects.filter(partner=partner, livemode=livemode, deleted_at__isnull=True)


def _lock_current_item(partner: Partner, livemode: bool, external_id: str) -> Item:
    item = (
        _current_items(partner, livemode)
        .select_for_update()
        .filter(external_id=external_id)
        .first()
    )
    if item is None:
        raise ServiceError("not_found", f"No item with external id {external_id}.")
    return item


def _check_precondition(item: Item, if_match: Precondition | None) -> None:
    if if_match is not None and not if_match(item):
        raise ServiceError(
            "precondition_failed",
            f"Item {item.external_id} changed since you read it: If-Match does not match its "
            "current ETag. GET it again.",
        )


def _has_order_in_progress(item: Item) -> bool:
    return Order.objects.filter(item=item, status__in=Order.IN_PROGRESS).exists()
