"""Every change to an item goes through here: the upsert of a PUT, price and status changes,
deletion and the lifecycle's transitions. Each function owns its transaction and enqueues
its background job only once that transaction has committed."""

import hashlib
import json
import uuid
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime
from decimal import Decimal
from functools import cache

from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    models,
    transaction,
)
from django.utils import timezone

from items import pipeline, selectors, signals
from items.models import Item, ItemActivity, Order, SalePlatform
from partners import subscriptions
from partners.models import Partner
from rheo.errors import ServiceError


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

    def fingerprint(self) -> str:
        canonical = json.dumps(self.as_fields(), sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def as_fields(self) -> dict:
        """The Item fields this content sets (a shallow dict: asdict's deep copy is costly
        on the PUT path and nothing here is mutated)."""
        fields = {f.name: getattr(self, f.name) for f in dataclass_fields(self)}
        fields["image_urls"] = list(self.image_urls)
        return fields


@dataclass(frozen=True)
class UpsertResult:
    item: Item
    outcome: str  # "created", "updated" or "unchanged"


def upsert_item(
    *,
    partner: Partner,
    livemode: bool,
    external_id: str,
    content: ItemContent,
    auto_publish_tradera: bool,
) -> UpsertResult:
    """Create the item or update it in place; idempotent on (partner, livemode, external_id).

    Creation rests on the partial unique constraint: the insert does nothing when a current
    item with this external id exists (waiting, in PostgreSQL, for a concurrent insert of
    the same id to commit or roll back), and the existing row is then locked and updated.
    A create is that one INSERT, committed on its own (one round trip, one commit), which
    the database refuses beyond the plan's item limit (a trigger, items migration 0007):
    plan_limit_reached. Updates always pass, and pay nothing for the limit.
    `auto_publish_tradera` counts on creation only.
    Content equal to what is stored changes and enqueues nothing."""
    fingerprint = content.fingerprint()
    new_item = Item(
        partner=partner,
        livemode=livemode,
        external_id=external_id,
        auto_publish_tradera=auto_publish_tradera,
        content_fingerprint=fingerprint,
        **content.as_fields(),
    )
    new_item.refresh_search_text()
    for attempt in range(2):
        if _insert_unless_exists(new_item):
            _enqueue_image_job(new_item)
            return UpsertResult(new_item, "created")
        try:
            with transaction.atomic():
                return _update_locked(partner, livemode, external_id, content, fingerprint)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _update_locked(partner, livemode, external_id, content, fingerprint) -> UpsertResult:
    item = (
        _current_items(partner, livemode)
        .select_for_update()
        .filter(external_id=external_id)
        .first()
    )
    if item is None:  # deleted since the insert found it; the retry creates it
        raise IntegrityError("item vanished during upsert")
    if item.status == Item.Status.ARCHIVED:
        raise ServiceError(
            "conflict",
            f"Item {external_id} is archived while a Rheo order for it is in progress; "
            "it cannot be changed until the order is resolved.",
        )
    if item.content_fingerprint == fingerprint:
        return UpsertResult(item, "unchanged")
    images_changed = list(item.image_urls) != list(content.image_urls)
    changed = [name for name, value in content.as_fields().items() if getattr(item, name) != value]
    for name, value in content.as_fields().items():
        setattr(item, name, value)
    item.content_fingerprint = fingerprint
    item.refresh_search_text()
    if images_changed or item.use_ai_enhancement:
        # New images to host, or texts to enhance anew: the background job is due.
        item.processing_due_at = item.processing_nudged_at = timezone.now()
        _enqueue_image_job(item)
    item.save()
    record_activity(
        item=item, kind="updated", message=f"Updated by PUT: {', '.join(_labels(changed))}"
    )
    return UpsertResult(item, "updated")


FIELD_LABELS = {
    "shipping_cost": "shipping cost",
    "weight_kg": "weight",
    "image_urls": "images",
    "domain": "part details",
    "use_ai_enhancement": "AI enhancement",
}


def _labels(field_names: list[str]) -> list[str]:
    return [FIELD_LABELS.get(name, name) for name in field_names] or ["no visible change"]


def update_item_price(
    *, partner: Partner, livemode: bool, external_id: str, price: Decimal
) -> Item:
    """Set the price at once. Only an active item has a price buyers see."""
    with transaction.atomic():
        item = _lock_current_item(partner, livemode, external_id)
        if item.status != Item.Status.ACTIVE:
            raise ServiceError(
                "conflict",
                f"The price of item {external_id} can only be changed while it is active; "
                f"it is {item.status}.",
            )
        if item.price != price:
            record_activity(item=item, kind="price", message=f"Price {item.price} → {price} SEK")
            item.price = price
            item.save(update_fields=["price", "updated_at"])
            signals.send_on_commit(item, "price")
    return item


def change_item_status(*, partner: Partner, livemode: bool, external_id: str, status: str) -> Item:
    """PATCH status: not_listed or sold. Asking for the status the item has is a no-op."""
    with transaction.atomic():
        item = _lock_current_item(partner, livemode, external_id)
        if item.status != status:
            if _has_order_in_progress(item):
                raise ServiceError(
                    "conflict",
                    f"Item {external_id} has a Rheo order in progress; its status cannot be "
                    "changed until the order is resolved.",
                )
            transition_item(item=item, status=status)
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
                transition_item(item=item, status=Item.Status.ARCHIVED)
            return DeleteResult(item, "archived")
        item.deleted_at = timezone.now()
        item.save(update_fields=["deleted_at", "updated_at"])
        record_activity(item=item, kind="deleted", message="Deleted by the partner")
        signals.send_on_commit(item, "deleted")
    return DeleteResult(item, "deleted")


def mark_item_sold(
    *, item: Item, platform: SalePlatform | str, price: Decimal, sold_at=None
) -> None:
    """A sale on a platform (a Tradera order, a completed Rheo order): the locked item is
    sold, with the sale recorded on it for analytics and the timeline. A Rheo order still
    in progress for it then cannot be honoured and is cancelled."""
    from items import orders  # orders build on this module

    transition_item(item=item, status=Item.Status.SOLD)
    item.sold_at = sold_at or timezone.now()
    item.sold_platform = platform
    item.sale_price = price
    item.save(update_fields=["sold_at", "sold_platform", "sale_price", "updated_at"])
    record_activity(
        item=item,
        kind="sold",
        message=f"Sold on {item.get_sold_platform_display()} for {price} SEK",
    )
    if platform != SalePlatform.RHEO:
        orders.cancel_orders_of_item_sold_elsewhere(item=item)


def record_activity(*, item: Item, kind: str, message: str, at=None) -> None:
    """A line on the item's timeline (the dashboard's item page)."""
    ItemActivity.objects.create(
        item=item, kind=kind, message=message[:500], at=at or timezone.now()
    )


TRANSITION_FIELDS = ["status", "status_changed_at", "updated_at"]


def transition_item(*, item: Item, status: str, save: bool = True) -> None:
    """Move a locked item along its lifecycle, or refuse with conflict. The caller holds
    the row lock (select_for_update) inside its transaction. With save=False the caller
    saves TRANSITION_FIELDS with its own changes before it commits (one UPDATE, not two)."""
    if not item.can_transition_to(status):
        raise ServiceError(
            "conflict", f"Item {item.external_id} cannot go from {item.status} to {status}."
        )
    record_activity(item=item, kind="status", message=f"Status {item.status} → {status}")
    item.status = status
    item.status_changed_at = timezone.now()
    if save:
        item.save(update_fields=TRANSITION_FIELDS)
    signals.send_on_commit(item, "status")


# Field types whose values of these Python types psycopg adapts itself exactly as Django's
# preparation would leave them (on PostgreSQL only: SQLite's wants strings for UUIDs and
# datetimes). Preparing every value anyway was a twentieth of a PUT. A JSONField is never
# here: its values must be wrapped.
_PASSED_AS_IS = {
    models.CharField: str,
    models.TextField: str,
    models.BooleanField: bool,
    models.DecimalField: Decimal,
    models.UUIDField: uuid.UUID,
    models.ForeignKey: uuid.UUID,
    # Rheo's are all aware (USE_TZ): passed on, they are the same instant.
    models.DateTimeField: datetime,
}


def _insert_unless_exists(item: Item) -> bool:
    """INSERT … ON CONFLICT DO NOTHING RETURNING: creates the item in one statement and
    tells whether it did, so a create (the common PUT) costs one round trip; a conflict
    with the current item of the same external id inserts nothing. Outside a transaction
    the statement commits by itself."""
    fields = Item._meta.concrete_fields
    # The connection itself, not django.db.connection: every attribute read through that
    # proxy is a thread-local lookup, and preparing ~40 values reads hundreds.
    conn = connections[DEFAULT_DB_ALIAS]
    as_is = _PASSED_AS_IS if conn.vendor == "postgresql" else {}
    params = [
        # None is NULL for every field type.
        value
        if (value := f.pre_save(item, add=True)) is None
        or isinstance(value, as_is.get(type(f), ()))
        else f.get_db_prep_save(value, conn)
        for f in fields
    ]
    try:
        inserted = _run_insert(conn, _insert_sql(conn.vendor), params)
    except IntegrityError as exc:
        if PLAN_LIMIT_ERROR not in str(exc):
            raise
        raise _plan_limit_error(item) from None
    item._state.adding = not inserted
    return inserted


def _run_insert(conn, sql: str, params: list) -> bool:
    """Runs the INSERT, on its own in autocommit or in a savepoint inside a transaction (a
    caller's, or a test's), where the plan limit's refusal must not abort it.

    In autocommit it is the request's first statement, and the statement itself is the
    connection's health check: Django's would first send `SELECT 1`, a round trip of its
    own (on every PUT that creates an item). On a connection the database has closed since
    (a restart, an idle timeout) the INSERT fails before it reaches the table and runs
    once more on a new connection."""
    if conn.in_atomic_block:
        with transaction.atomic(), conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() is not None
    checking_health = conn.health_check_enabled and not conn.health_check_done
    conn.health_check_done = True
    for attempt in range(2):
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone() is not None
        except (OperationalError, InterfaceError):
            if attempt or not checking_health or conn.is_usable():
                raise
            # Had it failed after its commit, the second run finds the item there and
            # inserts nothing: the PUT then goes on as an update of it.
            conn.close()
    raise AssertionError("unreachable")


@cache
def _insert_sql(vendor: str) -> str:
    ops = connections[DEFAULT_DB_ALIAS].ops
    fields = Item._meta.concrete_fields
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    # Only the model's own names are interpolated; every value is a bound parameter.
    return (
        f"INSERT INTO {ops.quote_name(Item._meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT DO NOTHING RETURNING {ops.quote_name(Item._meta.pk.column)}"
    )


# What the database's plan limit trigger says when it refuses an INSERT (migration 0007).
PLAN_LIMIT_ERROR = "item_plan_limit"


def _plan_limit_error(item: Item) -> ServiceError:
    plan = subscriptions.plan_of(item.partner)
    return subscriptions.item_limit_error(
        plan_name=plan.name,
        limit=plan.max_active_items,
        used=selectors.count_plan_items(partner=item.partner, livemode=item.livemode),
        livemode=item.livemode,
    )


def _current_items(partner: Partner, livemode: bool):
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


def _has_order_in_progress(item: Item) -> bool:
    return Order.objects.filter(item=item, status__in=Order.IN_PROGRESS).exists()


def _enqueue_image_job(item: Item) -> None:
    pipeline.nudge_on_commit(item.id)
