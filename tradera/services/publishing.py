"""Publishing an item as a Tradera auction, through Tradera's queued flow.

AddItem (its request id saved at once), each image, `committed` saved, AddItemCommit,
then GetRequestResults until Tradera has processed it. The listing row carries the job's
state like an item's (due, leased, nudged, attempts), and remembers how far the flow got,
so a job that resumes after a crash or a lost answer never makes a second auction: a
request that was never committed never goes live and is replaced; one whose commit was
sent is only ever committed again and asked about, never re-created.

Polls coalesce per account: a poll asks, in one GetRequestResults, about up to
RESULTS_BATCH of the account's committed requests that await Tradera (its own first), and
settles each that Tradera has processed. At most one poll per account runs per poll
interval (TRADERA_POLL_SECONDS; `TraderaAccount.results_polled_at`, taken by a
conditional update); a listing whose account was polled more recently waits for that
poll's result and asks nothing itself. So an import's polls cost about one call per
account and interval, not one per pending listing.

What crash recovery does not need is not saved on its own: Tradera's acknowledgement of
the commit rides on the listing's next save (if that is lost, the commit is only sent
again, as after a lost answer). Besides the lease's renewal before each call, a publish
commits four times: the claim, the request, `committed` before AddItemCommit, the outcome.

An item that leaves the marketplace while it is being published (`end_wanted`, set by
tradera.services.follow) is called off if its request is not committed yet, and ended
once it is live otherwise: `committed` is only set while no end is wanted.

A new publish sends no message of its own: it wakes the partner's publish tokens
(partners.backlog, `tradera.publish_backlog`), which take the partner's due publishes in
turn with other partners', so a large import's auctions do not queue ahead of another
partner's. A retry after an error or a poll for Tradera's answer nudges its listing.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from items import lifecycle
from items.models import Item, ItemImage
from partners import backlog
from rheo.errors import ServiceError
from tradera import mapping
from tradera.client import Seller, TraderaError, for_mode
from tradera.models import TraderaAccount, TraderaListing, ad_url
from tradera.services import jobs
from tradera.services.jobs import NotPublishable
from webhooks import services as webhooks

logger = logging.getLogger(__name__)

# The most request ids one GetRequestResults asks about. Tradera documents no limit
# (API-NOTES.md); 100 keeps a poll's request and answer small (a few KB).
RESULTS_BATCH = 100
DEFERRED_DELAY = timedelta(seconds=60)  # the call quota is spent and says no more


def poll_delay() -> timedelta:
    """While Tradera processes a committed request: how soon it is asked about again
    (spends no attempt), and the least time between two polls of one account."""
    return timedelta(seconds=settings.TRADERA_POLL_SECONDS)


# What a partner reads in listing.failed for the client's permanent errors.
FAILURE_CODES = {
    "token_invalid": "tradera_token_expired",
    "refused": "tradera_refused",
}


# The partner's due publishes are its queue: see partners.backlog.
PUBLISHES = backlog.Backlog(
    kind="publish",
    task=jobs.PUBLISH_BACKLOG_TASK,
    rows=lambda: TraderaListing.objects.filter(status=TraderaListing.Status.PENDING_SYNC),
    partner_field="item__partner_id",
    due_field="next_attempt_at",
    lock_field="locked_until",
    nudged_field="nudged_at",
    lease=jobs.lease,
)


def queue_publish(*, item: Item) -> None:
    """Queue the auction of an item that went on sale with autoPublishTradera (see
    tradera.services.follow). An item is published once: the one-listing-per-item
    constraint refuses a second."""
    now = timezone.now()
    try:
        with transaction.atomic():
            TraderaListing.objects.create(item=item, next_attempt_at=now, nudged_at=now)
            backlog.wake_on_commit(PUBLISHES, item.partner_id)
    except IntegrityError:
        return  # queued already


def publish_listing(*, listing_id: int) -> None:
    """Take the listing's publish one step as far as it can go now, if it is due and no
    other worker holds it."""
    now = timezone.now()
    claimed = TraderaListing.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        pk=listing_id,
        status=TraderaListing.Status.PENDING_SYNC,
        next_attempt_at__lte=now,
    ).update(locked_until=now + jobs.lease())
    if claimed:
        _publish_claimed(listing_id)


def publish_backlog(*, partner_id, slot: int, generation: int) -> None:
    """A token's turn: the partner's oldest due publish that no worker holds."""
    backlog.run_token(PUBLISHES, partner_id, slot, generation, _publish_claimed)


def _publish_claimed(listing_id: int) -> None:
    """The publish's step, once this worker holds the listing."""
    listing = TraderaListing.objects.select_related("item__partner").get(pk=listing_id)
    try:
        _advance(listing)
    except NotPublishable as exc:
        _fail(listing, exc.code, exc.message)
    except TraderaError as exc:
        _after_error(listing, exc)
    except Exception:
        # Give it back at once, to be tried again soon (should the database be what
        # failed, the lease runs out on its own, one call long).
        jobs.due_in(listing, jobs.backoff(listing.attempts + 1))
        raise


def _advance(listing: TraderaListing) -> None:
    item = listing.item
    if listing.end_wanted and not listing.committed:
        _call_off(listing)
        return
    seller = jobs.seller_for(item)
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
    """The poll is not among them: whether this step polls is decided at the account's
    gate (_take_poll), and a poll pays for itself."""
    calls = [] if listing.committed else ["AddItem", *["AddItemImage"] * images]
    if not listing.commit_acknowledged:
        calls.append("AddItemCommit")
    return calls


def _submit(listing: TraderaListing, client, seller: Seller, images: list[ItemImage]) -> None:
    item = listing.item
    if not listing.committed:
        # Nothing of an uncommitted request can go live: a fresh one replaces it. Its id
        # is saved at once all the same (GET shows the pending ad id while the images
        # go), and `committed` durably before the commit is sent.
        auction = mapping.auction_for(item)
        jobs.renew_lease(listing)
        queued = client.add_item(seller, auction)
        with transaction.atomic():
            jobs.save_fields(
                listing,
                request_id=queued.request_id,
                tradera_item_id=queued.item_id,
                ad_id=f"pending-{queued.request_id}",
                listed_price=auction.start_price,
            )
            lifecycle.record_activity(
                item=item,
                kind="tradera",
                message=f"Sent to Tradera (request {queued.request_id})",
            )
        for image in images:
            assert image.stored is not None  # a ready image is stored
            with default_storage.open(image.stored.full) as data:
                jobs.renew_lease(listing)
                client.add_item_image(seller, queued.request_id, data.read(), "jpeg")
        # The last moment the auction can be called off without ever running: the item
        # may have left the marketplace meanwhile.
        if not TraderaListing.objects.filter(pk=listing.pk, end_wanted=False).update(
            committed=True, updated_at=timezone.now()
        ):
            _call_off(listing)
            return
        listing.committed = True
    if not listing.commit_acknowledged:  # sent again only if its answer was lost
        jobs.renew_lease(listing)
        client.add_item_commit(seller, listing.request_id)
        listing.commit_acknowledged = True  # saved with the next change (save_fields)
    polled_at = _take_poll(listing)
    if polled_at is None:  # the account was just polled: this listing waits for its result
        _wait_for_poll(listing)
        return
    jobs.renew_lease(listing)
    try:
        result = _results_for_account(client, seller, listing).get(listing.request_id)
    except TraderaError:
        _give_poll_back(listing, polled_at)  # no results came: the next poll need not wait
        raise
    if result is None or result.pending:
        _wait_for_poll(listing)
        return
    _settle(listing, result)


def _settle(listing: TraderaListing, result) -> None:
    """Tradera processed the listing's request: it goes live, or the error is raised (for
    publish_listing's handling) after a request Tradera asks to be sent again is dropped."""
    if error := result.error():
        if not error.permanent:  # Tradera asks for the request to be sent again
            jobs.save_fields(listing, committed=False, commit_acknowledged=False, request_id=None)
        raise error
    _go_live(listing)


def _take_poll(listing: TraderaListing):
    """The account's poll for this interval, if nobody took it yet: the time it was taken
    at, else None. One conditional update, so two workers never both poll."""
    item = listing.item
    now, delay = timezone.now(), poll_delay()
    taken = TraderaAccount.objects.filter(
        Q(results_polled_at__isnull=True)
        | Q(results_polled_at__lte=now - delay)
        | Q(results_polled_at__gt=now + delay),  # a clock put back must not close it
        partner_id=item.partner_id,
        livemode=item.livemode,
    ).update(results_polled_at=now)
    return now if taken else None


def _give_poll_back(listing: TraderaListing, polled_at) -> None:
    item = listing.item
    TraderaAccount.objects.filter(
        partner_id=item.partner_id, livemode=item.livemode, results_polled_at=polled_at
    ).update(results_polled_at=None)


def _wait_for_poll(listing: TraderaListing) -> None:
    """Ask again after the poll interval (spends no attempt), unless the listing was settled
    meanwhile by another job's poll: conditional on the request it is waiting for, so a
    poll's outcome is never overwritten. `commit_acknowledged` is saved here too."""
    now, delay = timezone.now(), poll_delay()
    with transaction.atomic():
        waiting = TraderaListing.objects.filter(
            pk=listing.pk,
            status=TraderaListing.Status.PENDING_SYNC,
            request_id=listing.request_id,
        ).update(
            next_attempt_at=now + delay,
            nudged_at=now,
            locked_until=None,
            commit_acknowledged=listing.commit_acknowledged,
            updated_at=now,
        )
        if waiting:
            jobs.nudge_on_commit(listing, countdown=delay.total_seconds())


def _call_off(listing: TraderaListing) -> None:
    """The item left the marketplace before its auction was committed: nothing of it can
    go live, so the publish ends here."""
    with transaction.atomic():
        jobs.save_fields(
            listing,
            status=TraderaListing.Status.ENDED,
            end_wanted=False,
            next_attempt_at=None,
            locked_until=None,
        )
        lifecycle.record_activity(
            item=listing.item,
            kind="tradera",
            message="Tradera publish called off: the item is no longer for sale",
        )


def _results_for_account(client, seller, listing) -> dict:
    """One GetRequestResults for the listing's request and up to RESULTS_BATCH - 1 other
    committed requests of its account that await Tradera (the oldest first). Those others
    that Tradera processed are settled here too, so their own jobs find nothing left to
    ask: taken live, or (held by this worker for it, as their own job would hold them)
    failed or sent again as Tradera's answer says."""
    item = listing.item
    others = dict(
        TraderaListing.objects.filter(
            item__partner=item.partner,
            item__livemode=item.livemode,
            status=TraderaListing.Status.PENDING_SYNC,
            commit_acknowledged=True,
        )
        .exclude(pk=listing.pk)
        .order_by("pk")
        .values_list("request_id", "pk")[: RESULTS_BATCH - 1]
    )
    results = {
        r.request_id: r for r in client.get_request_results(seller, [listing.request_id, *others])
    }
    for request_id, other_pk in others.items():
        other = results.get(request_id)
        if other is None or other.pending:
            continue
        if other.ok:
            _go_live(TraderaListing.objects.select_related("item__partner").get(pk=other_pk))
        else:
            _settle_other(other_pk, request_id, other)
    return results


def _settle_other(listing_pk: int, request_id: int | None, result) -> None:
    """Another listing's request failed at Tradera: handled as its own job would, once this
    worker holds it (if its own job is running, that job sees the result next poll)."""
    now = timezone.now()
    held = TraderaListing.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        pk=listing_pk,
        status=TraderaListing.Status.PENDING_SYNC,
        request_id=request_id,
    ).update(locked_until=now + jobs.lease())
    if not held:
        return
    other = TraderaListing.objects.select_related("item__partner").get(pk=listing_pk)
    try:
        _settle(other, result)
    except TraderaError as exc:
        _after_error(other, exc)


def _go_live(listing: TraderaListing) -> None:
    """The listing goes live if it is still being published (another job's poll may have
    taken it live first), and its item is followed once more: a change made while it was
    being published (a new price, leaving the marketplace) reaches the running auction."""
    item = listing.item
    ad_id = str(listing.tradera_item_id)
    now = timezone.now()
    with transaction.atomic():
        jobs.lock_item(item.pk)
        went_live = TraderaListing.objects.filter(
            pk=listing.pk, status=TraderaListing.Status.PENDING_SYNC
        ).update(
            status=TraderaListing.Status.ACTIVE,
            ad_id=ad_id,
            published_at=now,
            updated_at=now,
            next_attempt_at=None,
            locked_until=None,
            error_code="",
            error_message="",
            commit_acknowledged=True,
        )
        if not went_live:
            return
        Item.objects.filter(pk=item.pk).update(channels_due_at=now, channels_nudged_at=now)
        jobs.nudge_follow_on_commit(item.pk)
        webhooks.emit(
            item.partner,
            "listing.created",
            item,
            tradera_ad_id=ad_id,
            tradera_ad_url=ad_url(ad_id, livemode=item.livemode),
            relist_count=listing.relist_count,
            previous_tradera_ad_id=listing.previous_tradera_item_id,
        )


def _after_error(listing: TraderaListing, exc: TraderaError) -> None:
    if exc.deferred:  # the quota: wait for the window without spending an attempt
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else DEFERRED_DELAY
        jobs.due_in(listing, wait, error_code="tradera_quota_wait", error_message=exc.message[:500])
    elif exc.permanent:
        _fail(listing, FAILURE_CODES.get(exc.code, f"tradera_{exc.code}"), exc.message)
    else:
        # Tradera is down, slow or asks for the request again: tried again for as long as
        # it takes, never failed (jobs.backoff). The timeline says so once.
        logger.warning("tradera publish listing=%s failed, will retry: %s", listing.pk, exc)
        attempts = listing.attempts + 1
        with transaction.atomic():
            if attempts == 1:
                lifecycle.record_activity(
                    item=listing.item,
                    kind="tradera",
                    message=f"Tradera publish failed, retrying until Tradera answers: {exc}",
                )
            jobs.due_in(
                listing,
                jobs.backoff(attempts),
                attempts=attempts,
                error_code=f"tradera_{exc.code}",
                error_message=exc.message[:500],
            )


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
        jobs.save_fields(
            listing,
            status=TraderaListing.Status.PENDING_SYNC,
            attempts=0,
            next_attempt_at=now,
            nudged_at=now,
            locked_until=None,
            error_code="",
            error_message="",
        )
        lifecycle.record_activity(
            item=item, kind="tradera", message="Tradera publish retried by Rheo"
        )
        jobs.nudge_on_commit(listing)


def _fail(listing: TraderaListing, code: str, message: str) -> None:
    item = listing.item
    with transaction.atomic():
        jobs.save_fields(
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
