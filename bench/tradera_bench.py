"""The Tradera benchmark (issue 5; see bench/README.md, "Tradera benchmark"): how long an
item takes from PUT to `listing.created` in a burst, and what one sync pass over a large
account costs, against the Tradera sandbox on a free port.

    .venv/bin/python bench/tradera_bench.py                  # both parts, ~4 min quiet
    .venv/bin/python bench/tradera_bench.py --part publish   # or --part sync
    .venv/bin/python bench/tradera_bench.py --part budget    # Tradera calls per item

What one run does, all on 127.0.0.1 and bounded in time:
  1. makes sure the image cache holds enough distinct photo-like JPEGs (the generator of
     bench/pipeline_throughput.py, same cache);
  2. drops and recreates the PostgreSQL database rheo_bench_tradera, migrates it, flushes
     Redis db 6; starts the Tradera sandbox (`python -m tradera.sandbox`, its own SQLite
     file, real-time auctions, --processing-seconds, a quota of 100 million calls; Rheo's
     budget for it is set as high), the image server (pipeline_throughput.py's) and a
     webhook receiver that records when each event arrives; each is a process of its own;
  Part "publish":
  3. --keys partners, each with a test API key and a test-mode webhook endpoint on the
     receiver, through the project's services;
  4. starts gunicorn, the worker (the Procfile's line: queues default,tradera,images,
     --concurrency=2: "2 workers"), the webhooks worker and beat, as the Procfile does;
  5. warm-up: a few items with Tradera, not measured;
  6. baseline: a burst of --items items without autoPublishTradera, PUT -> `active`
     (the item's status_changed_at): the pipeline without Tradera;
  7. the burst: --items items with autoPublishTradera, PUT -> `listing.created` as the
     receiver got it; also where each item's time went (PUT -> active -> auction live ->
     webhook received);
  8. paced: --paced-items items at --paced-rate a second with Tradera: one item's latency
     without a queue in front of it;
  Part "sync" (the app's processes stopped):
  9. a partner with --listings running auctions (the sandbox's bulk seeding, the Rheo rows
     bulk-created), and one with --small-listings; --changed-share of each changed on the
     sandbox (half sold with a bid, half ended unsold);
 10. one sync pass (tradera.sync.sync_account, in a process of its own as the task runs
     it) over the small account, then over the large one, then the large one again
     (nothing new): wall time, the Tradera calls the sandbox received, SQL statements;
  Part "budget" (issue 15; run on its own, --part budget):
  a. one partner on the enterprise plan with a test key; the app started as in step 4;
     the sandbox's processing delay set to --import-processing-seconds (5);
  b. --import-items items (1,000) with --images-per-item images each and
     autoPublishTradera, through POST /integration/v1/items/batch, 100 a request;
  c. waits until every listing is live (or failed); the Tradera calls the sandbox
     received meanwhile, per operation, and Rheo's own budget count of them; calls per
     published item against the goal of at most 2 + images. --poll-seconds sets the
     app's TRADERA_POLL_SECONDS;
 11. prints the table, writes bench/results/tradera_bench-<time>.json, stops everything,
     flushes Redis db 6, drops the database (unless --keep-db) and removes the temporary
     folder (the sandbox's file, the hosted images).
Subprocesses run in process groups of their own and are stopped (whole groups), and the
database and Redis db cleaned, even when a step fails or on Ctrl-C/SIGTERM.

The same file is also the webhook receiver (`_receiver PORT`) and the helper that runs
inside Django (`_helper setup|seed|sync ...`); those are internal.
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench import pipeline_throughput as pipeline  # noqa: E402
from bench.common import CELERY, GUNICORN, HOST, PYTHON, Process, log  # noqa: E402

SELF = str(Path(__file__).resolve())
PIPELINE = str(Path(pipeline.__file__).resolve())

DB_NAME = "rheo_bench_tradera"
DATABASE_URL, PG_URL = common.database_urls(DB_NAME)
REDIS_URL = "redis://127.0.0.1:6379/6"
QUOTA = 100_000_000  # the sandbox's, and Rheo's budget for it: high, for the run
POLL_SECONDS: float | None = None  # --poll-seconds: the app's TRADERA_POLL_SECONDS
SUBSCRIBED = ["listing.created", "listing.failed", "item.sold", "listing.ended"]
summary = pipeline.summary
fmt = pipeline.fmt


# --- the webhook receiver (run as `_receiver PORT`, a process of its own) ------------------


def run_receiver(port: int) -> None:
    """Answers every POST with 200 at once and notes when it came: GET /events answers
    with [[eventType, externalId, time], ...] (time.time(), this machine's clock)."""
    events, lock = [], threading.Lock()

    class Handler(common.QuietHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrived = time.time()
            try:
                event = json.loads(body)
                entry = [event["eventType"], event["data"].get("externalId"), arrived]
            except (ValueError, KeyError, AttributeError):
                entry = ["unreadable", None, arrived]
            with lock:
                events.append(entry)
            self.reply(200, b"{}")

        def do_GET(self):
            with lock:
                body = json.dumps(events).encode()
            self.reply(200, body)

    common.serve(port, Handler)


def received(port: int) -> list[list]:
    return common.get_json(port, "/events")


# --- inside Django (run as `_helper ...` with the bench environment) ---------------------


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rheo.settings")
    import django

    django.setup()


def helper_setup(partners: int, receiver_url: str, keys_file: str, plan: str = "") -> None:
    """Partners with a test key each and a test-mode endpoint on the receiver (on `plan`,
    when given: the default plan holds 100 items)."""
    _django()
    from partners.services import create_api_key, create_partner
    from partners.subscriptions import change_plan
    from webhooks.services import configure_endpoint

    keys = []
    for i in range(partners):
        partner, _user = create_partner(name=f"Bench Tradera {i}", email=f"tb{i}@bench.invalid")
        if plan:
            change_plan(partner=partner, plan_code=plan, staff=True)
        keys.append(create_api_key(partner=partner, name="bench", mode="test").secret)
        configure_endpoint(
            partner=partner,
            livemode=False,
            url=f"{receiver_url}/partner-{i}",
            enabled=True,
            event_types=SUBSCRIBED,
        )
    Path(keys_file).write_text("\n".join(keys) + "\n")


def helper_seed(name: str, listings: int, changed: int, sandbox_url: str, receiver_url: str):
    """A partner whose sandbox seller runs `listings` auctions (bulk-seeded) that Rheo
    knows as active listings (bulk-created rows), `changed` of them changed on the
    sandbox: every other one sold to a bid, the rest ended unsold."""
    _django()
    from django.utils import timezone

    from items.models import Item
    from partners.services import create_partner
    from partners.subscriptions import change_plan
    from tradera.client import for_mode
    from tradera.models import TraderaAccount, TraderaListing
    from webhooks.services import configure_endpoint

    started = time.perf_counter()
    partner, _user = create_partner(name=f"Bench sync {name}", email=f"sync-{name}@bench.invalid")
    # 100,000 items are past every public plan's limit, which the database enforces.
    change_plan(partner=partner, plan_code="enterprise", staff=True)
    configure_endpoint(
        partner=partner,
        livemode=False,
        url=f"{receiver_url}/sync-{name}",
        enabled=True,
        event_types=SUBSCRIBED,
    )
    seller = for_mode(False).sandbox_seller(f"partner-{partner.pk}")
    account = TraderaAccount.objects.create(
        partner=partner, livemode=False, user_id=seller.user_id, token=seller.token
    )
    control = sandbox_url.removesuffix("v3/") + "control/"
    body = {"count": listings, "title": "Bench bromsok", "startPrice": 500, "durationDays": 14}
    item_ids = _post_json(f"{control}sellers/{seller.user_id}/auctions", body)["itemIds"]
    seeded = time.perf_counter()

    now = timezone.now()
    items = [
        Item(
            partner=partner,
            livemode=False,
            external_id=f"SYNC-{name}-{n}",
            status=Item.Status.ACTIVE,
            title=f"Bench bromsok {n + 1}",
            price=500,
            shipping_cost=149,
            content_fingerprint="bench",
            auto_publish_tradera=True,
            processing_due_at=None,
            processing_nudged_at=None,
        )
        for n in range(listings)
    ]
    copy_rows(Item, items, varying=("id", "external_id", "title"))
    copy_rows(
        TraderaListing,
        [
            TraderaListing(
                item=item,
                ad_id=str(tradera_id),
                status=TraderaListing.Status.ACTIVE,
                tradera_item_id=tradera_id,
                committed=True,
                commit_acknowledged=True,
                published_at=now,
            )
            for item, tradera_id in zip(items, item_ids, strict=True)
        ],
        varying=("item_id", "ad_id", "tradera_item_id"),
    )
    created = time.perf_counter()

    step = max(1, listings // max(changed, 1))
    touched = item_ids[::step][:changed]
    for n, tradera_id in enumerate(touched):
        if n % 2 == 0:
            _post_json(f"{control}auctions/{tradera_id}/bid", {"amount": 650, "bidder": "bench"})
        _post_json(f"{control}auctions/{tradera_id}/end", {})
    out = {
        "account_id": account.pk,
        "listings": listings,
        "changed": len(touched),
        "sold": len(touched[::2]),
        "ended_unsold": len(touched) - len(touched[::2]),
        "seed_sandbox_seconds": round(seeded - started, 2),
        "create_rows_seconds": round(created - seeded, 2),
        "change_seconds": round(time.perf_counter() - created, 2),
    }
    print("SEED " + json.dumps(out), flush=True)


def copy_rows(model, objects: list, varying: tuple[str, ...]) -> None:
    """INSERT the unsaved `objects` with PostgreSQL's COPY: every concrete field as the
    model saves it (defaults included; the automatic id left to the database), prepared
    once from the first object except the `varying` ones (attribute names). 100,000 rows
    in a few seconds, where bulk_create takes half a minute."""
    from django.db import connections
    from django.db.models import AutoField

    connection = connections["default"]
    fields = [
        f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, AutoField))
    ]
    template = [f.get_db_prep_save(f.pre_save(objects[0], add=True), connection) for f in fields]
    slots = [(n, f) for n, f in enumerate(fields) if f.attname in varying]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for obj in objects:
            row = template.copy()
            for n, field in slots:
                row[n] = field.get_db_prep_save(getattr(obj, field.attname), connection)
            copy.write_row(row)


def _post_json(url: str, body: dict) -> dict:
    import urllib.request

    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - our sandbox
        return json.loads(answer.read())


def helper_sync(account_id: int, profile_path: str) -> None:
    """One sync pass of the account, as the Celery task runs it; timed, its SQL counted,
    and (with a profile path) profiled."""
    _django()
    import cProfile

    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from tradera import sync
    from tradera.client import for_mode
    from tradera.models import TraderaListing

    budget = for_mode(False).budget
    before = budget.usage()
    profiler = cProfile.Profile() if profile_path else None
    with CaptureQueriesContext(connection) as queries:
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        result = sync.sync_account(account_id=account_id)
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profiler:
        profiler.dump_stats(profile_path)
    after = budget.usage()
    statuses = dict(
        TraderaListing.objects.filter(item__partner__tradera_accounts__pk=account_id)
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    out = {
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "sales": result.sales if result else None,
        "unsold": result.unsold if result else None,
        "failed": result is None,
        "budget_calls": {op: n - before.get(op, 0) for op, n in after.items()},
        "sql_statements": len(queries.captured_queries),
        "listing_statuses": statuses,
    }
    print("SYNC " + json.dumps(out), flush=True)


# --- the app's environment -----------------------------------------------------------------


def app_env(var_dir: str, sandbox_port: int) -> dict:
    return common.app_env(
        var_dir,
        DATABASE_URL,
        REDIS_URL,
        "rheo.settings",
        RHEO_ALLOW_LOCAL_URLS="1",
        TRADERA_SANDBOX_URL=f"http://{HOST}:{sandbox_port}/v3/",
        TRADERA_SANDBOX_DAILY_CALLS=str(QUOTA),
        **({"TRADERA_POLL_SECONDS": str(POLL_SECONDS)} if POLL_SECONDS is not None else {}),
    )


def run_helper(env: dict, *args: str, timeout: float = 600) -> str:
    proc = subprocess.run(
        [PYTHON, SELF, "_helper", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
        start_new_session=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"helper {args} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def sandbox_calls(port: int) -> dict[str, int]:
    return common.get_json(port, "/control/calls")["calls"]


def calls_between(before: dict, after: dict) -> dict[str, int]:
    return {op: n - before.get(op, 0) for op, n in after.items() if n > before.get(op, 0)}


# --- part "publish" ------------------------------------------------------------------------


class Client(pipeline.Client):
    """pipeline_throughput's PUT client, with external ids and the auto-publish flag of
    this benchmark."""

    def __init__(self, *args, publish: bool):
        super().__init__(*args)
        self.publish = publish

    def spec(self, tag: str, i: int, first_image: int) -> tuple[str, bytes]:
        base = first_image + i * self.per_item
        urls = [f"http://{HOST}:{self.image_port}/img/{base + j}.jpg" for j in range(self.per_item)]
        body = {**pipeline.ITEM_BODY, "imageUrls": urls, "autoPublishTradera": self.publish}
        return f"TRAD-{tag}-{i}", json.dumps(body).encode()


def item_rows(tag: str) -> dict[str, dict]:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT i.external_id, i.status, extract(epoch FROM i.status_changed_at)::float8,"
            " l.status, extract(epoch FROM l.published_at)::float8, l.attempts, l.error_code"
            " FROM items_item i LEFT JOIN tradera_traderalisting l ON l.item_id = i.id"
            " WHERE i.external_id LIKE %s",
            (f"TRAD-{tag}-%",),
        ).fetchall()
    return {
        r[0]: {
            "status": r[1],
            "active_at": r[2],
            "listing": r[3],
            "published_at": r[4],
            "attempts": r[5],
            "error_code": r[6],
        }
        for r in rows
    }


def wait_done(tag: str, count: int, publish: bool, receiver_port: int, timeout: float, procs):
    """Until every item of `tag` is active (no publish), or its listing.created or
    listing.failed has reached the receiver (publish), or `timeout` seconds pass."""
    import psycopg

    started = last_log = time.monotonic()
    prefix = f"TRAD-{tag}-"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        while True:
            if publish:
                events = [e for e in received(receiver_port) if (e[1] or "").startswith(prefix)]
                done = sum(e[0] in ("listing.created", "listing.failed") for e in events)
            else:
                (done,) = conn.execute(
                    "SELECT count(*) FROM items_item"
                    " WHERE external_id LIKE %s AND status = 'active'",
                    (prefix + "%",),
                ).fetchone()
            elapsed = time.monotonic() - started
            if done >= count or elapsed > timeout:
                return {"done": done, "timed_out": done < count, "seconds": round(elapsed, 1)}
            if time.monotonic() - last_log >= 10:
                log(f"    {tag}: {done}/{count} ({elapsed:.0f} s)")
                last_log = time.monotonic()
                for process in procs:
                    process.check_alive()
            time.sleep(0.25)


def phase_figures(tag: str, records: list[dict], publish: bool, receiver_port: int) -> dict:
    rows = item_rows(tag)
    arrivals: dict[str, float] = {}
    failed = 0
    for event_type, external_id, at in received(receiver_port):
        if (external_id or "").startswith(f"TRAD-{tag}-"):
            if event_type == "listing.created":
                arrivals.setdefault(external_id, at)
            failed += event_type == "listing.failed"
    latency, to_active, to_live, to_webhook, done_at = [], [], [], [], []
    for r in records:
        row = rows.get(r["external_id"]) or {}
        if row.get("active_at") and row.get("status") in ("active", "sold"):
            to_active.append(row["active_at"] - r["first_send"])
        end = arrivals.get(r["external_id"]) if publish else row.get("active_at")
        if end is None or (not publish and row.get("status") != "active"):
            continue
        latency.append(end - r["first_send"])
        done_at.append(end)
        if publish and row.get("published_at"):
            to_live.append(row["published_at"] - row["active_at"])
            to_webhook.append(end - row["published_at"])
    first_send = min(r["first_send"] for r in records)
    last_put = max(r["done"] for r in records)
    statuses: dict[str, int] = {}
    for r in records:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    out = {
        "items": len(records),
        "done": len(latency),
        "put_status": statuses,
        "put_seconds": round(last_put - first_send, 2),
        "latency_s": summary(latency),
        "put_to_active_s": summary(to_active),
    }
    if publish:
        out["active_to_live_s"] = summary(to_live)
        out["live_to_webhook_s"] = summary(to_webhook)
        out["listing_failed"] = failed
        out["publish_attempts_spent"] = sum(
            (row.get("attempts") or 0) for row in rows.values() if row.get("listing")
        )
        out["error_codes"] = sorted(
            {row["error_code"] for row in rows.values() if row.get("error_code")}
        )
    if done_at:
        out["seconds_first_put_to_last_done"] = round(max(done_at) - first_send, 2)
        out["items_per_s"] = round(len(done_at) / (max(done_at) - first_send), 2)
    return out


TASK_DONE = re.compile(r"Task ([\w.]+)\[[^\]]+\] succeeded in ([\d.]+)s", re.M)
TASK_RECEIVED = re.compile(r"Task ([\w.]+)\[[^\]]+\] received", re.M)


def worker_log_figures(text: str) -> dict:
    runs: dict[str, list[float]] = {}
    for name, seconds in TASK_DONE.findall(text):
        runs.setdefault(name, []).append(float(seconds) * 1000)
    received_: dict[str, int] = {}
    for name in TASK_RECEIVED.findall(text):
        received_[name] = received_.get(name, 0) + 1
    return {
        "received": received_,
        "run_ms": {name: summary(values) for name, values in runs.items()},
        "problems": common.log_problems(text),
    }


def start_app(args, report: dict, watch, tmp: str, env: dict, ports: dict, stack):
    """The image server, gunicorn, the worker, the webhooks worker and beat, as the
    Procfile runs them; returns (processes, their groups, worker, webhooks, beat)."""
    server = stack.enter_context(
        Process(
            "image server",
            [PYTHON, PIPELINE, "_imageserver", str(ports["images"]), report["images"]["folder"]],
            env,
            f"{tmp}/imageserver.log",
            5,
        )
    )
    server.wait_for_line("READY", 15)
    web_env = {**env, "HOST": HOST, "PORT": str(ports["web"]), "WEB_CONCURRENCY": "4"}
    web = stack.enter_context(
        Process(
            "gunicorn",
            [GUNICORN, "-c", "python:rheo.gunicorn", "rheo.wsgi"],
            web_env,
            f"{tmp}/gunicorn.log",
        )
    )
    worker_cmd = [
        CELERY, "-A", "rheo", "worker", "-n", "worker@%h", "--loglevel=INFO",
        "--queues=default,tradera,images", f"--concurrency={args.concurrency}",
    ]  # fmt: skip
    if args.profile_worker:
        # One process running the tasks itself, under cProfile counting CPU time (written
        # when it stops).
        report["worker_profile"] = os.path.join(tmp, "worker.prof")
        worker_cmd = [PYTHON, SELF, "_profiled", report["worker_profile"], *worker_cmd[1:]]
        worker_cmd += ["--pool=solo"]
    worker = stack.enter_context(
        Process("worker", worker_cmd, env, f"{tmp}/worker.log", stop_timeout=60)
    )
    hooks = stack.enter_context(
        Process(
            "webhooks",
            [CELERY, "-A", "rheo", "worker", "-n", "webhooks@%h", "--loglevel=INFO",
             "--queues=webhooks", "--pool=threads", "--concurrency=16"],
            env, f"{tmp}/webhooks.log", stop_timeout=30,
        )
    )  # fmt: skip
    beat = stack.enter_context(
        Process("beat", [CELERY, "-A", "rheo", "beat", "--loglevel=INFO"], env, f"{tmp}/beat.log")
    )
    procs = [server, web, worker, hooks, beat, *ports["processes"]]
    groups = {
        "gunicorn": web.proc.pid,
        "worker": worker.proc.pid,
        "webhooks_worker": hooks.proc.pid,
        "beat": beat.proc.pid,
        "image_server": server.proc.pid,
        **ports["groups"],
    }
    watch.our_groups.update(groups.values())
    common.wait_http_ok(ports["web"], "/healthz", 30, web)
    worker.wait_for_line(r"worker@\S+ ready", 60)
    hooks.wait_for_line(r"webhooks@\S+ ready", 60)
    log(f"gunicorn :{ports['web']}, worker (concurrency {args.concurrency}), webhooks, beat up")

    return procs, groups, worker, hooks, beat


def run_publish(args, report: dict, watch, tmp: str, env: dict, ports: dict, stack) -> None:
    per_item = args.images_per_item
    warmup, paced = 4, args.paced_items
    first = {"warm": 0, "base": warmup * per_item}
    first["burst"] = first["base"] + args.items * per_item
    first["paced"] = first["burst"] + args.items * per_item
    report["images"] = pipeline.ensure_images(args.image_cache, first["paced"] + paced * per_item)

    keys_file = os.path.join(tmp, "keys.txt")
    run_helper(env, "setup", str(args.keys), f"http://{HOST}:{ports['receiver']}", keys_file)
    keys = Path(keys_file).read_text().split()

    procs, groups, worker, hooks, beat = start_app(args, report, watch, tmp, env, ports, stack)

    def client(publish: bool) -> Client:
        return Client(ports["web"], ports["images"], keys, per_item, publish=publish)

    watch.phase = "warm-up"
    client(True).burst("warm", warmup, first["warm"], 2)
    log(f"warm-up: {wait_done('warm', warmup, True, ports['receiver'], 60, procs)}")

    for tag, publish in (("base", False), ("burst", True)):
        watch.phase = tag
        time.sleep(1)
        common.checkpoint(PG_URL)
        offsets = {"worker": worker.size(), "webhooks": hooks.size()}
        calls_before = sandbox_calls(ports["sandbox"])
        before = pipeline.cpu_snapshot(groups)
        what = "with autoPublishTradera" if publish else "without Tradera (baseline)"
        log(f"{tag}: {args.items} items {what}, {args.client_threads} threads")
        records = client(publish).burst(tag, args.items, first[tag], args.client_threads)
        done = wait_done(tag, args.items, publish, ports["receiver"], args.timeout, procs)
        after = pipeline.cpu_snapshot(groups)
        time.sleep(1)
        figures = phase_figures(tag, records, publish, ports["receiver"])
        figures["wait"] = done
        figures["cpu"] = pipeline.cpu_delta(before, after, args.items)
        figures["tradera_calls"] = calls_between(calls_before, sandbox_calls(ports["sandbox"]))
        figures["worker_log"] = worker_log_figures(worker.text(offsets["worker"]))
        figures["webhooks_log_problems"] = common.log_problems(hooks.text(offsets["webhooks"]))
        report[tag] = figures
        log(f"  {done}; latency {figures['latency_s']}")

    if paced:
        watch.phase = "paced"
        time.sleep(2)
        log(f"paced: {paced} items at {args.paced_rate:g}/s with autoPublishTradera")
        records = client(True).paced("paced", paced, first["paced"], args.paced_rate)
        done = wait_done("paced", paced, True, ports["receiver"], 60, procs)
        report["paced"] = {**phase_figures("paced", records, True, ports["receiver"]), "wait": done}
        log(f"  {done}; latency {report['paced']['latency_s']}")
    report["beat_log_problems"] = common.log_problems(beat.text())


# --- part "budget" -------------------------------------------------------------------------

BATCH_PATH = "/integration/v1/items/batch"


def post_batch(port: int, key: str, items: list[dict]) -> dict:
    """One POST of the batch endpoint; a 429 is sent again after its Retry-After."""
    import http.client

    body = json.dumps({"items": items}).encode()
    for _ in range(60):
        conn = http.client.HTTPConnection(HOST, port, timeout=120)
        try:
            conn.request(
                "POST", BATCH_PATH, body=body,
                headers={"x-api-key": key, "Content-Type": "application/json"},
            )  # fmt: skip
            response = conn.getresponse()
            answer = response.read()
            if response.status != 429:
                if response.status != 200:
                    raise RuntimeError(f"batch answered {response.status}: {answer[:300]!r}")
                return json.loads(answer)
            time.sleep(float(response.getheader("Retry-After") or 1))
        finally:
            conn.close()
    raise RuntimeError("the batch endpoint kept answering 429")


def listing_counts(prefix: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT coalesce(l.status, 'no listing'), count(*) FROM items_item i"
            " LEFT JOIN tradera_traderalisting l ON l.item_id = i.id"
            " WHERE i.external_id LIKE %s GROUP BY 1",
            (prefix + "%",),
        ).fetchall()
    return {status: n for status, n in rows}


def budget_usage() -> dict[str, int]:
    """Rheo's own count of the sandbox calls it spent today, per operation (tradera.quota)."""
    from datetime import UTC, datetime

    import redis

    day = datetime.now(UTC).date().isoformat()
    raw = redis.Redis.from_url(REDIS_URL).hgetall(f"tradera:budget:sandbox:ops:{day}")
    return {k.decode(): int(v) for k, v in raw.items()}


def run_budget(args, report: dict, watch, tmp: str, env: dict, ports: dict, stack) -> None:
    """A 1,000-item import through the batch endpoint, published to the sandbox with its
    processing delay on: Tradera calls per published item, by operation, against the
    goal of at most 2 + images."""
    count, per_item = args.import_items, args.images_per_item
    report["images"] = pipeline.ensure_images(args.image_cache, count * per_item)
    keys_file = os.path.join(tmp, "keys-import.txt")
    run_helper(env, "setup", "1", f"http://{HOST}:{ports['receiver']}", keys_file, "enterprise")
    key = Path(keys_file).read_text().split()[0]
    procs, _groups, _worker, _hooks, _beat = start_app(args, report, watch, tmp, env, ports, stack)
    sandbox_url = f"http://{HOST}:{ports['sandbox']}/control/settings"
    _post_json(sandbox_url, {"processingSeconds": args.import_processing_seconds})

    watch.phase = "import"
    time.sleep(1)
    calls_before, budget_before = sandbox_calls(ports["sandbox"]), budget_usage()
    prefix = "TRAD-import-"
    started = time.monotonic()
    outcomes: dict[str, int] = {}
    for first in range(0, count, 100):
        items = []
        for i in range(first, min(first + 100, count)):
            urls = [
                f"http://{HOST}:{ports['images']}/img/{i * per_item + j}.jpg"
                for j in range(per_item)
            ]
            items.append(
                {**pipeline.ITEM_BODY, "externalId": f"{prefix}{i}", "imageUrls": urls,
                 "autoPublishTradera": True}
            )  # fmt: skip
        for result in post_batch(ports["web"], key, items)["results"]:
            outcomes[result["outcome"]] = outcomes.get(result["outcome"], 0) + 1
    accepted_s = time.monotonic() - started
    log(f"import: {count} items sent in {accepted_s:.1f} s: {outcomes}")

    last_log = time.monotonic()
    while True:
        counts = listing_counts(prefix)
        settled = counts.get("active", 0) + counts.get("sync_error", 0)
        elapsed = time.monotonic() - started
        if settled >= count or elapsed > args.timeout:
            break
        if time.monotonic() - last_log >= 10:
            log(f"    import: {counts} ({elapsed:.0f} s)")
            last_log = time.monotonic()
            for process in procs:
                process.check_alive()
        time.sleep(0.5)
    time.sleep(1)  # a poll still under way is counted too
    calls = calls_between(calls_before, sandbox_calls(ports["sandbox"]))
    budget_after = budget_usage()
    spent = {op: n - budget_before.get(op, 0) for op, n in budget_after.items()}
    published = counts.get("active", 0)
    per_published = {op: round(n / max(1, published), 4) for op, n in sorted(calls.items())}
    total = sum(calls.values()) / max(1, published)
    report["budget"] = {
        "items": count,
        "images_per_item": per_item,
        "processing_seconds": args.import_processing_seconds,
        "poll_seconds": float(env.get("TRADERA_POLL_SECONDS", 2)),
        "outcomes": outcomes,
        "accepted_seconds": round(accepted_s, 1),
        "seconds_to_all_live": round(elapsed, 1),
        "timed_out": settled < count,
        "listings": counts,
        "published": published,
        "tradera_calls": calls,
        "budget_calls": {op: n for op, n in spent.items() if n},
        "calls_per_published_item": per_published,
        "calls_per_published_item_total": round(total, 4),
        "goal": 2 + per_item,
        "goal_met": total <= 2 + per_item,
    }
    log(f"  {published} live in {elapsed:.0f} s; calls per item {per_published} = {total:.3f}")


# --- part "sync" ---------------------------------------------------------------------------


def run_sync(args, report: dict, watch, tmp: str, env: dict, ports: dict) -> None:
    receiver_url = f"http://{HOST}:{ports['receiver']}"
    sandbox_url = f"http://{HOST}:{ports['sandbox']}/v3/"
    out = report["sync"] = {}
    accounts = {}
    for name, listings in (("small", args.small_listings), ("large", args.listings)):
        watch.phase = f"sync seed {name}"
        changed = round(listings * args.changed_share)
        log(f"sync: seeding {listings} listings ({changed} changed) for the {name} account")
        seed = common.tagged_json(
            run_helper(env, "seed", name, str(listings), str(changed), sandbox_url, receiver_url),
            "SEED",
        )
        log(f"  {seed}")
        accounts[name] = seed["account_id"]
        out[f"{name}_seed"] = seed

    sandbox_group = ports["groups"]["sandbox"]
    for label, name in (("small", "small"), ("large", "large"), ("large_again", "large")):
        watch.phase = f"sync pass {label}"
        time.sleep(1)
        common.checkpoint(PG_URL)
        calls_before = sandbox_calls(ports["sandbox"])
        sandbox_cpu = pipeline.group_cpu_seconds(sandbox_group)
        profile = os.path.join(tmp, f"sync-{label}.prof") if args.profile_sync else ""
        started = time.perf_counter()
        result = common.tagged_json(
            run_helper(env, "sync", str(accounts[name]), profile, timeout=900), "SYNC"
        )
        result["process_seconds"] = round(time.perf_counter() - started, 2)
        result["sandbox_cpu_seconds"] = round(
            pipeline.group_cpu_seconds(sandbox_group) - sandbox_cpu, 3
        )
        result["tradera_calls"] = calls_between(calls_before, sandbox_calls(ports["sandbox"]))
        if profile:
            result["profile_top"] = profile_top(profile)
        out[f"pass_{label}"] = result
        log(f"  pass over {name}: {result['seconds']} s, calls {result['tradera_calls']}")


def profile_top(path: str, lines: int = 25) -> list[str]:
    import io
    import pstats

    text = io.StringIO()
    pstats.Stats(path, stream=text).sort_stats("cumulative").print_stats(lines)
    return [line for line in text.getvalue().splitlines() if line.strip()][: lines + 8]


# --- report ----------------------------------------------------------------------------------


def print_report(report: dict) -> None:
    args = report["args"]
    source = report["source"]
    print()
    print(
        f"Tradera benchmark, {report['date']}, {report['machine']['nproc']} cores, commit "
        f"{source['commit'] or 'unknown'}{' with local changes' if source['dirty'] else ''}"
    )
    if "burst" in report:
        base, burst = report["base"], report["burst"]
        print(
            f"publish: {args['items']} items x {args['images_per_item']} image(s) "
            f"({report['images']['width']}x{report['images']['height']}), worker "
            f"--concurrency={args['concurrency']}, sandbox processing "
            f"{args['processing_seconds']:g} s"
        )
        for name, phase, what in (
            ("baseline", base, "PUT -> active (no Tradera)"),
            ("burst", burst, "PUT -> listing.created received"),
        ):
            lat = phase["latency_s"]
            print(
                f"  {name}: {what}: p50 {fmt(lat.get('p50'), '.1f')} s, p95 "
                f"{fmt(lat.get('p95'), '.1f')} s, max {fmt(lat.get('max'), '.1f')} s; "
                f"{phase['done']}/{phase['items']} done, {fmt(phase.get('items_per_s'), '.2f')}"
                f" items/s; PUTs in {phase['put_seconds']} s {phase['put_status']}"
            )
        print(
            f"  burst breakdown p50/p95: PUT->active {fmt(burst['put_to_active_s'].get('p50'))}"
            f"/{fmt(burst['put_to_active_s'].get('p95'))} s, active->live "
            f"{fmt(burst['active_to_live_s'].get('p50'))}/"
            f"{fmt(burst['active_to_live_s'].get('p95'))} s, live->webhook "
            f"{fmt(burst['live_to_webhook_s'].get('p50'), '.2f')}/"
            f"{fmt(burst['live_to_webhook_s'].get('p95'), '.2f')} s; Tradera calls "
            f"{burst['tradera_calls']}; listing.failed {burst['listing_failed']}"
        )
        ratios = report["ratios"]
        print(
            f"  ratio burst / baseline: p50 {fmt(ratios.get('p50'), '.2f')}, p95 "
            f"{fmt(ratios.get('p95'), '.2f')}, items/s {fmt(ratios.get('items_per_s'), '.2f')}"
        )
        for name in ("base", "burst"):
            cpu = report[name]["cpu"]
            parts = ", ".join(f"{k} {v:.0f}" for k, v in cpu["ms_per_image"].items() if v >= 0.5)
            print(
                f"  {name} CPU ms per item: {parts}; machine busy "
                f"{cpu['machine_busy_share']:.0%}, others {cpu['others_share']:.0%}"
            )
        if report.get("paced"):
            plat = report["paced"]["latency_s"]
            print(
                f"  paced ({args['paced_items']} at {args['paced_rate']:g}/s): PUT -> "
                f"listing.created p50 {fmt(plat.get('p50'), '.2f')} s, p95 "
                f"{fmt(plat.get('p95'), '.2f')} s, max {fmt(plat.get('max'), '.2f')} s"
            )
        goal = (burst["latency_s"].get("p95") or 1e9) < 5
        print(f"  goal p95 < 5 s for the burst: {'met' if goal else 'NOT met'}")
    if "sync" in report:
        sync = report["sync"]
        for label in ("small", "large", "large_again"):
            p = sync[f"pass_{label}"]
            seed = sync[f"{'small' if label == 'small' else 'large'}_seed"]
            changed = (
                "again, nothing new" if label == "large_again" else f"{seed['changed']} changed"
            )
            print(
                f"sync pass over {seed['listings']} listings ({changed}): {p['seconds']:.2f} s "
                f"wall, {p['cpu_seconds']:.2f} s CPU, "
                f"{p['sales']} sales, {p['unsold']} unsold, {p['sql_statements']} SQL, sandbox "
                f"CPU {p['sandbox_cpu_seconds']:.2f} s; Tradera calls {p['tradera_calls']}"
            )
        ratios = report["ratios"]
        print(
            f"  large / small: listings x{ratios['sync_listings']:.0f}, calls "
            f"x{ratios['sync_calls']:.2f}, wall time x{ratios['sync_seconds']:.1f}"
        )
        ok = sync["pass_large"]["seconds"] < 60 and ratios["sync_calls"] == 1
        print(f"  goal under 60 s with calls that do not grow: {'met' if ok else 'NOT met'}")
    if "budget" in report:
        b = report["budget"]
        print(
            f"budget: {b['items']} items x {b['images_per_item']} image(s) through the batch "
            f"endpoint ({b['outcomes']}), sandbox processing {b['processing_seconds']:g} s, "
            f"polls every {b['poll_seconds']:g} s: {b['published']} live in "
            f"{b['seconds_to_all_live']} s (accepted in {b['accepted_seconds']} s)"
        )
        ops = ", ".join(f"{op} {n}" for op, n in b["calls_per_published_item"].items())
        print(f"  Tradera calls {b['tradera_calls']} (Rheo's budget counted {b['budget_calls']})")
        print(
            f"  per published item: {ops}; total {b['calls_per_published_item_total']:.3f} "
            f"against the goal <= {b['goal']}: {'met' if b['goal_met'] else 'NOT met'}"
        )
    if report.get("foreign_processes"):
        print("other work seen on the machine (all of it in the JSON):")
        for phase, commands in report["foreign_processes"].items():
            shown = "; ".join(c[:70] for c in commands[:3])
            more = f" and {len(commands) - 3} more" if len(commands) > 3 else ""
            print(f"  {phase}: {shown}{more}")
    else:
        print("other work seen on the machine: none")


def ratios(report: dict) -> dict:
    out = {}
    if "burst" in report:
        base, burst = report["base"], report["burst"]
        for p in ("p50", "p95"):
            if base["latency_s"].get(p) and burst["latency_s"].get(p):
                out[p] = burst["latency_s"][p] / base["latency_s"][p]
        if base.get("items_per_s") and burst.get("items_per_s"):
            out["items_per_s"] = burst["items_per_s"] / base["items_per_s"]
    if "sync" in report:
        sync = report["sync"]
        small, large = sync["pass_small"], sync["pass_large"]
        out["sync_listings"] = sync["large_seed"]["listings"] / sync["small_seed"]["listings"]
        out["sync_calls"] = sum(large["tradera_calls"].values()) / max(
            1, sum(small["tradera_calls"].values())
        )
        out["sync_seconds"] = large["seconds"] / small["seconds"]
    return out


# --- main -------------------------------------------------------------------------------------


def run(args, report: dict, watch, tmp: str) -> None:
    ports = {name: common.free_port() for name in ("sandbox", "receiver", "images", "web")}
    env = app_env(tmp, ports["sandbox"])
    common.recreate_database(DB_NAME)
    common.flush_redis(REDIS_URL)
    log(f"database {DB_NAME} recreated; migrating")
    common.migrate(env)
    with contextlib.ExitStack() as stack:
        sandbox = stack.enter_context(
            Process(
                "sandbox",
                [PYTHON, "-m", "tradera.sandbox", "--port", str(ports["sandbox"]),
                 "--db", f"{tmp}/sandbox.sqlite3", "--speed", "1",
                 "--processing-seconds", str(args.processing_seconds), "--quota", str(QUOTA)],
                env, f"{tmp}/sandbox.log", 5,
            )
        )  # fmt: skip
        receiver = stack.enter_context(
            Process(
                "receiver",
                [PYTHON, SELF, "_receiver", str(ports["receiver"])],
                env,
                f"{tmp}/receiver.log",
                5,
            )
        )
        sandbox.wait_for_line("Tradera sandbox on", 15)
        receiver.wait_for_line("READY", 15)
        ports["groups"] = {"sandbox": sandbox.proc.pid, "receiver": receiver.proc.pid}
        ports["processes"] = [sandbox, receiver]
        watch.our_groups.update(ports["groups"].values())
        log(f"sandbox on :{ports['sandbox']}, webhook receiver on :{ports['receiver']}")
        if args.part in ("both", "publish"):
            with contextlib.ExitStack() as app:
                run_publish(args, report, watch, tmp, env, ports, app)
            watch.phase = "between"
            if report.get("worker_profile"):
                kept = ROOT / "bench" / "results" / "tradera_bench-worker.prof"
                kept.parent.mkdir(exist_ok=True)
                Path(report["worker_profile"]).replace(kept)
                report["worker_profile"] = str(kept)
                report["worker_profile_top"] = profile_top(str(kept), 60)
        if args.part in ("both", "sync"):
            run_sync(args, report, watch, tmp, env, ports)
        if args.part == "budget":
            with contextlib.ExitStack() as app:
                run_budget(args, report, watch, tmp, env, ports, app)
        report["sandbox_log_problems"] = common.log_problems(sandbox.text())
    if args.logs:
        os.makedirs(args.logs, exist_ok=True)
        for log_file in Path(tmp).glob("*.log"):
            shutil.copy(log_file, args.logs)


def main() -> int:
    global DB_NAME, DATABASE_URL, PG_URL, REDIS_URL, POLL_SECONDS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--part",
        choices=["both", "publish", "sync", "budget"],
        default="both",
        help="both: publish and sync; budget (on its own): Tradera calls per item of an import",
    )
    parser.add_argument("--items", type=int, default=1000, help="items in each burst")
    parser.add_argument("--images-per-item", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=2, help="the worker's --concurrency")
    parser.add_argument("--keys", type=int, default=100, help="partners, one test key each")
    parser.add_argument("--client-threads", type=int, default=4, help="threads sending PUTs")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for a burst")
    parser.add_argument("--paced-items", type=int, default=30, help="0 to skip the paced part")
    parser.add_argument("--paced-rate", type=float, default=2.0, help="items/s when paced")
    parser.add_argument(
        "--processing-seconds",
        type=float,
        default=0.0,
        help="the sandbox's delay from AddItemCommit until the auction is live (Tradera's own)",
    )
    parser.add_argument("--import-items", type=int, default=1000, help="part budget's import")
    parser.add_argument(
        "--import-processing-seconds",
        type=float,
        default=5.0,
        help="part budget: the sandbox's delay from AddItemCommit until the auction is live",
    )
    parser.add_argument("--listings", type=int, default=100_000, help="the large sync account")
    parser.add_argument("--small-listings", type=int, default=1000, help="the small one")
    parser.add_argument("--changed-share", type=float, default=0.01, help="changed on Tradera")
    parser.add_argument("--profile-sync", action="store_true", help="cProfile the sync passes")
    parser.add_argument(
        "--profile-worker",
        action="store_true",
        help="run the worker as one process (--pool=solo) under cProfile; print its profile",
    )
    parser.add_argument(
        "--image-cache",
        default=os.path.join(tempfile.gettempdir(), "rheo-bench-pipeline-images"),
        help="where the generated JPEGs are kept between runs (shared with pipeline_throughput)",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the database in place")
    parser.add_argument(
        "--poll-seconds", type=float, default=None, help="the app's TRADERA_POLL_SECONDS (2)"
    )
    parser.add_argument("--db-name", default=DB_NAME, help="the PostgreSQL database to recreate")
    parser.add_argument("--redis-url", default=REDIS_URL, help="the Redis db to use and flush")
    parser.add_argument("--logs", default=None, help="copy the processes' logs to this folder")
    parser.add_argument("--commit", default=None, help="the commit measured, from an export")
    common.add_wait_quiet_option(parser)
    args = parser.parse_args()
    DB_NAME, REDIS_URL, POLL_SECONDS = args.db_name, args.redis_url, args.poll_seconds
    DATABASE_URL, PG_URL = common.database_urls(DB_NAME)

    common.unwind_on_sigterm()
    watch = common.Watch()
    common.wait_for_quiet(watch, args.wait_quiet)
    machine = common.machine_info(REDIS_URL)
    report = common.begin_report(args, machine, args.commit)
    started = time.monotonic()
    with common.scratch("rheo-bench-tradera-", DB_NAME, REDIS_URL, args.keep_db) as tmp, watch:
        run(args, report, watch, tmp)
    report["seconds"] = round(time.monotonic() - started)
    report["foreign_processes"] = watch.summary()
    report["ratios"] = ratios(report)
    report["machine"]["loadavg_at_end"] = os.getloadavg()
    print_report(report)
    out = common.write_results(report, "tradera_bench", args.commit)
    log(f"results written to {out}")
    return 0


def run_profiled(out_path: str, celery_args: list[str]) -> None:
    """`celery <celery_args>` in this process under cProfile, timing CPU, not waits."""
    import cProfile

    from celery.__main__ import main as celery_main

    profiler = cProfile.Profile(time.process_time)
    sys.argv = ["celery", *celery_args]
    try:
        profiler.runcall(celery_main)
    except SystemExit:
        pass
    finally:
        profiler.dump_stats(out_path)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_profiled":
        run_profiled(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) > 1 and sys.argv[1] == "_receiver":
        run_receiver(int(sys.argv[2]))
    elif len(sys.argv) > 2 and sys.argv[1] == "_helper":
        rest = sys.argv[3:]
        if sys.argv[2] == "setup":
            helper_setup(int(rest[0]), rest[1], rest[2], *rest[3:4])
        elif sys.argv[2] == "seed":
            helper_seed(rest[0], int(rest[1]), int(rest[2]), rest[3], rest[4])
        else:
            helper_sync(int(rest[0]), rest[1] if len(rest) > 1 else "")
    else:
        sys.exit(main())
