"""A batch of items pushed at a steady pace as a careful ERP would (retrying what was not
accepted), watched until every item is in its final state and every expected webhook has
arrived, and the figures of one scenario with their verdict against the goal."""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
import requests

from bench.common import log

POLL_SECONDS = 3
RECOVERY_GOAL_SECONDS = 180
# An ERP retries what was not accepted (5xx, 429, no answer), honouring Retry-After, for
# up to this many tries a few seconds apart.
PUT_TRIES = 8
NOT_FOR_SALE = {"sold", "not_listed", "archived"}
RUNNING = {"queued", "active"}  # a committed auction that is, or is about to be, live

# What each kind of batch ends in, and the events a partner is owed for each item.
FINAL_STATES = {
    "published": {"listing.created"},
    "sold_by_partner": {"listing.created"},
    "sold_on_tradera": {"listing.created", "item.sold"},
    # published, then a reconciliation de-lists `Batch.absent` (no event for a de-listing)
    "reconciled": {"listing.created"},
}


@dataclass
class Answer:
    kind: str  # put, patch, simulate
    external_id: str
    status: int | str  # the HTTP status, or "no answer"
    at: float


@dataclass
class Fault:
    """When the fault began and cleared (Unix time), and what the scenario noted."""

    began: float = 0.0
    cleared: float = 0.0
    notes: dict = field(default_factory=dict)
    # Called once the batch is final (or the ceiling passed), before the figures: a
    # scenario's own checks, into notes["extra_checks"].
    after: object = None


class Batch:
    """One scenario's items: `<prefix>0001`, … pushed with `key` at `rate` a second."""

    def __init__(self, suite, prefix: str, count: int, final: str):
        self.suite = suite
        self.prefix, self.final = prefix, final
        self.ids = [f"{prefix}{n:04d}" for n in range(1, count + 1)]
        self.answers: list[Answer] = []
        self.accepted: set[str] = set()
        self.absent: set[str] = set()  # "reconciled": the items the reconciliation de-lists
        self._lock = threading.Lock()
        self._local = threading.local()

    # --- requests ------------------------------------------------------------------------

    def _call(self, kind: str, method: str, eid: str, path: str, body: dict, key: str):
        session = getattr(self._local, "session", None) or requests.Session()
        self._local.session = session
        url = f"{self.suite.system.base_url}/integration/v1/items/{eid}{path}"
        try:
            response = session.request(
                method, url, json=body, headers={"x-api-key": key}, timeout=30
            )
            status = response.status_code
            retry_after = response.headers.get("Retry-After")
        except requests.RequestException:
            status, retry_after = "no answer", None
            self._local.session = None
        with self._lock:
            self.answers.append(Answer(kind, eid, status, time.time()))
        return status, retry_after

    def _until_accepted(self, kind: str, method: str, eid: str, path: str, body: dict) -> None:
        key = self.suite.key
        for attempt in range(PUT_TRIES):
            status, retry_after = self._call(kind, method, eid, path, body, key)
            if isinstance(status, int) and 200 <= status < 300:
                with self._lock:
                    self.accepted.add(eid)
                return
            if isinstance(status, int) and status < 500 and status != 429:
                return  # refused for good
            wait = float(retry_after) if retry_after else min(2**attempt, 30)
            time.sleep(min(wait, 60))

    def _paced(self, rate: float, one) -> threading.Thread:
        """Calls one(eid) for every item, `rate` a second, in the background."""

        def run():
            start = time.monotonic()
            with ThreadPoolExecutor(max_workers=16) as pool:
                for n, eid in enumerate(self.ids):
                    time.sleep(max(0.0, start + n / rate - time.monotonic()))
                    pool.submit(one, eid)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def push(self, rate: float) -> threading.Thread:
        host = self.suite.images

        def put(eid):
            body = {
                "title": "Volvo XC90 bromsok fram vänster 2018",
                "description": "Testad och fungerande. Skick B.",
                "price": 950,
                "shippingCost": 149,
                "weightKg": 3.2,
                "imageUrls": [host.url(eid)],
                "autoPublishTradera": True,
            }
            self._until_accepted("put", "PUT", eid, "", body)

        return self._paced(rate, put)

    def mark_sold(self, rate: float) -> threading.Thread:
        return self._paced(
            rate,
            lambda eid: self._until_accepted(
                "patch", "PATCH", eid, "/status", {"status": "sold"}
            ),  # fmt: skip
        )

    def simulate_sales(self, rate: float) -> threading.Thread:
        return self._paced(
            rate,
            lambda eid: self._until_accepted(
                "simulate", "POST", eid, "/simulate", {"event": "sold"}
            ),  # fmt: skip
        )

    # --- state ---------------------------------------------------------------------------

    def items(self) -> dict[str, dict]:
        """Rheo's view of the batch's items (current and deleted)."""
        with psycopg.connect(self.suite.pg_dsn, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT i.external_id, i.id::text, i.status, i.deleted_at IS NOT NULL,"
                " extract(epoch FROM i.created_at), extract(epoch FROM i.status_changed_at),"
                " l.status FROM items_item i LEFT JOIN tradera_traderalisting l"
                " ON l.item_id = i.id WHERE NOT i.livemode AND i.external_id LIKE %s",
                [self.prefix + "%"],
            ).fetchall()
        return {
            r[0]: {
                "id": r[1],
                "status": r[2],
                "deleted": r[3],
                "created": float(r[4]),
                "status_changed": float(r[5]),
                "tradera": r[6],
            }  # fmt: skip
            for r in rows
        }

    def auctions(self, items: dict[str, dict]) -> dict[str, list[str]]:
        """The states of each item's auctions in the sandbox's own data (requests never
        committed are not auctions: they can never go live)."""
        answer = requests.get(f"{self.suite.system.sandbox_url}/control/auctions", timeout=30)
        answer.raise_for_status()
        by_item_id: dict[str, list[str]] = {}
        for auction in answer.json()["auctions"]:
            if auction["state"] != "uncommitted":
                for ref in auction["ownReferences"]:
                    by_item_id.setdefault(ref, []).append(auction["state"])
        return {eid: by_item_id.get(row["id"], []) for eid, row in items.items()}

    def is_final(self, eid: str, row: dict | None, auctions: list[str]) -> bool:
        if row is None or row["deleted"]:
            return False
        if self.final == "reconciled" and eid in self.absent:
            return (
                row["status"] == "not_listed"
                and row["tradera"] == "ended"
                and not RUNNING & set(auctions)
            )
        if self.final in ("published", "reconciled"):
            return row["status"] == "active" and row["tradera"] == "active"
        if self.final == "sold_by_partner":
            return row["status"] == "sold" and not RUNNING & set(auctions)
        return row["status"] == "sold" and row["tradera"] == "sold"

    def expected_events(self) -> set[tuple[str, str]]:
        return {(eid, t) for eid in self.accepted for t in FINAL_STATES[self.final]}

    def delivered(self) -> list[dict]:
        """The deliveries the receiver accepted (answered 2xx)."""
        return [d for d in self.suite.receiver.deliveries(self.prefix) if d["answered"] < 300]

    def snapshot(self) -> dict:
        items = self.items()
        auctions = self.auctions(items)
        final = {eid for eid in self.accepted if self.is_final(eid, items.get(eid), auctions[eid])}
        got = {(d["externalId"], d["eventType"]) for d in self.delivered()}
        return {
            "items": items,
            "auctions": auctions,
            "final": final,
            "missing_events": self.expected_events() - got,
            "at": time.time(),
        }

    def done(self, snap: dict) -> bool:
        return snap["final"] >= self.accepted and not snap["missing_events"]

    def wait(self, until: float, system) -> tuple[dict, float | None, list[dict]]:
        """Polls until the batch is done or `until` (Unix time): the last snapshot, when
        it was first done, and processes that died by themselves meanwhile."""
        deaths, seen, snap = [], set(), None
        while True:
            for name, component in system.components.items():
                code = component.died()
                if code is not None and name not in seen:
                    seen.add(name)
                    deaths.append({"process": name, "exit_code": code, "at": time.time()})
                    log(f"  {name} exited by itself (code {code})")
            try:
                snap = self.snapshot()
            except (psycopg.Error, requests.RequestException) as exc:
                log(f"  (state not readable now: {str(exc)[:80]})")
            else:
                if self.done(snap):
                    return snap, snap["at"], deaths
            if time.time() >= until:
                if snap is None:
                    snap = self.snapshot()
                return snap, None, deaths
            time.sleep(POLL_SECONDS)


def figures(batch: Batch, snap: dict, done_at: float | None, fault: Fault) -> dict:
    """The scenario's figures, from the last snapshot and what was answered and received."""
    items, auctions = snap["items"], snap["auctions"]
    accepted = batch.accepted
    per_item = Counter(
        min(sum(1 for s in auctions.get(eid, [])), 2) for eid in accepted if eid in items
    )
    not_for_sale = [
        eid for eid, row in items.items()
        if (row["status"] in NOT_FOR_SALE or row["deleted"]) and RUNNING & set(auctions[eid])
    ]  # fmt: skip
    deliveries = batch.suite.receiver.deliveries(batch.prefix)
    delivered = [d for d in deliveries if d["answered"] < 300]
    per_event = Counter(d["eventId"] for d in delivered)
    pairs = Counter(
        (d["externalId"], d["eventType"]) for d in {d["eventId"]: d for d in delivered}.values()
    )  # noqa: E501
    expected = batch.expected_events()
    during = [a for a in batch.answers if fault.began <= a.at <= fault.cleared]
    return {
        "items": {
            "pushed": len(batch.ids),
            "accepted": len(accepted),
            "never_accepted": sorted(set(batch.ids) - accepted),
            "lost": sorted(eid for eid in accepted if eid not in items),
            "stuck": sorted(eid for eid in accepted if eid in items and eid not in snap["final"]),
            "stuck_states": dict(
                Counter(
                    f"{items[e]['status']}/{items[e]['tradera']}"
                    for e in accepted
                    if e in items and e not in snap["final"]
                )
            ),  # fmt: skip
        },
        "auctions_per_item": {"0": per_item[0], "1": per_item[1], "2+": per_item[2]},
        "double_auctions": sorted(e for e in accepted if len(auctions.get(e, [])) >= 2),
        "running_on_not_for_sale": sorted(not_for_sale),
        "events": {
            "expected": len(expected),
            "received": len(expected & set(pairs)),
            "missing": len(expected - set(pairs)),
            "deliveries": len(deliveries),
            "answered_503": sum(1 for d in deliveries if d["answered"] >= 300),
            "duplicated": sum(n - 1 for n in per_event.values()),
            "same_event_twice_under_two_ids": sum(n - 1 for n in pairs.values()),
            "unexpected": dict(
                Counter(t for (e, t) in pairs if (e, t) not in expected)
            ),  # fmt: skip
            "valid_signature": sum(1 for d in deliveries if d["valid"]),
            "invalid_signature": sum(1 for d in deliveries if not d["valid"]),
        },
        "answers": {
            "all": _status_counts(batch.answers),
            "during_fault": _status_counts(during),
            "5xx_for_committed_change": _committed_5xx(batch, items),
        },
        "fault": {"seconds": round(fault.cleared - fault.began, 1), **fault.notes},
        "recovery_seconds": None if done_at is None else round(max(0, done_at - fault.cleared), 1),
    }


def _status_counts(answers: list[Answer]) -> dict:
    return dict(sorted(Counter(f"{a.kind} {a.status}" for a in answers).items()))


def _committed_5xx(batch: Batch, items: dict) -> list[str]:
    """Items whose change had committed when a 5xx (or no answer) told the partner it
    had not: a created item made before the answer, a sale marked before it."""
    found = set()
    for a in batch.answers:
        if isinstance(a.status, int) and a.status < 500:
            continue
        row = items.get(a.external_id)
        if row is None:
            continue
        if (a.kind == "put" and row["created"] <= a.at) or (
            a.kind == "patch" and row["status"] == "sold" and row["status_changed"] <= a.at
        ):
            found.add(a.external_id)
    return sorted(found)


def verdict(result: dict) -> dict[str, bool]:
    """Each part of the goal: True when met."""
    items, events = result["items"], result["events"]
    checks = {
        "0 lost": not items["lost"],
        "0 stuck": not items["stuck"],
        "0 double auctions": not result["double_auctions"],
        "0 auctions running on a part not for sale": not result["running_on_not_for_sale"],
        "every event delivered": events["missing"] == 0,
        "every signature valid": events["invalid_signature"] == 0,
        "no 5xx for a committed change": not result["answers"]["5xx_for_committed_change"],
        "recovery within 3 minutes": result["recovery_seconds"] is not None
        and result["recovery_seconds"] <= RECOVERY_GOAL_SECONDS,
        "no process died by itself": not result["processes_died"],
    }
    checks.update(result.get("extra_checks", {}))
    return checks
