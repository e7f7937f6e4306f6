"""The item's background job: host its images, write its enhanced texts, make it active.

The job's state is in the database, not in Celery. A PUT that changes what the job works
on sets `processing_due_at`; the job claims the item with a conditional update (a lease in
`processing_locked_until`), so a duplicate message does nothing; what it finishes it
records, so running it again redoes nothing (each image row remembers its URL and
outcome; identical bytes are stored once). A Celery message only nudges: the sweeper
sends a token (below) for partners whose items are due and not held and were not nudged
for the grace, so a broker that loses its messages, or a worker killed mid-job, loses no
item.

Partners take turns (partners.backlog): a single PUT nudges its own item, but a batch
sends no message per item; it wakes the partner's tokens (`items.process_backlog`), each
of which does the partner's oldest due item, as `process_item` does, and goes to the back
of the images queue while more are due. So one partner's import delays another's item by
a few items, not by the import.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone

from items import enhancer, images, lifecycle
from items.models import Item, ItemImage, StoredImage
from partners import backlog
from rheo import celery
from webhooks import services as webhooks

logger = logging.getLogger(__name__)

PROCESS_TASK = "items.process_item"
BACKLOG_TASK = "items.process_backlog"
# An image is tried once and retried 3 times, 1 s, 2 s and 4 s apart, on transient errors.
MAX_IMAGE_ATTEMPTS = 4
RETRY_BASE = timedelta(seconds=1)
SWEEP_BATCH = 500


def lease() -> timedelta:
    """How long a worker holds an item for one step (an image's download and processing,
    the texts' enhancement); renewed before each. A worker killed mid-job gives the item
    back when it runs out."""
    return timedelta(seconds=settings.RHEO_LEASE_SECONDS)


def nudge_grace() -> timedelta:
    """A nudge not acted on within this long is taken as lost and sent again."""
    return timedelta(seconds=settings.RHEO_NUDGE_GRACE_SECONDS)


def nudge_on_commit(item_id, countdown: float | None = None) -> None:
    celery.nudge_on_commit(PROCESS_TASK, str(item_id), countdown=countdown)


# The partner's due items are its queue: see partners.backlog.
IMAGES = backlog.Backlog(
    kind="images",
    task=BACKLOG_TASK,
    rows=lambda: Item.objects.filter(deleted_at__isnull=True),
    partner_field="partner_id",
    due_field="processing_due_at",
    lock_field="processing_locked_until",
    nudged_field="processing_nudged_at",
    lease=lease,
)


def wake_backlog_on_commit(partner_id) -> None:
    """Send the partner's tokens for its due items once the transaction commits (at once
    outside one): items.batch, after its items."""
    backlog.wake_on_commit(IMAGES, partner_id)


def process_backlog(*, partner_id, slot: int, generation: int) -> None:
    """A token's turn: the partner's oldest due item that no worker holds."""
    backlog.run_token(IMAGES, partner_id, slot, generation, _process_claimed)


def process_item(*, item_id) -> None:
    """Do the item's due work, if it is due and no other worker holds it."""
    now = timezone.now()
    claimed = Item.objects.filter(
        Q(processing_locked_until__isnull=True) | Q(processing_locked_until__lte=now),
        pk=item_id,
        processing_due_at__lte=now,
        deleted_at__isnull=True,
    ).update(processing_locked_until=now + lease())
    if claimed:
        _process_claimed(item_id)


def _process_claimed(item_id) -> None:
    """The item's work, once this worker holds it."""
    try:
        _process(Item.objects.get(pk=item_id))
    except Exception:
        # Give the item back at once (not at the lease's end) and retry soon. Should the
        # database itself be what failed, the lease runs out on its own (one step long).
        Item.objects.filter(pk=item_id).update(
            processing_locked_until=None,
            processing_due_at=timezone.now() + RETRY_BASE * 4,
            processing_nudged_at=None,
        )
        raise


def _renew_lease(item_id) -> None:
    Item.objects.filter(pk=item_id).update(processing_locked_until=timezone.now() + lease())


def _process(item: Item) -> None:
    urls = list(item.image_urls)
    rows = _reconcile_images(item, urls)
    for row in rows:
        if row.status == ItemImage.Status.PENDING:
            _renew_lease(item.pk)
            _fetch(row)
    # The content fingerprint covers title, description and domain, among the rest.
    text_fingerprint = item.content_fingerprint
    enhanced = None
    if item.use_ai_enhancement and item.enhanced_fingerprint != text_fingerprint:
        _renew_lease(item.pk)
        enhanced = enhancer.get_enhancer().enhance(
            enhancer.ItemFacts(title=item.title, description=item.description, domain=item.domain)
        )
    _settle(item.pk, urls, rows, enhanced, text_fingerprint)


def _reconcile_images(item: Item, urls: list[str]) -> list[ItemImage]:
    """One row per URL, in order. A URL already at its position keeps its outcome; a new
    or changed one starts over; rows past the end go, and with them stored images no
    other item uses."""
    dropped_stored = set()
    with transaction.atomic():
        existing = {row.position: row for row in ItemImage.objects.filter(item=item)}
        rows = []
        for position, url in enumerate(urls):
            row = existing.pop(position, None)
            if row is not None and row.source_url != url:
                if row.stored_id:
                    dropped_stored.add(row.stored_id)
                row.delete()
                row = None
            if row is None:
                row = ItemImage.objects.create(item=item, position=position, source_url=url)
            rows.append(row)
        for row in existing.values():
            if row.stored_id:
                dropped_stored.add(row.stored_id)
            row.delete()
    for stored_id in dropped_stored:
        _delete_if_unused(stored_id)
    return rows


def _fetch(row: ItemImage) -> None:
    try:
        processed = images.process(images.download(row.source_url))
        row.stored = _store(processed)
        row.status = ItemImage.Status.READY
        row.error_code = row.error_message = ""
    except images.ImageError as exc:
        row.attempts += 1
        row.error_code, row.error_message = exc.code, exc.message[:500]
        if exc.permanent or row.attempts >= MAX_IMAGE_ATTEMPTS:
            row.status = ItemImage.Status.FAILED
    row.save()


def _store(processed: images.ProcessedImage) -> StoredImage:
    existing = StoredImage.objects.filter(digest=processed.digest).first()
    if existing is not None:
        return existing
    base = f"items/{processed.digest[:2]}/{processed.digest}"
    names = {}
    for kind, data in (("full", processed.full), ("thumbnail", processed.thumbnail)):
        name = f"{base}.jpg" if kind == "full" else f"{base}.thumb.jpg"
        # Content-addressed: a name that exists already holds these very bytes.
        names[kind] = (
            name if default_storage.exists(name) else default_storage.save(name, ContentFile(data))
        )
    try:
        with transaction.atomic():
            return StoredImage.objects.create(
                digest=processed.digest,
                full=names["full"],
                thumbnail=names["thumbnail"],
                width=processed.width,
                height=processed.height,
            )
    except IntegrityError:  # stored by a concurrent job a moment ago
        return StoredImage.objects.get(digest=processed.digest)


def _delete_if_unused(stored_id: int) -> None:
    stored = StoredImage.objects.filter(pk=stored_id).first()
    if stored is None or ItemImage.objects.filter(stored_id=stored_id).exists():
        return
    try:
        with transaction.atomic():
            stored.delete()
    except (ProtectedError, IntegrityError):  # another item took it up meanwhile
        return
    for name in (stored.full, stored.thumbnail):
        default_storage.delete(name)


def _settle(item_id, urls, rows, enhanced, text_fingerprint) -> None:
    """Record the outcome on the item, unless a PUT changed it meanwhile (then its work
    is due again at once)."""
    now = timezone.now()
    saved = [
        "processing_locked_until",
        "processing_due_at",
        "processing_nudged_at",
        "enhanced_title",
        "enhanced_description",
        "enhanced_fingerprint",
        "search_text",
        "updated_at",
    ]
    with transaction.atomic():
        item = Item.objects.select_for_update().get(pk=item_id)
        item.processing_locked_until = None
        if enhanced is not None and item.content_fingerprint == text_fingerprint:
            if (enhanced.title, enhanced.description) != (
                item.enhanced_title,
                item.enhanced_description,
            ):
                lifecycle.record_activity(item=item, kind="enhanced", message="Texts enhanced")
            item.enhanced_title = enhanced.title
            item.enhanced_description = enhanced.description
            item.enhanced_fingerprint = text_fingerprint
            item.refresh_search_text()
        pending = [r for r in rows if r.status == ItemImage.Status.PENDING]
        if list(item.image_urls) != urls or item.content_fingerprint != text_fingerprint:
            item.processing_due_at = now
            item.processing_nudged_at = now
            nudge_on_commit(item.pk)
        elif pending:
            tries = max(r.attempts for r in pending)
            delay = RETRY_BASE * 2 ** (tries - 1)
            item.processing_due_at = now + delay
            item.processing_nudged_at = now
            nudge_on_commit(item.pk, countdown=delay.total_seconds())
        else:
            item.processing_due_at = None
            _record_images(item, rows)
            ready = any(r.status == ItemImage.Status.READY for r in rows)
            if ready and item.status == Item.Status.DRAFT and not item.deleted_at:
                lifecycle.transition_item(item=item, status=Item.Status.ACTIVE, save=False)
                saved.extend(lifecycle.TRANSITION_FIELDS)
            elif not ready and item.status == Item.Status.DRAFT:
                failures = "; ".join(f"imageUrls[{r.position}]: {r.error_message}" for r in rows)
                webhooks.emit(
                    item.partner,
                    "listing.failed",
                    item,
                    platform="rheo",
                    error={
                        "code": "image_download_failed",
                        "message": f"No image could be used. {failures}"[:500],
                    },
                )
        # The job's own columns only, with the status if it turned active: one UPDATE.
        item.save(update_fields=set(saved))


def _record_images(item: Item, rows: list[ItemImage]) -> None:
    ready = sum(r.status == ItemImage.Status.READY for r in rows)
    failed = [
        f"imageUrls[{r.position}]: {r.error_message}"
        for r in rows
        if r.status == ItemImage.Status.FAILED
    ]
    message = f"Images: {ready} of {len(rows)} ready"
    lifecycle.record_activity(
        item=item, kind="images", message="; ".join([message, *failed]) if failed else message
    )


def sweep_items(*, limit: int = SWEEP_BATCH) -> int:
    """Send tokens to partners (up to `limit`) with items whose work is due, not held by a
    worker, and whose last nudge is older than the nudge grace (lost, or due only now),
    unless their tokens are out. Returns how many tokens were sent."""
    return backlog.sweep(IMAGES, limit=limit)
