"""Publishing an item as a Tradera auction, through Tradera's queued flow.

AddItem (its request id saved at once), each image, `committed` saved, AddItemCommit,
then GetRequestResults until Tradera has processed it. The listing row carries the job's
state like an item's (due, leased, nudged, attempts), and remembers how far the flow got,
so a job that resumes after a crash or a lost answer never makes a second auction: a
request that was never committed never goes live and is replaced; one whose commit was
sent is only ever committed again and asked about, never re-created.

What crash recovery does not need is not saved on its own: Tradera's acknowledgement of
the commit rides on the listing's next save (if that is lost, the commit is only sent
again, as after a lost answer). So a publish commits four times: the claim, the request,
`committed` before AddItemCommit, the outcome.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from items import services as items
from items.models import Item, ItemImage
from rheo import sweeping
from rheo.celery import send_on_commit
from rheo.errors import ServiceError
from tradera import mapping
from tradera.client import Seller, TraderaError, for_mode
from tradera.models import AD_URL, TraderaAccount, TraderaListing
from webhooks import services as webhooks

logger = logging.getLogger(__name__)

PUBLISH_TASK = "tradera.publish_listing"
MAX_ATTEMPTS = 4  # the first try and 3 retries, 1, 2 and 4 s apart
RETRY_BASE = timedelta(seconds=1)
# While Tradera processes a committed request: ask again this soon (spends no attempt).
POLL_DELAY = timedelta(seconds=2)
DEFERRED_DELAY = timedelta(seconds=60)  # the call quota is spent and says no more
LEASE = timedelta(minutes=5)

# What a partner reads in listing.failed for the client's permanent errors.
FAILURE_CODES = {
    "token_invalid": "tradera_token_expired",
    "refused": "tradera_refused",
}


class NotPublishable(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def start_publishing(*, item: Item) -> None:
    """An item created with autoPublishTradera has become active: queue its auction."""
    if not item.auto_publish_tradera:
        return
    now = timezone.now()
    # An INSERT that the one-listing-per-item constraint refuses the second time (an item
    # is activated once), rather than get_or_create's SELECT, savepoint and INSERT.
    try:
        with transaction.atomic():
            listing = TraderaListing.objects.create(item=item, next_attempt_at=now, nudged_at=now)
            _nudge_on_commit(listing.pk)
    except IntegrityError:
        return  # queued already


def _nudge_on_commit(listing_id, countdown: float | None = None) -> None:
    send_on_commit(PUBLISH_TASK, listing_id, countdown=countdown)


def publish_listing(*, listing_id: int) -> None:
    """Take the listing's publish one step as far as it can go now, if it is due and no
    other worker holds it."""
    now = timezone.now()
    claimed = TraderaListing.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        pk=listing_id,
        status=TraderaListing.Status.PENDING_SYNC,
        next_attempt_at__lte=now,
    ).update(locked_until=now + LEASE)
    if not claimed:
        return
    listing = TraderaListing.objects.select_related("item__partner").get(pk=listing_id)
    try:
        _advance(listing)
    except NotPublishable as exc:
        _fail(listing, exc.code, exc.message)
    except TraderaError as exc:
        _after_error(listing, exc)


def _advance(listing: TraderaListing) -> None:
    item = listing.item
    seller = seller_for(item, for_mode(item.livemode))
    images = []
    if not listing.committed:
        images = list(item.images.filter(status=ItemImage.Status.READY).select_related("stored"))
    # The calls this step makes when all goes well, paid for in one budget round trip;
    # those it does not make (it stops half-way) are given back.
    client = for_mode(item.livemode).paid_ahead(_calls_ahead(listing, len(images)))
    try:
        _submit(listing, client, seller, images)
    finally:
        client.refund()


def _calls_ahead(listing: TraderaListing, images: int) -> list[str]:
    calls = [] if listing.committed else ["AddItem", *["AddItemImage"] * images]
    if not listing.commit_acknowledged:
        calls.append("AddItemCommit")
    return [*calls, "GetRequestResults"]


def _submit(listing: TraderaListing, client, seller: Seller, images: list[ItemImage]) -> None:
    item = listing.item
    if not listing.committed:
        # Nothing of an uncommitted request can go live: a fresh one replaces it. Its id
        # is saved at once all the same (GET shows the pending ad id while the images
        # go), and `committed` durably before the commit is sent.
        queued = client.add_item(seller, mapping.auction_for(item))
        with transaction.atomic():
            save_fields(
                listing,
                request_id=queued.request_id,
                tradera_item_id=queued.item_id,
                ad_id=f"pending-{queued.request_id}",
            )
            items.record_activity(
                item=item,
                kind="tradera",
                message=f"Sent to Tradera (request {queued.request_id})",
            )
        for image in images:
            with default_storage.open(image.stored.full) as data:
                client.add_item_image(seller, queued.request_id, data.read(), "jpeg")
        save_fields(listing, committed=True)
    if not listing.commit_acknowledged:  # sent again only if its answer was lost
        client.add_item_commit(seller, listing.request_id)
        listing.commit_acknowledged = True  # saved with the next change (save_fields)
    result = _results_for_account(client, seller, listing).get(listing.request_id)
    if result is None or result.pending:
        _again_in(listing, POLL_DELAY, spend_attempt=False)
        return
    if error := result.error():
        if not error.permanent:  # Tradera asks for the request to be sent again
            save_fields(listing, committed=False, commit_acknowledged=False, request_id=None)
        raise error
    _go_live(listing)


def _results_for_account(client, seller, listing) -> dict:
    """One GetRequestResults for every committed request of the listing's account that
    awaits Tradera; the others that are live are recorded here too, so their own jobs
    find nothing left to ask."""
    item = listing.item
    others = dict(
        TraderaListing.objects.filter(
            item__partner=item.partner,
            item__livemode=item.livemode,
            status=TraderaListing.Status.PENDING_SYNC,
            commit_acknowledged=True,
        )
        .exclude(pk=listing.pk)
        .values_list("request_id", "pk")
    )
    results = {
        r.request_id: r for r in client.get_request_results(seller, [listing.request_id, *others])
    }
    for request_id, other_pk in others.items():
        if (other := results.get(request_id)) is not None and other.ok:
            _go_live(TraderaListing.objects.select_related("item__partner").get(pk=other_pk))
    return results


def seller_for(item: Item, client) -> Seller:
    """The Tradera seller the item's partner publishes as, in the item's mode."""
    account = TraderaAccount.objects.filter(partner=item.partner, livemode=item.livemode).first()
    if account is None and not item.livemode:
        # Test mode needs no connecting: a sandbox seller of the partner's own.
        made = client.sandbox_seller(f"partner-{item.partner_id}")
        account, _ = TraderaAccount.objects.get_or_create(
            partner=item.partner,
            livemode=False,
            defaults={"user_id": made.user_id, "token": made.token},
        )
    if account is None:
        raise NotPublishable(
            "tradera_not_connected",
            "No Tradera account is connected; connect one in the dashboard to publish.",
        )
    if account.token_expires_at and account.token_expires_at <= timezone.now():
        raise NotPublishable(
            "tradera_token_expired", "The Tradera login has expired; connect the account again."
        )
    return Seller(user_id=account.user_id, token=account.token)


def _go_live(listing: TraderaListing) -> None:
    item = listing.item
    ad_id = str(listing.tradera_item_id)
    with transaction.atomic():
        asked = _mark_live(listing.pk, ad_id)
        if asked is not None:
            wanted_price, end_wanted = asked
            if wanted_price is not None or end_wanted:
                nudge_changes_on_commit(listing.pk)  # asked for while it was being published
            webhooks.emit(
                item.partner,
                "listing.created",
                item,
                tradera_ad_id=ad_id,
                tradera_ad_url=AD_URL.format(ad_id=ad_id),
            )


def _mark_live(listing_id: int, ad_id: str) -> tuple | None:
    """The listing goes live if it is still being published: one UPDATE that also returns
    the changes asked for meanwhile (wanted_price, end_wanted); None if it was not pending
    (another job's poll took it live first)."""
    qn = connection.ops.quote_name
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(TraderaListing._meta.db_table)} SET status = %s, ad_id = %s, "  # noqa: S608 - our own names
            "published_at = %s, updated_at = %s, next_attempt_at = NULL, locked_until = NULL, "
            "error_code = '', error_message = '', commit_acknowledged = %s "
            "WHERE id = %s AND status = %s RETURNING wanted_price, end_wanted",
            [
                str(TraderaListing.Status.ACTIVE),
                ad_id,
                now,
                now,
                True,
                listing_id,
                str(TraderaListing.Status.PENDING_SYNC),
            ],
        )
        return cursor.fetchone()


def _after_error(listing: TraderaListing, exc: TraderaError) -> None:
    if exc.deferred:  # the quota: wait for the window without spending an attempt
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else DEFERRED_DELAY
        save_fields(listing, error_code="tradera_quota_wait", error_message=exc.message[:500])
        _again_in(listing, wait, spend_attempt=False)
    elif exc.permanent or listing.attempts + 1 >= MAX_ATTEMPTS:
        _fail(listing, FAILURE_CODES.get(exc.code, f"tradera_{exc.code}"), exc.message)
    else:
        logger.warning("tradera publish listing=%s failed, will retry: %s", listing.pk, exc)
        items.record_activity(
            item=listing.item, kind="tradera", message=f"Tradera publish failed, retrying: {exc}"
        )
        save_fields(listing, error_code=f"tradera_{exc.code}", error_message=exc.message[:500])
        _again_in(listing, RETRY_BASE * 2**listing.attempts, spend_attempt=True)


def retry_publish(*, listing: TraderaListing) -> None:
    """Staff's retry of a failed publish: the job runs again with fresh attempts, from
    where the flow had got to. A request whose commit was sent (it may be live) is only
    committed again and asked about, never re-created, so a retry never makes a second
    auction. Refused unless the listing failed and its item is still active."""
    now = timezone.now()
    with transaction.atomic():
        listing = (
            TraderaListing.objects.select_for_update(of=("self",))
            .select_related("item")
            .get(pk=listing.pk)
        )
        if listing.status != TraderaListing.Status.SYNC_ERROR:
            raise ServiceError(
                "conflict", f"The listing is {listing.status}; only a failed publish is retried."
            )
        item = listing.item
        if item.deleted_at is not None or item.status != Item.Status.ACTIVE:
            state = "deleted" if item.deleted_at else item.status
            raise ServiceError("conflict", f"Its item is {state}; only active items are published.")
        save_fields(
            listing,
            status=TraderaListing.Status.PENDING_SYNC,
            attempts=0,
            next_attempt_at=now,
            nudged_at=now,
            locked_until=None,
            error_code="",
            error_message="",
        )
        items.record_activity(item=item, kind="tradera", message="Tradera publish retried by Rheo")
        _nudge_on_commit(listing.pk)


def _again_in(listing: TraderaListing, delay: timedelta, *, spend_attempt: bool) -> None:
    now = timezone.now()
    with transaction.atomic():
        if spend_attempt:
            listing.attempts += 1
        save_fields(
            listing,
            attempts=listing.attempts,
            next_attempt_at=now + delay,
            nudged_at=now,
            locked_until=None,
        )
        _nudge_on_commit(listing.pk, countdown=delay.total_seconds())


def _fail(listing: TraderaListing, code: str, message: str) -> None:
    item = listing.item
    with transaction.atomic():
        save_fields(
            listing,
            status=TraderaListing.Status.SYNC_ERROR,
            error_code=code,
            error_message=message[:500],
            next_attempt_at=None,
            locked_until=None,
        )
        webhooks.emit(
            item.partner,
            "listing.failed",
            item,
            error={"code": code, "message": message[:500]},
        )


def save_fields(listing: TraderaListing, **fields) -> None:
    """Save these fields of the listing, and `commit_acknowledged`, which _advance sets
    without a save of its own."""
    for name, value in fields.items():
        setattr(listing, name, value)
    listing.save(update_fields=[*fields, "commit_acknowledged", "updated_at"])


CHANGES_TASK = "tradera.apply_changes"


def nudge_changes_on_commit(listing_id, countdown: float | None = None) -> None:
    """Ask for tradera.services.changes.apply_changes once the transaction commits."""
    send_on_commit(CHANGES_TASK, listing_id, countdown=countdown)


def sweep_listings(*, limit: int = 500) -> int:
    """Nudge listings whose publish is due, not held by a worker, and whose last nudge is
    older than the nudge grace (lost, or due only now)."""
    return sweeping.nudge_due(
        TraderaListing.objects.filter(status=TraderaListing.Status.PENDING_SYNC),
        due_field="next_attempt_at",
        lock_field="locked_until",
        nudged_field="nudged_at",
        grace=timedelta(seconds=settings.RHEO_NUDGE_GRACE_SECONDS),
        nudge=_nudge_on_commit,
        limit=limit,
    )
