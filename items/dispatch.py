"""The job dispatcher: turns item rows that are due and not yet nudged into Celery nudges.

On PostgreSQL a PUT that makes an item's work due only writes the row, with
`processing_nudged_at` null (items.pipeline.due_now): the row is the outbox. A trigger
(migration 0005) NOTIFYs the row's id when it commits, riding on the PUT's own commit.
This process LISTENs, claims the notified rows with a conditional UPDATE of
`processing_nudged_at` (so two dispatchers, or a dispatcher and the sweeper, never both
publish one row) and publishes their nudges in one pipelined batch through one kombu
producer, before its claim commits: a failed publish rolls the claim back and the rows
wait for the next try. A crash between the publish and the commit sends a nudge twice,
which does nothing (the worker's lease). On start, on reconnecting and when idle it
catches up with every row due and un-nudged, so notifications missed while it was down
lose nothing; and while it does not run at all, beat's sweeper nudges those rows (they
count as never nudged), seconds later instead of milliseconds.
"""

import logging
import signal
import time

from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from kombu.exceptions import KombuError

from items.pipeline import PROCESS_TASK
from rheo.celery import app as celery_app

logger = logging.getLogger(__name__)

CHANNEL = "rheo_items_due"  # the trigger's (migration 0005)
BATCH = 500
# Waiting for notifications wakes this often to see whether it should stop; after IDLE
# seconds without any it catches up (which also finds a connection that died quietly).
WAKE_SECONDS = 1.0
IDLE_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 30.0


def dispatch(item_ids=None) -> int:
    """Claim and nudge rows that are due and not yet nudged: the ones given (notified), or
    else all of them. Returns how many were nudged."""
    if item_ids is not None:
        ids = list(item_ids)
        return sum(_dispatch_batch(ids[i : i + BATCH]) for i in range(0, len(ids), BATCH))
    sent = 0
    while True:
        claimed = _dispatch_batch(None)
        sent += claimed
        if claimed < BATCH:
            return sent


def _dispatch_batch(item_ids) -> int:
    with transaction.atomic():
        claimed = _claim(item_ids)
        _publish(claimed)
    return len(claimed)


_CLAIM = """
UPDATE items_item SET processing_nudged_at = %(now)s
WHERE id IN (
    SELECT id FROM items_item
    WHERE {which} AND processing_nudged_at IS NULL
      AND processing_due_at <= %(now)s AND deleted_at IS NULL
    ORDER BY processing_due_at LIMIT %(limit)s
    FOR UPDATE
)
RETURNING id
"""


def _claim(item_ids) -> list:
    """Mark the rows nudged now. Row locks, and the condition checked again once a
    concurrent claim commits, make each row one claim's only."""
    which = "TRUE" if item_ids is None else "id = ANY(%(ids)s::uuid[])"
    params = {"now": timezone.now(), "limit": BATCH, "ids": item_ids}
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM.format(which=which), params)
        return [row[0] for row in cursor.fetchall()]


def _publish(item_ids) -> None:
    """One message per item, sent in one pipelined write (kombu's publish batch)."""
    if not item_ids:
        return
    with celery_app.producer_or_acquire() as producer, producer.batch():
        for item_id in item_ids:
            celery_app.send_task(PROCESS_TASK, args=[str(item_id)], producer=producer)


class Dispatcher:
    """The long-running loop of `manage.py dispatch_jobs`."""

    def __init__(self):
        self.stopping = False

    def stop(self, *_args) -> None:
        self.stopping = True

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        backoff = 1.0
        while not self.stopping:
            try:
                self._listen()
            except Exception as exc:
                # The database or the broker is away: start over (LISTEN, catch up). The
                # claims of what failed to publish were rolled back and are caught up then.
                expected = isinstance(exc, DatabaseError | KombuError | OSError)
                logger.warning(
                    "dispatcher: failed (%s); starting over in %.0f s",
                    exc,
                    backoff,
                    exc_info=not expected,
                )
                connection.close()
                self._sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            else:
                backoff = 1.0

    def _listen(self) -> None:
        with connection.cursor() as cursor:
            # A claim lost in a database crash only makes its rows publish again, which
            # does nothing: the claims need not wait for their WAL flush.
            cursor.execute("SET synchronous_commit TO off")
            cursor.execute(f"LISTEN {CHANNEL}")
        # After LISTEN, so a row committed meanwhile is either caught up or notified.
        caught_up = dispatch()
        logger.info("dispatcher: listening on %s; caught up with %d item(s)", CHANNEL, caught_up)
        pg = connection.connection
        idle = 0.0
        while not self.stopping:
            ids = [n.payload for n in pg.notifies(timeout=WAKE_SECONDS, stop_after=1)]
            if not ids:
                idle += WAKE_SECONDS
                if idle >= IDLE_SECONDS:
                    idle = 0.0
                    dispatch()
                continue
            idle = 0.0
            # Whatever else has arrived meanwhile goes in the same batch.
            ids += [n.payload for n in pg.notifies(timeout=0)]
            dispatch(ids)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(WAKE_SECONDS, deadline - time.monotonic()))
