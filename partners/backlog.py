"""Fair turns between partners at background work: one partner's 50,000-item import does
not delay another partner's single item.

A Celery queue is first in, first out: a message per row would put a single item behind
every row of an import sent before it. So bulk work sends no message per row. The
partner's due rows (the job's own columns: due, held until, nudged; see items.pipeline)
are its queue, and the partner holds a few tokens (RHEO_BACKLOG_TOKENS, its share of the
worker slots): a token is a Celery message that claims the partner's oldest due row that
no worker holds, does it as the row's own message would, and then sends itself again, to
the back of the broker's queue, while the partner has more due. Partners with a backlog
take turns, one row a token at a time, and a single item's own message waits behind at
most a few tokens, not behind the import.

Each token is a row (partners.models.BacklogToken), numbered: the message carries the
number, and running it moves the number on, so a duplicate message (or one the sweeper
replaced) finds its number gone and does nothing. A token that finds nothing due goes
idle, then looks once more, so work committed while it was going idle is not left
waiting. `wake` sends tokens for a partner's due work up to the number allowed, taking
only idle ones and ones not heard of for the nudge grace (lost with a broker, or their
worker killed); the sweepers call it for every partner whose due rows no message has
asked about for the grace.

The row's lease (its `*_locked_until`) is what keeps two workers off one row, exactly as
with a row's own message, so a token and that message never both do a row.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from partners.models import BacklogToken
from rheo import celery

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backlog:
    """A kind of background work whose rows carry their job's state."""

    kind: str  # the tokens' kind, e.g. "images"
    task: str  # the token's Celery task, called with (partner id, slot, generation)
    rows: Callable[[], QuerySet]  # the rows that may be due (e.g. items not deleted)
    partner_field: str  # the path from a row to its partner's id, e.g. "partner_id"
    due_field: str
    lock_field: str
    nudged_field: str
    lease: Callable[[], timedelta]


def tokens_allowed() -> int:
    return settings.RHEO_BACKLOG_TOKENS


def grace() -> timedelta:
    """A token not heard of for this long is taken as lost (as a lost nudge is)."""
    return timedelta(seconds=settings.RHEO_NUDGE_GRACE_SECONDS)


def due_now(backlog: Backlog, partner_id: UUID | str, now: datetime) -> QuerySet:
    """The partner's rows that are due and no worker holds, oldest due first."""
    lock = backlog.lock_field
    return (
        backlog.rows()
        .filter(**{backlog.partner_field: partner_id, f"{backlog.due_field}__lte": now})
        .filter(Q(**{f"{lock}__isnull": True}) | Q(**{f"{lock}__lte": now}))
        .order_by(backlog.due_field, "pk")
    )


def claim_next(backlog: Backlog, partner_id: UUID | str) -> Any:
    """Hold the partner's oldest due row that no worker holds (its lease, as the row's own
    message takes it); its pk, or None when there is none. PostgreSQL skips rows another
    claim is taking; SQLite has one writer at a time, and a conditional update suffices."""
    now = timezone.now()
    candidates = due_now(backlog, partner_id, now)
    held = {backlog.lock_field: now + backlog.lease()}
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            pk = (
                candidates.select_for_update(skip_locked=True, no_key=True, of=("self",))
                .values_list("pk", flat=True)
                .first()
            )
            if pk is not None:
                backlog.rows().filter(pk=pk).update(**held)
            return pk
    for pk in candidates.values_list("pk", flat=True)[:3]:
        if candidates.filter(pk=pk).update(**held):
            return pk
    return None


def wake(backlog: Backlog, partner_id: UUID | str) -> int:
    """Send the partner tokens for its due work: as many as it has rows due now, at most
    RHEO_BACKLOG_TOKENS in all, taking idle tokens and lost ones. How many were sent
    (after commit). Cheap when the partner's tokens are out already: two reads."""
    now = timezone.now()
    allowed = tokens_allowed()
    wanted = due_now(backlog, partner_id, now)[:allowed].count()
    if not wanted:
        return 0
    mine = BacklogToken.objects.filter(kind=backlog.kind, partner_id=partner_id)
    tokens = list(mine.order_by("slot"))
    if len(tokens) < allowed:
        BacklogToken.objects.bulk_create(
            [
                BacklogToken(kind=backlog.kind, partner_id=partner_id, slot=s)
                for s in range(allowed)
            ],
            ignore_conflicts=True,
        )
    lost = Q(beat_at__isnull=True) | Q(beat_at__lte=now - grace())
    out = sum(
        t.slot < allowed and t.beat_at is not None and t.beat_at > now - grace() for t in tokens
    )
    if out >= wanted:
        return 0
    sent = 0
    with transaction.atomic():
        for token in (
            mine.filter(lost, slot__lt=allowed)
            .select_for_update(skip_locked=True)
            .order_by("slot")[: wanted - out]
        ):
            token.generation += 1
            token.beat_at = now
            token.save(update_fields=["generation", "beat_at"])
            _send_on_commit(backlog, partner_id, token.slot, token.generation)
            sent += 1
    return sent


def wake_on_commit(backlog: Backlog, partner_id: UUID | str) -> None:
    """`wake` once the current transaction commits, so that it sees the rows made due in
    it (a token going idle meanwhile looks again only at what was committed)."""
    transaction.on_commit(partial(wake, backlog, partner_id), robust=True)


def _send_on_commit(backlog: Backlog, partner_id, slot: int, generation: int) -> None:
    celery.nudge_on_commit(backlog.task, str(partner_id), slot, generation)


def run_token(
    backlog: Backlog,
    partner_id: UUID | str,
    slot: int,
    generation: int,
    work: Callable[[Any], None],
) -> None:
    """The token's turn: unless it is a duplicate or was replaced, do the partner's oldest
    due row with `work` (given the claimed row's pk), then pass the turn on."""
    mine = BacklogToken.objects.filter(kind=backlog.kind, partner_id=partner_id, slot=slot)
    if slot >= tokens_allowed():  # RHEO_BACKLOG_TOKENS was lowered: this one retires
        mine.update(beat_at=None)
        return
    taken = mine.filter(generation=generation, beat_at__isnull=False).update(
        generation=generation + 1, beat_at=timezone.now()
    )
    if not taken:
        return
    generation += 1
    pk = claim_next(backlog, partner_id)
    try:
        if pk is not None:
            work(pk)
    finally:
        _pass_on(backlog, partner_id, slot, generation)


def _pass_on(backlog: Backlog, partner_id: UUID | str, slot: int, generation: int) -> None:
    """To the back of the queue while the partner has more due; idle otherwise."""
    mine = BacklogToken.objects.filter(
        kind=backlog.kind, partner_id=partner_id, slot=slot, generation=generation
    )
    with transaction.atomic():
        if due_now(backlog, partner_id, timezone.now()).exists():
            if mine.update(beat_at=timezone.now()):
                _send_on_commit(backlog, partner_id, slot, generation)
            return
        mine.update(beat_at=None)
    # Work whose sender saw this token still out, committed before it went idle.
    wake(backlog, partner_id)


def sweep(backlog: Backlog, *, limit: int) -> int:
    """Wake every partner (up to `limit`) that has rows due, not held, and not nudged for
    the grace: their tokens were lost, or only a per-row nudge was. Partners whose tokens
    are out are left alone. How many tokens were sent."""
    now = timezone.now()
    nudged = backlog.nudged_field
    partners = (
        backlog.rows()
        .filter(**{f"{backlog.due_field}__lte": now})
        .filter(
            Q(**{f"{backlog.lock_field}__isnull": True}) | Q(**{f"{backlog.lock_field}__lte": now})
        )
        .filter(Q(**{f"{nudged}__isnull": True}) | Q(**{f"{nudged}__lte": now - grace()}))
        .order_by()
        .values_list(backlog.partner_field, flat=True)
        .distinct()[:limit]
    )
    return sum(wake(backlog, partner_id) for partner_id in list(partners))
