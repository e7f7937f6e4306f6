"""The nine scenarios. Each gets a batch of its own (external ids `S<n>-0001`…), does its
fault while the batch is on its way, and returns when the fault began and cleared; the
suite then waits for the batch's final state and takes the figures (measure.py)."""

import threading
import time
from collections import Counter
from dataclasses import dataclass

import psycopg
import requests

from bench.common import log
from bench.faults.measure import Answer, Batch, Fault

# Scenario 9: items the reconciliation de-lists (beside the suite's --batch that stay),
# and the pace they are pushed at (under the item-sync tier's 10/s).
RECONCILE_ABSENT = 300
RECONCILE_PUSH_RATE = 8.0


@dataclass(frozen=True)
class Scenario:
    number: int
    title: str
    final: str  # measure.FINAL_STATES
    run: object  # (suite, batch) -> Fault


def _at(start: float, offset: float) -> None:
    time.sleep(max(0.0, start + offset - time.monotonic()))


def _burst_seconds(suite) -> float:
    return suite.args.batch / suite.args.rate


def _publish_first(suite, batch: Batch) -> None:
    """Scenarios about published items: push the batch and wait until it is published,
    with its listing.created webhooks, before the fault."""
    batch.final = "published"
    batch.push(suite.args.rate).join()
    _snap, done_at, _ = batch.wait(time.time() + suite.args.ceiling, suite.system)
    if done_at is None:
        log("  the batch was not all published before the fault; going on with it")


def kill_worker_three_times(suite, batch: Batch) -> Fault:
    """SIGKILL the worker (its whole process group) at a quarter, half and three quarters
    of the burst, starting it again 3 s later each time."""
    start, burst = time.monotonic(), _burst_seconds(suite)
    pushing = batch.push(suite.args.rate)
    fault = Fault(began=0)
    for share in (0.25, 0.5, 0.75):
        _at(start, burst * share)
        suite.system["worker"].kill()
        fault.began = fault.began or time.time()
        time.sleep(3)
        suite.system["worker"].start()
    fault.cleared = time.time()
    pushing.join()
    return fault


def restart_redis_empty(suite, batch: Batch) -> Fault:
    """Redis is killed in the middle of the burst and starts again empty 3 s later (a
    restart takes a moment): every queued and unacknowledged message, every cached key
    and rate-limit bucket is gone."""
    start = time.monotonic()
    pushing = batch.push(suite.args.rate)
    _at(start, _burst_seconds(suite) / 2)
    fault = Fault(began=time.time())
    suite.redis.restart_empty(down_seconds=3)
    fault.cleared = time.time()
    pushing.join()
    return fault


def restart_postgres(suite, batch: Batch) -> Fault:
    """PostgreSQL restarts (fast shutdown: every session is cut) in the middle of the burst."""
    start = time.monotonic()
    pushing = batch.push(suite.args.rate)
    _at(start, _burst_seconds(suite) / 2)
    fault = Fault(began=time.time())
    suite.pg.restart()
    fault.cleared = time.time()
    pushing.join()
    return fault


def stop_sandbox(suite, batch: Batch) -> Fault:
    """The Tradera sandbox is stopped for 90 s from a third of the way into the burst,
    then started again on the same port and database file."""
    start = time.monotonic()
    pushing = batch.push(suite.args.rate)
    _at(start, _burst_seconds(suite) / 3)
    fault = Fault(began=time.time())
    suite.system["tradera"].kill()
    time.sleep(90)
    suite.system["tradera"].start()
    fault.cleared = time.time()
    pushing.join()
    return fault


def webhook_endpoint_down(suite, batch: Batch) -> Fault:
    """The partner's endpoint answers 503 for 6 minutes from just before the burst."""
    fault = Fault(began=time.time())
    suite.receiver.failing.set()
    try:
        pushing = batch.push(suite.args.rate)
        time.sleep(360)
    finally:
        suite.receiver.failing.clear()
    fault.cleared = time.time()
    pushing.join()
    return fault


def sold_while_worker_killed(suite, batch: Batch) -> Fault:
    """The batch is published; then the partner marks every item sold (PATCH status) at
    the same pace, and the worker is SIGKILLed three times during that burst, each time
    the moment a PATCH has been answered (its end is then on its way to the worker, or
    in its hands), started again 3 s later."""
    _publish_first(suite, batch)
    batch.final = "sold_by_partner"
    selling = batch.mark_sold(suite.args.rate)
    fault = Fault(began=0)
    answered = len(batch.answers)
    for wait_for_answers in (len(batch.ids) // 4, 1, 1):
        _until_answered(batch, answered + wait_for_answers, selling)
        suite.system["worker"].kill()
        fault.began = fault.began or time.time()
        time.sleep(3)
        suite.system["worker"].start()
        answered = len(batch.answers)
    fault.cleared = time.time()
    selling.join()
    return fault


def _until_answered(batch: Batch, count: int, requests_thread) -> None:
    """Until `count` requests of the batch have been answered (or no more will be)."""
    while len(batch.answers) < count and requests_thread.is_alive():
        time.sleep(0.002)


def sales_while_webhooks_worker_down(suite, batch: Batch) -> Fault:
    """The batch is published; the webhooks worker is SIGKILLed; every auction sells
    (the simulate endpoint: a bid, the auction ends, Rheo syncs the account); once the
    sales are recorded in Rheo (or after 2 minutes) the webhooks worker starts again."""
    _publish_first(suite, batch)
    batch.final = "sold_on_tradera"
    fault = Fault(began=time.time())
    suite.system["webhooks"].kill()
    batch.simulate_sales(suite.args.rate).join()
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            items = batch.items()
        except Exception:  # noqa: BLE001 - keep waiting
            items = {}
        if sum(1 for r in items.values() if r["status"] == "sold") >= len(batch.accepted):
            break
        time.sleep(2)
    fault.notes["sold_before_webhooks_back"] = sum(
        1 for r in batch.items().values() if r["status"] == "sold"
    )
    suite.system["webhooks"].start()
    fault.cleared = time.time()
    return fault


def revoke_while_redis_unreachable(suite, batch: Batch) -> Fault:
    """A second key is used (so any cache knows it); in the middle of the burst (pushed
    with the suite's main key) Redis becomes unreachable, keeping its data for when it
    comes back; the second key is revoked, and asked with at once, 30 s later while Redis
    is still away, and again once Redis is back: it must be refused (401) every time."""
    victim = suite.partner.new_test_key("fault suite: to be revoked")
    probes = []

    def probe(when: str) -> None:
        try:
            status = requests.get(
                f"{suite.system.base_url}/integration/v1/items/{batch.ids[0]}",
                headers={"x-api-key": victim["key"]}, timeout=30,
            ).status_code  # fmt: skip
        except requests.RequestException:
            status = "no answer"
        probes.append({"when": when, "status": status})

    probe("before the revoke")
    start = time.monotonic()
    pushing = batch.push(suite.args.rate)
    _at(start, _burst_seconds(suite) / 2)
    fault = Fault(began=time.time())
    suite.redis.save_then_stop()
    revoked = suite.partner.revoke(victim["id"])
    probe("right after the revoke, Redis away")
    time.sleep(30)
    probe("30 s later, Redis away")
    suite.redis.start()
    fault.cleared = time.time()
    probe("Redis back")
    time.sleep(5)
    probe("5 s after Redis is back")
    pushing.join()
    after = probes[1:]
    fault.notes.update(revoke=revoked, probes=probes)
    fault.notes["extra_checks"] = {
        "the revoked key is refused on every request": all(p["status"] == 401 for p in after)
    }
    return fault


def reconcile_while_worker_killed(suite, batch: Batch) -> Fault:
    """RECONCILE_ABSENT + --batch items are published; the partner sends its complete set
    without the first RECONCILE_ABSENT of them (POST /integration/v1/reconciliations),
    then applies it (force: it de-lists more than the guard's 10 %). The worker is
    SIGKILLed the moment the apply job claims the reconciliation (its first chunk in
    hand), and again once the job has resumed and committed a chunk (the next one in
    hand), started again 3 s later each time. The apply must finish by itself: every
    absent item `not_listed` exactly once and its auction ended, nothing else changed,
    no 5xx from the reconciliation API while it polls the progress."""
    batch.ids = [f"{batch.prefix}{n:04d}" for n in range(1, RECONCILE_ABSENT + len(batch.ids) + 1)]
    batch.final = "published"
    batch.push(RECONCILE_PUSH_RATE).join()
    _snap, done_at, _ = batch.wait(time.time() + suite.args.ceiling, suite.system)
    if done_at is None:
        log("  the batch was not all published before the reconciliation; going on with it")
    absent = [eid for eid in batch.ids[:RECONCILE_ABSENT] if eid in batch.accepted]
    batch.absent = set(absent)
    before = _partner_items(suite)
    others = {eid: state for eid, state in before.items() if eid not in batch.absent}
    api = Reconciler(suite, batch)
    preview = api.call("POST", "", {"externalIds": sorted(others)})
    log(f"  preview: {preview.get('absent')} absent, {preview.get('present')} present")
    batch.final = "reconciled"
    applied = api.call("POST", f"/{preview['id']}/apply", {"force": True})
    polling = api.poll_progress(preview["id"])
    fault = Fault(began=0)
    kills: list[dict] = []
    for moment in ("claimed", "resumed with a chunk done"):
        done_before = kills[-1]["state_before_kill"]["done"] if kills else -1
        state = _wait_for_apply(suite, preview["id"], done_before, timeout=240)
        suite.system["worker"].kill()
        kills.append({"moment": moment, "state_before_kill": state})
        fault.began = fault.began or time.time()
        time.sleep(3)
        suite.system["worker"].start()
    fault.cleared = time.time()

    def after() -> None:
        api.stop.set()
        polling.join()
        final = api.call("GET", f"/{preview['id']}", None)
        checks = _reconciliation_checks(suite, preview["id"], batch.absent, others)
        fault.notes.update(
            preview={k: preview.get(k) for k in ("submitted", "present", "absent", "unknown")},
            apply_status=applied.get("status"),
            kills=kills,
            progress=final.get("progress"),
            final_status=final.get("status"),
            reconciliation_answers=dict(Counter(str(s) for s in api.statuses)),
            other_items_checked=len(others),
        )
        fault.notes["extra_checks"] = {
            "the preview shows exactly the absent items": preview.get("absent") == len(absent),
            "the apply finished (applied, every absent item done)": final.get("status") == "applied"
            and (final.get("progress") or {}).get("done") == len(absent),
            "the worker was killed mid-apply both times": all(
                k["state_before_kill"]["status"] == "applying" for k in kills
            ),
            **checks,
            "no 5xx from the reconciliation API": not any(
                s == "no answer" or s >= 500 for s in api.statuses
            ),
        }

    fault.after = after
    return fault


class Reconciler:
    """The partner's reconciliation calls, answers recorded with the batch's (kind
    `reconcile`), and a poll of the progress every second while the fault goes on."""

    def __init__(self, suite, batch: Batch):
        self.suite, self.batch = suite, batch
        self.statuses: list = []
        self.stop = threading.Event()

    def call(self, method: str, path: str, body: dict | None) -> dict:
        url = f"{self.suite.system.base_url}/integration/v1/reconciliations{path}"
        try:
            response = requests.request(
                method, url, json=body, headers={"x-api-key": self.suite.key}, timeout=60
            )
            status, answer = response.status_code, response.json()
        except (requests.RequestException, ValueError):
            status, answer = "no answer", {}
        self.statuses.append(status)
        self.batch.answers.append(Answer("reconcile", path or "preview", status, time.time()))
        return answer

    def poll_progress(self, reconciliation_id: str) -> threading.Thread:
        def run() -> None:
            while not self.stop.wait(1.0):
                self.call("GET", f"/{reconciliation_id}", None)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


def _partner_items(suite) -> dict[str, tuple]:
    """Every current item of the suite's partner (test mode): its status and when it last
    changed."""
    with psycopg.connect(suite.pg_dsn) as conn:
        rows = conn.execute(
            "SELECT external_id, status, updated_at, status_changed_at, price FROM items_item"
            " WHERE NOT livemode AND deleted_at IS NULL"
        ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def _wait_for_apply(suite, reconciliation_id: str, done_before: int, timeout: float) -> dict:
    """Until the apply job holds the reconciliation (its lease is set) with more items
    done than `done_before` (-1: the moment it claims it; else a chunk committed since
    the last kill: a worker that resumed); polled every 5 ms."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(suite.pg_dsn, autocommit=True) as conn:
        while True:
            status, done, total, locked = conn.execute(
                "SELECT status, done_count, absent_count, apply_locked_until > now()"
                " FROM items_reconciliation WHERE id = %s",
                [reconciliation_id],
            ).fetchone()
            state = {"status": status, "done": done, "total": total}
            held = bool(locked) and status == "applying"
            if held and done > done_before or time.monotonic() > deadline:
                return state
            if status != "applying":
                return state
            time.sleep(0.005)


def _reconciliation_checks(suite, reconciliation_id, absent: set, others: dict) -> dict:
    with psycopg.connect(suite.pg_dsn) as conn:
        outcomes = dict(
            conn.execute(
                "SELECT outcome, count(*) FROM items_reconciliationitem"
                " WHERE reconciliation_id = %s GROUP BY 1",
                [reconciliation_id],
            ).fetchall()
        )
        per_item = conn.execute(
            "SELECT i.external_id,"
            " count(*) FILTER (WHERE a.kind = 'reconciled'),"
            " count(*) FILTER (WHERE a.kind = 'status' AND a.message LIKE %s)"
            " FROM items_item i LEFT JOIN items_itemactivity a ON a.item_id = i.id"
            " WHERE NOT i.livemode AND i.external_id = ANY(%s) GROUP BY 1",
            ["%→ not_listed", sorted(absent)],
        ).fetchall()
    once = [eid for eid, reconciled, delisted in per_item if reconciled == 1 and delisted == 1]
    now = _partner_items(suite)
    touched = sorted(eid for eid, state in others.items() if now.get(eid) != state)
    return {
        "every absent item de-listed exactly once": len(once) == len(absent) == len(per_item)
        and outcomes.get("delisted") == len(absent)
        and not outcomes.get(""),
        "nothing else changed": not touched,
    }


SCENARIOS = [
    Scenario(1, "worker SIGKILLed three times mid-burst", "published", kill_worker_three_times),
    Scenario(2, "Redis restarts empty mid-burst", "published", restart_redis_empty),
    Scenario(3, "PostgreSQL restarts mid-burst", "published", restart_postgres),
    Scenario(4, "Tradera sandbox down for 90 s", "published", stop_sandbox),
    Scenario(5, "webhook endpoint answers 503 for 6 min", "published", webhook_endpoint_down),
    Scenario(6, "PATCH sold while the worker is SIGKILLed", "sold_by_partner",
             sold_while_worker_killed),
    Scenario(7, "webhooks worker down while sales happen", "sold_on_tradera",
             sales_while_webhooks_worker_down),
    Scenario(8, "revoke while Redis is unreachable", "published", revoke_while_redis_unreachable),
    Scenario(9, "reconciliation apply, worker SIGKILLed twice", "reconciled",
             reconcile_while_worker_killed),
]  # fmt: skip
