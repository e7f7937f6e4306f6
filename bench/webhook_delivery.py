"""Webhook delivery throughput to a local receiver, and whether one endpoint that never
answers slows the others (see bench/README.md, "Webhook delivery benchmark").

    .venv/bin/python bench/webhook_delivery.py          # from /work/main, ~2.5 min

What one run does, all on 127.0.0.1 and bounded in time:
  1. drops and recreates the PostgreSQL database rheo_bench_webhooks, migrates it, flushes
     Redis db 3;
  2. starts two receivers, each a process of its own (asyncio, stdlib only): a healthy one
     that answers every POST with 200 at once, and a dead one that accepts the connection,
     reads the request and never answers;
  3. creates --partners healthy partners, each with a live item and a webhook endpoint on
     the healthy receiver (a path of its own), and one partner whose endpoint is the dead
     receiver, through the project's services (partners.services.create_partner,
     items.services.upsert_item, webhooks.services.configure_endpoint);
  4. measures the healthy receiver alone with a threaded Python client (baseline);
  5. starts the webhooks worker as the Procfile does (celery -A rheo worker -n webhooks@%h
     --loglevel=INFO --queues=webhooks --pool=threads --concurrency=16). No beat, so no
     sweeper: every attempt is started by the nudge emit sent after commit, or by the
     worker's own put-back and retry nudges;
  6. runs the phases one after the other with that one worker. Events are emitted with
     webhooks.services.emit, one committed transaction per event (so each sends its nudge
     after commit), by a separate process. Each phase has two parts:
       backlog  the worker's consumer of the webhooks queue is cancelled (Celery remote
                control), the events are emitted, then the consumer is added back and the
                clock runs until every healthy delivery has succeeded (the database is
                polled): deliveries per second, without the emitter's CPU in the way;
       paced    events emitted at a fixed rate (--paced-rate) while the worker delivers:
                latency from the event's created_at to the end of the succeeding attempt.
     The phases:
       warm-up  --warmup-events healthy events, a backlog part only (not measured);
       A        --events healthy events (backlog), round robin over the healthy partners,
                then the paced part;
       B        the same, plus events for the dead partner, interleaved evenly with the
                healthy ones (--dead-events in the backlog, the same proportion in the
                paced part); healthy deliveries are measured exactly as in A;
       then the dead endpoint is turned off (configure_endpoint enabled=False, which fails
       its pending deliveries) and its hanging attempts are let time out;
       A2       A again, to see how much the figures drift within one run;
  7. prints the table, writes bench/results/webhook_delivery-<time>.json, stops everything,
     flushes Redis db 3 and drops the database (unless --keep-db).
Subprocesses are stopped (whole process groups), and the database and Redis db cleaned, even
when a step fails or on Ctrl-C/SIGTERM.

The same file is also the helper that runs inside Django (`_helper setup|emit|disable`) and
the receivers (`_receiver ok|hang`); those are internal.
"""

import argparse
import asyncio
import http.client
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import CELERY, HOST, PYTHON, Process, log  # noqa: E402
from bench.common import percentile as pct  # noqa: E402

SELF = str(Path(__file__).resolve())

DB_NAME = "rheo_bench_webhooks"
DATABASE_URL, PG_URL = common.database_urls(DB_NAME)
REDIS_URL = "redis://127.0.0.1:6379/3"
QUEUE = "webhooks"

HEALTHY_NAME = "Bench webhooks partner {}"
DEAD_NAME = "Bench webhooks dead partner"
ITEM_ID = "WH-BENCH-ITEM"


# --- receivers (run as `_receiver ok|hang PORT`, each in a process of its own) ----------


def run_receiver(kind: str, port: int) -> None:
    """HTTP/1.1 on asyncio, stdlib only. `ok` answers every POST with 200 at once (and keeps
    the connection open for the next request); `hang` reads the request and never answers,
    until the client gives up and closes. Both answer GET /stats (and GET /stats/reset,
    which also restarts max_open) with their counters; `open` and `max_open` count only
    connections that have sent a POST."""
    stats = {"posts": 0, "connections": 0, "open": 0, "max_open": 0, "paths": 0}
    paths: set[str] = set()
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

    async def handle(reader, writer):
        stats["connections"] += 1
        counted = False
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, target, _version = request_line.split(" ", 2)
                length = 0
                for line in lines:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                if method == "GET" and target.startswith("/stats"):
                    body = json.dumps(stats).encode()
                    if target == "/stats/reset":
                        stats["max_open"] = stats["open"]
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        + f"Content-Length: {len(body)}\r\n\r\n".encode()
                        + body
                    )
                    await writer.drain()
                    continue
                if not counted:
                    counted = True
                    stats["open"] += 1
                    stats["max_open"] = max(stats["max_open"], stats["open"])
                stats["posts"] += 1
                paths.add(target)
                stats["paths"] = len(paths)
                if kind == "hang":
                    await reader.read()  # returns when the client closes the connection
                    return
                writer.write(ok)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            if counted:
                stats["open"] -= 1
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, HOST, port, backlog=1024)
        print("READY", flush=True)
        async with server:
            await server.serve_forever()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(main())


def receiver_stats(port: int, reset: bool = False) -> dict:
    return common.get_json(port, "/stats/reset" if reset else "/stats")


# --- inside Django (run as `_helper ...` with the bench environment) ---------------------


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rheo.settings")
    import django

    django.setup()


def helper_setup(partners: int, healthy_url: str, dead_url: str) -> None:
    """The partners, their items and endpoints, through the project's services."""
    _django()
    from items.services import upsert_item
    from partners.services import create_partner
    from webhooks.models import all_event_types
    from webhooks.services import configure_endpoint

    content = common.item_content()
    out = {"healthy_endpoints": [], "dead_endpoint": None}
    names = [HEALTHY_NAME.format(i) for i in range(partners)] + [DEAD_NAME]
    for i, name in enumerate(names):
        dead = name == DEAD_NAME
        partner, _user = create_partner(name=name, email=f"wh{i}@bench.invalid")
        upsert_item(
            partner=partner,
            livemode=True,
            external_id=ITEM_ID,
            content=content,
            auto_publish_tradera=False,
        )
        endpoint = configure_endpoint(
            partner=partner,
            livemode=True,
            url=dead_url if dead else f"{healthy_url}/hooks/partner-{i}",
            enabled=True,
            event_types=all_event_types(),
        )
        if dead:
            out["dead_endpoint"] = str(endpoint.pk)
        else:
            out["healthy_endpoints"].append(str(endpoint.pk))
    print("SETUP " + json.dumps(out), flush=True)


def helper_emit(healthy_events: int, dead_events: int, threads: int, rate: float) -> None:
    """Emit listing.created events: `healthy_events` round robin over the healthy partners,
    `dead_events` for the dead partner spread evenly among them. Each emit is its own
    committed transaction, so each sends its nudge after commit, as in the app. With a
    `rate` (events/s), event i is emitted at start + i/rate; otherwise as fast as the
    threads go."""
    _django()
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from items.models import Item
    from webhooks import services

    items = {
        item.partner.name: item
        for item in Item.objects.select_related("partner").filter(external_id=ITEM_ID)
    }
    dead = items.pop(DEAD_NAME)
    healthy = sorted(items.values(), key=lambda item: int(item.partner.name.rsplit(" ", 1)[1]))
    sequence = [healthy[i % len(healthy)] for i in range(healthy_events)]
    if dead_events:
        total = healthy_events + dead_events
        slots = {int((k + 0.5) * total / dead_events) for k in range(dead_events)}
        rest = iter(sequence)
        sequence = [dead if pos in slots else next(rest, dead) for pos in range(total)]

    def emit_share(offset: int, start: float) -> None:
        try:
            for i in range(offset, len(sequence), threads):
                if rate:
                    delay = start + i / rate - time.time()
                    if delay > 0:
                        time.sleep(delay)
                item = sequence[i]
                services.emit(
                    item.partner,
                    "listing.created",
                    item,
                    tradera_ad_id="398271634",
                    tradera_ad_url="https://www.tradera.com/item/398271634",
                )
        finally:
            connection.close()

    start = time.time()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(emit_share, t, start) for t in range(threads)]:
            future.result()
    end = time.time()
    dead_count = sum(item is dead for item in sequence)
    print(
        "EMIT "
        + json.dumps(
            {"start": start, "end": end, "healthy": len(sequence) - dead_count, "dead": dead_count}
        ),
        flush=True,
    )


def helper_disable_dead() -> None:
    _django()
    from partners.models import Partner
    from webhooks.models import WebhookEndpoint
    from webhooks.services import configure_endpoint

    endpoint = WebhookEndpoint.objects.get(partner__name=DEAD_NAME, livemode=True)
    configure_endpoint(
        partner=Partner.objects.get(name=DEAD_NAME),
        livemode=True,
        url=endpoint.url,
        enabled=False,
        event_types=endpoint.event_types,
    )
    print("DISABLED", flush=True)


# --- the world: database, Redis, processes -----------------------------------------------


def app_env(var_dir: str, timeout: float | None) -> dict:
    extra = {"RHEO_WEBHOOK_TIMEOUT_SECONDS": str(timeout)} if timeout is not None else {}
    return common.app_env(
        var_dir, DATABASE_URL, REDIS_URL, "rheo.settings", RHEO_ALLOW_LOCAL_URLS="1", **extra
    )


def run_helper(env: dict, *args: str, timeout: float = 300) -> str:
    proc = subprocess.run(
        [PYTHON, SELF, "_helper", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"helper {args} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


class Consumer:
    """Turns the worker's consumer of the webhooks queue off and on (Celery remote control
    over the broker), so a backlog can be queued while the worker idles."""

    def __init__(self, node: str):
        from celery import Celery

        self.app = Celery("bench-control", broker=REDIS_URL)
        self.node = node

    def _check(self, replies: list) -> None:
        if not replies or "ok" not in replies[0].get(self.node, {}):
            raise RuntimeError(f"remote control of {self.node} failed: {replies}")

    def off(self) -> None:
        self._check(
            self.app.control.cancel_consumer(QUEUE, destination=[self.node], reply=True, timeout=10)
        )

    def on(self) -> None:
        self._check(
            self.app.control.add_consumer(QUEUE, destination=[self.node], reply=True, timeout=10)
        )


def baseline(port: int, seconds: float, threads: int, body: bytes) -> dict:
    """The healthy receiver alone: `threads` Python threads POST a webhook-sized body as
    fast as they can, a new connection per POST (as rheo.outbound does)."""
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def client(n: int) -> None:
        while time.monotonic() < stop:
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
            conn.request("POST", f"/baseline/{n}", body=body)
            conn.getresponse().read()
            conn.close()
            counts[n] += 1

    started = time.monotonic()
    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    return {"threads": threads, "seconds": round(elapsed, 2), "posts": sum(counts),
            "rps": sum(counts) / elapsed}  # fmt: skip


# --- CPU accounting -------------------------------------------------------------------


def cpu_snapshot(pids: dict[str, list[int]]) -> dict:
    out = {name: sum(common.proc_cpu_seconds(pid) for pid in ps) for name, ps in pids.items()}
    out.update(
        postgres=common.postgres_cpu_seconds(),
        postgres_background=sum(common.proc_cpu_seconds(pid) for pid in _postgres_background()),
        redis=common.redis_cpu_seconds(),
        emitter=common.rusage_seconds(resource.RUSAGE_CHILDREN),  # emit helpers (reaped by then)
        driver=common.rusage_seconds(resource.RUSAGE_SELF),
        **common.machine_cpu_seconds(),
    )
    return out


def _postgres_background() -> list[int]:
    """PostgreSQL's own processes (checkpointer, WAL writer, autovacuum...), not backends."""
    pids = []
    for pid in common.pids_named("postgres"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if re.search(r"checkpointer|writer|autovacuum|logical replication|stats|archiver", cmd):
            pids.append(pid)
    return pids


def cpu_delta(before: dict, after: dict, per: int) -> dict:
    """ms of CPU per `per` (deliveries) by component; the machine's busy share; and
    `others`: busy CPU that none of the listed components used (other work on the machine,
    the kernel's own threads)."""
    out = {
        name: round((after[name] - before[name]) * 1000 / max(per, 1), 2)
        for name in before
        if not name.startswith("_")
    }
    busy = after["_machine_busy"] - before["_machine_busy"]
    ours = sum(
        after[n] - before[n]
        for n in before
        if not n.startswith("_") and n != "postgres_background"  # part of "postgres"
    )
    out["others"] = round((busy - ours) * 1000 / max(per, 1), 2)
    total = after["_machine_total"] - before["_machine_total"]
    out["machine_busy_share"] = round(busy / total, 3)
    out["others_share"] = round((busy - ours) / total, 3)  # of both cores
    return out


# --- one phase -------------------------------------------------------------------------


def latency_summary(values: list[float]) -> dict:
    return {
        "p50": round(pct(values, 50), 1),
        "p95": round(pct(values, 95), 1),
        "p99": round(pct(values, 99), 1),
        "max": round(max(values), 1),
        "mean": round(statistics.fmean(values), 1),
    }


TASK_RECEIVED = re.compile(r"Task webhooks\.deliver\[[^\]]+\] received")


class Phase:
    def __init__(self, env, world, worker, consumer, pids, ports, args):
        self.env, self.world, self.worker, self.consumer = env, world, worker, consumer
        self.pids, self.ports, self.args = pids, ports, args

    def tasks_received(self) -> int:
        return len(TASK_RECEIVED.findall(self.worker.text()))

    def start_emitter(self, healthy: int, dead: int, threads: int, rate: float):
        return subprocess.Popen(
            [PYTHON, SELF, "_helper", "emit", str(healthy), str(dead), str(threads), str(rate)],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip

    @staticmethod
    def emitter_result(emitter) -> dict:
        stdout, stderr = emitter.communicate()
        if emitter.returncode != 0:
            raise RuntimeError(f"emitter failed:\n{stdout}\n{stderr}")
        return common.tagged_json(stdout, "EMIT")

    def wait_healthy(self, conn, since: datetime, expected: int, emitter=None) -> dict | None:
        """Poll until `expected` healthy deliveries created since `since` have succeeded
        (and the emitter, if any, is done). Returns the emitter's report."""
        emitted = None
        deadline = time.monotonic() + self.args.phase_timeout
        try:
            while True:
                if emitter is not None and emitted is None and emitter.poll() is not None:
                    emitted = self.emitter_result(emitter)
                done = conn.execute(
                    "SELECT count(*) FROM webhooks_delivery WHERE status = 'succeeded'"
                    " AND endpoint_id = ANY(%s::uuid[]) AND created_at >= %s",
                    (self.world["healthy_endpoints"], since),
                ).fetchone()[0]
                if done >= expected and (emitter is None or emitted is not None):
                    return emitted
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{done}/{expected} healthy deliveries succeeded after "
                        f"{self.args.phase_timeout} s; worker log:\n{self.worker.tail()}"
                    )
                time.sleep(0.1)
        finally:
            if emitter is not None and emitter.poll() is None:
                os.killpg(emitter.pid, signal.SIGKILL)
                emitter.wait()

    def healthy_rows(self, conn, since: datetime) -> list[tuple]:
        """(created_at, end of the succeeding attempt, attempts, put back at least once) in
        epoch seconds, for the healthy deliveries created since `since`."""
        return conn.execute(
            "SELECT extract(epoch FROM d.created_at)::float8,"
            " extract(epoch FROM a.started_at)::float8 + a.duration_ms / 1000.0, d.attempts,"
            " d.nudged_at > d.created_at"
            " FROM webhooks_delivery d JOIN webhooks_deliveryattempt a"
            "  ON a.delivery_id = d.id AND a.number = d.attempts"
            " WHERE d.endpoint_id = ANY(%s::uuid[]) AND d.created_at >= %s"
            "  AND d.status = 'succeeded'",
            (self.world["healthy_endpoints"], since),
        ).fetchall()

    def dead_attempts(self, conn, since: datetime, until: datetime) -> int:
        """Attempts to the dead endpoint that started in [since, until] and have ended."""
        return conn.execute(
            "SELECT count(*) FROM webhooks_deliveryattempt a JOIN webhooks_delivery d"
            " ON d.id = a.delivery_id WHERE d.endpoint_id = %s AND a.started_at >= %s"
            " AND a.started_at <= %s",
            (self.world["dead_endpoint"], since, until),
        ).fetchone()[0]

    def run(self, name: str, healthy: int, dead: int, paced: bool = True) -> dict:
        import psycopg

        args = self.args
        result = {"phase": name, "healthy_events": healthy, "dead_events": dead}
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            phase_start = datetime.now(UTC)
            tasks_at_start = self.tasks_received()

            # backlog: queue everything with the consumer off, then let the worker drain it
            self.consumer.off()
            backlog_start = datetime.now(UTC)
            emitter = self.start_emitter(healthy, dead, args.emit_threads, 0)
            emitted = self.wait_healthy(conn, backlog_start, 0, emitter)
            conn.execute("CHECKPOINT")
            time.sleep(0.5)
            receiver_stats(self.ports["healthy"], reset=True)
            cpu_before = cpu_snapshot(self.pids)
            tasks_before = self.tasks_received()
            released = time.time()
            self.consumer.on()
            self.wait_healthy(conn, backlog_start, healthy)
            drained = datetime.now(UTC)
            cpu_after = cpu_snapshot(self.pids)
            rows = self.healthy_rows(conn, backlog_start)
            window = max(r[1] for r in rows) - released
            result["backlog"] = {
                "emit_s": round(emitted["end"] - emitted["start"], 2),
                "emitted": emitted,
                "succeeded": len(rows),
                "window_s": round(window, 3),
                "deliveries_per_s": len(rows) / window,
                "done_after_release_ms": latency_summary([(r[1] - released) * 1000 for r in rows]),
                "put_back": sum(1 for r in rows if r[3]),
                "more_than_one_attempt": sum(1 for r in rows if r[2] > 1),
                "worker_tasks_received": self.tasks_received() - tasks_before,
                "cpu_ms_per_healthy_delivery": cpu_delta(cpu_before, cpu_after, len(rows)),
                "healthy_receiver_max_open": receiver_stats(self.ports["healthy"])["max_open"],
            }
            if dead:
                result["backlog"]["dead_attempts_recorded"] = self.dead_attempts(
                    conn, backlog_start, drained
                )
            b = result["backlog"]
            log(
                f"  {name} backlog: {len(rows)} healthy deliveries in {window:.2f} s = "
                f"{b['deliveries_per_s']:.1f}/s (emit {b['emit_s']:.1f} s); done after release "
                f"p50 {b['done_after_release_ms']['p50']:.0f} ms p95 "
                f"{b['done_after_release_ms']['p95']:.0f} ms; put back {b['put_back']}; "
                f"worker tasks {b['worker_tasks_received']}"
            )
            log(f"    CPU ms per healthy delivery: {b['cpu_ms_per_healthy_delivery']}")

            # paced: a fixed rate while the worker delivers; latency from created_at
            if paced and args.paced_rate and args.paced_seconds:
                n = int(args.paced_rate * args.paced_seconds)
                n_dead = round(n * dead / healthy) if dead else 0
                rate = args.paced_rate * (n + n_dead) / n
                time.sleep(0.5)
                paced_start = datetime.now(UTC)
                cpu_before = cpu_snapshot(self.pids)
                tasks_before = self.tasks_received()
                dead_posts_before = receiver_stats(self.ports["dead"])["posts"]
                emitter = self.start_emitter(n, n_dead, args.emit_threads, rate)
                emitted = self.wait_healthy(conn, paced_start, n, emitter)
                cpu_after = cpu_snapshot(self.pids)
                tasks = self.tasks_received() - tasks_before
                dead_posts = receiver_stats(self.ports["dead"])["posts"] - dead_posts_before
                seconds = time.time() - paced_start.timestamp()
                rows = sorted(self.healthy_rows(conn, paced_start))
                lat = [(r[1] - r[0]) * 1000 for r in rows]
                quarter = max(1, len(lat) // 4)
                result["paced"] = {
                    "rate": args.paced_rate,
                    "healthy": n,
                    "dead": n_dead,
                    "emitted": emitted,
                    "emit_s": round(emitted["end"] - emitted["start"], 2),
                    "succeeded": len(rows),
                    "latency_ms": latency_summary(lat),
                    # by emission order: does the worker keep up, or does a queue grow?
                    "latency_p50_first_quarter_ms": round(pct(lat[:quarter], 50), 1),
                    "latency_p50_last_quarter_ms": round(pct(lat[-quarter:], 50), 1),
                    "put_back": sum(1 for r in rows if r[3]),
                    "seconds": round(seconds, 2),
                    "worker_tasks_received": tasks,
                    "worker_tasks_per_s": round(tasks / seconds, 1),
                    # tasks that were neither a healthy attempt nor a dead one: put-backs
                    # (and any duplicate nudge)
                    "other_tasks": tasks - len(rows) - dead_posts,
                    "dead_attempts_started": dead_posts,
                    "cpu_ms_per_healthy_delivery": cpu_delta(cpu_before, cpu_after, len(rows)),
                }
                p = result["paced"]
                log(
                    f"  {name} paced {args.paced_rate}/s: {len(rows)} healthy, latency p50 "
                    f"{p['latency_ms']['p50']:.0f} ms p95 {p['latency_ms']['p95']:.0f} ms max "
                    f"{p['latency_ms']['max']:.0f} ms (p50 first/last quarter "
                    f"{p['latency_p50_first_quarter_ms']:.0f}/{p['latency_p50_last_quarter_ms']:.0f}"
                    f" ms); worker tasks {tasks} ({p['worker_tasks_per_s']}/s, other than "
                    f"attempts {p['other_tasks']}); put back {p['put_back']}"
                )
                log(f"    CPU ms per healthy delivery: {p['cpu_ms_per_healthy_delivery']}")
            phase_end = datetime.now(UTC)
            result["worker_tasks_received"] = self.tasks_received() - tasks_at_start
            if dead:
                hang = receiver_stats(self.ports["dead"])
                result["dead"] = {
                    "deliveries": conn.execute(
                        "SELECT count(*) FROM webhooks_delivery WHERE endpoint_id = %s",
                        (self.world["dead_endpoint"],),
                    ).fetchone()[0],
                    "attempts_ended": self.dead_attempts(conn, phase_start, phase_end),
                    "attempts_hanging_at_end": hang["open"],
                    "posts_received": hang["posts"],
                    "max_concurrent": hang["max_open"],
                }
                log(f"    dead endpoint during {name}: {result['dead']}")
        return result


# --- report ----------------------------------------------------------------------------


def print_report(report: dict) -> None:
    args = report["args"]
    print()
    print(
        f"Webhook delivery, {report['date']}, {report['machine']['nproc']} cores, commit "
        f"{report['source']['commit'] or 'unknown'}"
        f"{' with local changes' if report['source']['dirty'] else ''}; "
        f"{args['partners']} healthy partners, worker --pool=threads "
        f"--concurrency={args['concurrency']}, attempt timeout {report['webhook_timeout_s']} s"
    )
    base = report["baseline"]
    print(
        f"baseline: the healthy receiver alone, {base['threads']} Python client threads: "
        f"{base['rps']:.0f} POST/s"
    )
    header = (
        f"{'phase':>5} | {'dead':>4} | {'backlog deliv/s':>15} | {'done p50/p95 ms':>15} | "
        f"{'put back':>8} | {'tasks':>5} | {'worker ms':>9} | {'busy':>4} | {'other':>5} | "
        f"{'paced p50/p95/max ms':>20} | {'tasks/s':>7} | {'busy':>4} | {'other':>5}"
    )
    print(header)
    print("-" * len(header))
    for p in report["phases"]:
        b = p["backlog"]
        done = b["done_after_release_ms"]
        cpu = b["cpu_ms_per_healthy_delivery"]
        cells = (
            f"{p['phase']:>5} | {p['dead_events']:>4} | {b['deliveries_per_s']:>15.1f} | "
            f"{done['p50']:>7.0f}/{done['p95']:<7.0f} | {b['put_back']:>8} | "
            f"{b['worker_tasks_received']:>5} | {cpu['worker']:>9.2f} | "
            f"{cpu['machine_busy_share']:>4.0%} | {cpu['others_share']:>5.0%}"
        )
        if "paced" in p:
            lat = p["paced"]["latency_ms"]
            paced = f"{lat['p50']:.0f}/{lat['p95']:.0f}/{lat['max']:.0f}"
            pcpu = p["paced"]["cpu_ms_per_healthy_delivery"]
            cells += (
                f" | {paced:>20} | {p['paced']['worker_tasks_per_s']:>7.1f} | "
                f"{pcpu['machine_busy_share']:>4.0%} | {pcpu['others_share']:>5.0%}"
            )
        print(cells)
    print()
    print(
        f"healthy backlog throughput with the dead endpoint / without: B/A "
        f"{report['ratio_b_a']:.1%}"
        + (f", B/A2 {report['ratio_b_a2']:.1%}" if "ratio_b_a2" in report else "")
    )
    for p in report["phases"]:
        if "paced" in p:
            q = p["paced"]
            print(
                f"paced {p['phase']}: {q['healthy']} healthy + {q['dead']} dead events at "
                f"{q['rate']:g} healthy/s; healthy latency p50 {q['latency_ms']['p50']:.0f} ms "
                f"(first quarter {q['latency_p50_first_quarter_ms']:.0f}, last quarter "
                f"{q['latency_p50_last_quarter_ms']:.0f}), p95 {q['latency_ms']['p95']:.0f} ms; "
                f"worker tasks {q['worker_tasks_received']} ({q['other_tasks']} put-backs), "
                f"worker CPU {q['cpu_ms_per_healthy_delivery']['worker']:.1f} ms and PostgreSQL "
                f"{q['cpu_ms_per_healthy_delivery']['postgres']:.1f} ms per healthy delivery"
            )
    if report.get("paced_p95_b_a"):
        print(f"paced p95 latency B/A: {report['paced_p95_b_a']:.2f}")
    print(
        "(busy: share of both cores in use; other: share used by processes outside this "
        "benchmark, i.e. other work on the machine)"
    )
    b = next(p for p in report["phases"] if p["phase"] == "B")
    d = b["dead"]
    print(
        f"dead endpoint in B: {d['deliveries']} deliveries; {d['posts_received']} attempts "
        f"reached it ({d['attempts_ended']} timed out within B, {d['attempts_hanging_at_end']} "
        f"still hanging at its end), at most {d['max_concurrent']} at once"
    )
    check = report["sanity"]
    print(
        f"sanity: {check['healthy_deliveries_succeeded']} healthy deliveries succeeded, the "
        f"healthy receiver got {check['healthy_receiver_posts']} POSTs (one per delivery: "
        f"{check['one_post_per_delivery']})"
    )
    if report.get("foreign_processes"):
        print(f"other work seen on the machine: {report['foreign_processes']}")
    else:
        print("other work seen on the machine: none")


# --- main ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partners", type=int, default=20, help="healthy partners")
    parser.add_argument(
        "--events", type=int, default=2000, help="healthy events in each phase's backlog"
    )
    parser.add_argument(
        "--dead-events", type=int, default=200, help="dead partner's events in B's backlog"
    )
    parser.add_argument("--warmup-events", type=int, default=200)
    parser.add_argument(
        "--paced-rate", type=float, default=40, help="healthy events/s in the paced part"
    )
    parser.add_argument("--paced-seconds", type=float, default=10)
    parser.add_argument(
        "--concurrency", type=int, default=16, help="worker threads (the Procfile's default)"
    )
    parser.add_argument("--emit-threads", type=int, default=2, help="threads of the emitter")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="RHEO_WEBHOOK_TIMEOUT_SECONDS (unset: the app's default, 10 s)",
    )
    parser.add_argument("--baseline-seconds", type=float, default=3.0)
    parser.add_argument(
        "--phase-timeout", type=float, default=120.0, help="give up on a part after this"
    )
    parser.add_argument("--skip-a2", action="store_true", help="skip the second A phase")
    parser.add_argument("--keep-db", action="store_true", help="leave the database in place")
    parser.add_argument(
        "--commit",
        default=None,
        help="the commit measured, when running from a `git archive` export (no git there); "
        "recorded in the JSON and its file name",
    )
    common.add_wait_quiet_option(parser)
    args = parser.parse_args()

    common.unwind_on_sigterm()
    watch = common.Watch()
    common.wait_for_quiet(watch, args.wait_quiet)
    report = common.begin_report(args, common.machine_info(REDIS_URL), args.commit)
    report.update(webhook_timeout_s=args.timeout or 10.0, phases=[])
    if report["machine"]["loadavg_at_start"][0] > 0.5:
        log(f"warning: load average {report['machine']['loadavg_at_start']} before start")
    scratch = common.scratch("rheo-bench-webhooks-", DB_NAME, REDIS_URL, args.keep_db)
    with scratch as tmp, watch:
        env = app_env(tmp, args.timeout)
        ports = {"healthy": common.free_port(), "dead": common.free_port()}
        common.recreate_database(DB_NAME)
        common.flush_redis(REDIS_URL)
        log(f"database {DB_NAME} recreated; migrating")
        common.migrate(env)
        ok_cmd = [PYTHON, SELF, "_receiver", "ok", str(ports["healthy"])]
        hang_cmd = [PYTHON, SELF, "_receiver", "hang", str(ports["dead"])]
        with (
            Process("healthy receiver", ok_cmd, env, f"{tmp}/ok.log", 5) as ok_rx,
            Process("dead receiver", hang_cmd, env, f"{tmp}/hang.log", 5) as hang_rx,
        ):
            ok_rx.wait_for_line("READY", 15)
            hang_rx.wait_for_line("READY", 15)
            out = run_helper(
                env,
                "setup",
                str(args.partners),
                f"http://{HOST}:{ports['healthy']}",
                f"http://{HOST}:{ports['dead']}/hooks/dead",
            )
            world = common.tagged_json(out, "SETUP")
            log(
                f"{args.partners} healthy partners on :{ports['healthy']}, "
                f"one dead on :{ports['dead']}"
            )
            body = json.dumps({"eventId": "evt_" + "0" * 26, "data": "x" * 330}).encode()
            watch.phase = "baseline"
            report["baseline"] = baseline(ports["healthy"], args.baseline_seconds, 16, body)
            log(f"baseline: {report['baseline']}")

            worker_cmd = [
                CELERY, "-A", "rheo", "worker", "-n", "webhooks@%h", "--loglevel=INFO",
                "--queues=webhooks", "--pool=threads", f"--concurrency={args.concurrency}",
            ]  # fmt: skip
            timeout = report["webhook_timeout_s"]
            log_path = f"{tmp}/worker.log"
            with Process("worker", worker_cmd, env, log_path, timeout + 10) as worker:
                node = worker.wait_for_line(r"(webhooks@\S+) ready", 60).group(1)
                log(f"worker {node} up (pid {worker.proc.pid})")
                pids = {
                    "worker": [worker.proc.pid],
                    "receivers": [ok_rx.proc.pid, hang_rx.proc.pid],
                }
                phase = Phase(env, world, worker, Consumer(node), pids, ports, args)
                if args.warmup_events:
                    watch.phase = "warm-up"
                    report["warmup"] = phase.run("warm-up", args.warmup_events, 0, False)
                for name, dead in (("A", 0), ("B", args.dead_events)):
                    watch.phase = name
                    report["phases"].append(phase.run(name, args.events, dead))
                watch.phase = "dead endpoint off"
                run_helper(env, "disable")
                log("dead endpoint turned off; waiting for its hanging attempts to end")
                deadline = time.monotonic() + timeout + 15
                while receiver_stats(ports["dead"])["open"] and time.monotonic() < deadline:
                    time.sleep(0.5)
                if not args.skip_a2:
                    watch.phase = "A2"
                    report["phases"].append(phase.run("A2", args.events, 0))
                watch.phase = "shutdown"
                report["worker_log_problems"] = common.log_problems(worker.text())
            report["healthy_receiver"] = receiver_stats(ports["healthy"])
            report["dead_receiver"] = receiver_stats(ports["dead"])

    report["foreign_processes"] = watch.summary()
    parts = [report.get("warmup", {}).get("backlog")] + [
        part for p in report["phases"] for part in (p.get("backlog"), p.get("paced"))
    ]
    succeeded = sum(part["succeeded"] for part in parts if part)
    posts = report["healthy_receiver"]["posts"] - report["baseline"]["posts"]
    report["sanity"] = {
        "healthy_deliveries_succeeded": succeeded,
        "healthy_receiver_posts": posts,
        "one_post_per_delivery": posts == succeeded,
    }
    phases = {p["phase"]: p for p in report["phases"]}
    tput = {name: p["backlog"]["deliveries_per_s"] for name, p in phases.items()}
    report["ratio_b_a"] = tput["B"] / tput["A"]
    if "A2" in tput:
        report["ratio_b_a2"] = tput["B"] / tput["A2"]
    if "paced" in phases["A"] and "paced" in phases["B"]:
        report["paced_p95_b_a"] = (
            phases["B"]["paced"]["latency_ms"]["p95"] / phases["A"]["paced"]["latency_ms"]["p95"]
        )
    report["machine"]["loadavg_at_end"] = os.getloadavg()
    print_report(report)
    out = common.write_results(report, "webhook_delivery", args.commit)
    log(f"results written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_receiver":
        run_receiver(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_helper":
        command, rest = sys.argv[2], sys.argv[3:]
        if command == "setup":
            helper_setup(int(rest[0]), rest[1], rest[2])
        elif command == "emit":
            helper_emit(int(rest[0]), int(rest[1]), int(rest[2]), float(rest[3]))
        elif command == "disable":
            helper_disable_dead()
    else:
        sys.exit(main())
