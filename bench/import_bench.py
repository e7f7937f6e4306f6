"""A whole inventory through the batch endpoint, from the first request to every item
`active`, with real processes (see bench/README.md, "Import benchmark").

    .venv/bin/python bench/import_bench.py                  # ~8 min quiet
    .venv/bin/python bench/import_bench.py --items 1000 --single-items 100   # a small run

What one run does, all on 127.0.0.1 and bounded in time:
  1. makes sure the image cache holds --distinct-images photo-like JPEGs (those of
     bench/pipeline_throughput.py, same cache);
  2. drops and recreates the PostgreSQL database (--database), migrates it, flushes the
     Redis db (--redis-url), creates the partners on the enterprise plan (no item limit)
     with one live API key each: --batch-keys for the import, one for the single PUTs;
  3. starts the image server, a process of its own: image n is cached image
     n mod --distinct-images with a JPEG comment carrying n, so every URL's bytes are
     distinct (nothing is deduplicated) and cost the same to process;
  4. baseline loop: one process downloads and processes --baseline-images images one after
     the other (pipeline_throughput.py's loop): the image work alone, whose rate times the
     worker's processes is the limit of the pipeline;
  5. starts gunicorn as the Procfile's `web` line, the worker as its `worker` line and
     beat;
  6. warm-up: one small batch, waited for until active; its answer's RateLimit-Policy
     gives the item-batch tier the client keeps to;
  7. single PUTs: --single-items items PUT with one key as fast as the item-sync tier
     allows (the client paces itself at the tier's rate, a 429 is retried), waited for
     until active: the old way's accept rate, and from it the 10,000-item figures;
  8. the import: --items items in batches of --batch-size, sent by --client-threads threads
     over --batch-keys keys, each key paced at the item-batch tier; then the database is
     polled until every item is active: time to all accepted (items/s) and to all active,
     against the baseline loop's limit;
  9. prints the table, writes bench/results/import_bench-<time>.json, stops everything,
     flushes the Redis db, drops the database (unless --keep-db).
Subprocesses run in process groups of their own and are stopped (whole groups), and the
database and Redis db cleaned, even when a step fails or on Ctrl-C/SIGTERM.

The same file is also the image server (`_imageserver PORT DIR COUNT`) and the partner
setup (`_setup ...`, run inside Django); those are internal.
"""

import argparse
import contextlib
import http.client
import json
import math
import os
import re
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench import pipeline_throughput as pt  # noqa: E402
from bench.common import CELERY, GUNICORN, HOST, PYTHON, Process, log  # noqa: E402
from bench.pipeline_throughput import summary  # noqa: E402

SELF = str(Path(__file__).resolve())

ITEMS_PREFIX = "/integration/v1/items/"
BATCH_PATH = "/integration/v1/items/batch"
SEED_RATE = 5.0  # the seed's recommended single-PUT rate, requests/s
TEN_THOUSAND = 10_000


# --- the image server (run as `_imageserver PORT DIR COUNT`, a process of its own) -----------


def run_image_server(port: int, folder: str, count: int) -> None:
    """GET /img/<n>.jpg serves cached image n mod COUNT with a COM segment carrying n
    right after its SOI marker: distinct bytes for every n (the pipeline stores identical
    bytes once), the same decoding work. GET /stats answers with the counters."""
    originals = [(Path(folder) / f"{i}.jpg").read_bytes() for i in range(count)]
    stats = {"requests": 0, "bytes": 0, "not_found": 0}
    lock = threading.Lock()
    pattern = re.compile(r"/img/(\d+)\.jpg")

    class Handler(common.QuietHandler):
        def do_GET(self):
            if self.path == "/stats":
                with lock:
                    body = json.dumps(stats).encode()
                self.reply(200, body)
                return
            match = pattern.fullmatch(self.path)
            if match is None:
                body, status, content_type = b"not found", 404, "text/plain"
            else:
                n = int(match.group(1))
                original = originals[n % count]
                comment = f"rheo import bench image {n}".encode()
                segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
                body = original[:2] + segment + original[2:]
                status, content_type = 200, "image/jpeg"
            with lock:
                stats["requests"] += 1
                stats["bytes"] += len(body)
                stats["not_found"] += status == 404
            self.reply(status, body, content_type)

    common.serve(port, Handler)


# --- partners (run as `_setup BATCH_KEYS OUT`, inside Django) ----------------------------------


def run_setup(batch_keys: int, out_path: str) -> None:
    """Partners on the enterprise plan (no item limit), one live key each: `batch_keys` for
    the import, then one for the single PUTs, written one a line to `out_path`."""
    import django

    django.setup()
    from partners.services import create_api_key, create_partner
    from partners.subscriptions import change_plan

    secrets = []
    for i in range(batch_keys + 1):
        partner, _user = create_partner(name=f"Import bench {i}", email=f"import{i}@bench.invalid")
        change_plan(partner=partner, plan_code="enterprise", staff=True)
        secrets.append(create_api_key(partner=partner, name="bench", mode="live").secret)
    Path(out_path).write_text("\n".join(secrets) + "\n")


# --- the client -------------------------------------------------------------------------------


class Pacer:
    """A key's slots at `rate` requests/s (the tier's), handed out in turn to the client's
    threads: a client that keeps to the RateLimit headers, so 429s are the exception."""

    def __init__(self, rate: float, burst: int):
        self.interval = 1 / rate
        self.next = time.monotonic() - (burst - 1) * self.interval
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            slot = max(self.next, now)
            self.next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


def parse_policy(header: str | None) -> tuple[float, int]:
    """RateLimit-Policy `"tier";q=2;w=1` -> (requests per second, burst)."""
    match = re.search(r"q=(\d+);w=(\d+)", header or "")
    if not match:
        raise RuntimeError(f"no RateLimit-Policy in the answer: {header!r}")
    quota, window = int(match.group(1)), int(match.group(2))
    return quota / window, quota


class Client:
    def __init__(self, port: int, image_port: int, per_item: int):
        self.port, self.image_port, self.per_item = port, image_port, per_item

    def body(self, external_id: str, first_image: int, with_id: bool) -> dict:
        urls = [
            f"http://{HOST}:{self.image_port}/img/{first_image + j}.jpg"
            for j in range(self.per_item)
        ]
        body = {**pt.ITEM_BODY, "imageUrls": urls}
        return {"externalId": external_id, **body} if with_id else body

    def request(self, method: str, path: str, key: str, payload: bytes, pacer: Pacer | None):
        """One request, paced by `pacer`; a 429 (or a broken connection) is tried again,
        up to 30 times. Returns the record with wall-clock times and the parsed answer."""
        record = {"first_send": time.time(), "attempts": 0, "rejected_429": 0}
        while True:
            if pacer is not None:
                pacer.wait()
            record["attempts"] += 1
            send = time.time()
            status, answer, headers = -1, None, {}
            conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
            try:
                conn.request(
                    method,
                    path,
                    body=payload,
                    headers={"x-api-key": key, "Content-Type": "application/json"},
                )
                response = conn.getresponse()
                raw = response.read()
                status, headers = response.status, dict(response.getheaders())
                with contextlib.suppress(ValueError):
                    answer = json.loads(raw)
            except OSError as exc:
                record["error"] = repr(exc)
            finally:
                conn.close()
            record.update(send=send, done=time.time(), status=status)
            record["rejected_429"] += status == 429
            if status not in (429, -1) or record["attempts"] >= 30:
                record["answer"], record["headers"] = answer, headers
                return record
            if pacer is None:
                time.sleep(0.1)

    def run_threads(self, jobs: list, threads: int, work) -> list:
        """`work(job)` for every job, `threads` at a time, results in the jobs' order."""
        results: list = [None] * len(jobs)
        lock = threading.Lock()
        indices = iter(range(len(jobs)))

        def run() -> None:
            while True:
                with lock:
                    i = next(indices, None)
                if i is None:
                    return
                results[i] = work(jobs[i])

        workers = [threading.Thread(target=run) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return results

    def batches(
        self,
        tag: str,
        count: int,
        first_image: int,
        keys: list[str],
        pacers: list[Pacer | None],
        size: int,
        threads: int,
    ) -> list[dict]:
        """`count` items in batches of `size`; batch b goes with key b mod len(keys)."""
        jobs = []
        for b, start in enumerate(range(0, count, size)):
            items = [
                self.body(f"IMP-{tag}-{i}", first_image + i * self.per_item, with_id=True)
                for i in range(start, min(start + size, count))
            ]
            jobs.append((b, json.dumps({"items": items}).encode()))

        def send(job) -> dict:
            b, payload = job
            k = b % len(keys)
            record = self.request("POST", BATCH_PATH, keys[k], payload, pacers[k])
            answer = record.pop("answer") or {}
            record["counts"] = answer.get("counts")
            record["policy"] = record.pop("headers").get("RateLimit-Policy")
            return record

        return self.run_threads(jobs, threads, send)

    def single_puts(
        self, tag: str, count: int, first_image: int, key: str, pacer: Pacer, threads: int
    ) -> list[dict]:
        """`count` PUTs with one key, paced at the key's item-sync tier."""
        jobs = [
            (
                f"IMP-{tag}-{i}",
                json.dumps(self.body("", first_image + i * self.per_item, with_id=False)).encode(),
            )
            for i in range(count)
        ]

        def send(job) -> dict:
            external_id, payload = job
            record = self.request("PUT", ITEMS_PREFIX + external_id, key, payload, pacer)
            record.pop("answer")
            record["policy"] = record.pop("headers").get("RateLimit-Policy")
            return record

        return self.run_threads(jobs, threads, send)


# --- waiting for the pipeline, and reading what it did ----------------------------------------


class Database:
    def __init__(self, pg_url: str):
        self.pg_url = pg_url

    def wait_all_active(
        self, tag: str, count: int, timeout: float, processes: list[Process]
    ) -> dict:
        """Until every item of `tag` is active or has failed, or `timeout` passes."""
        return pt.wait_all_done(tag, count, timeout, processes, pg_url=self.pg_url, prefix="IMP")

    def item_times(self, tag: str) -> dict:
        """Each item's created_at and, if active, its status_changed_at (epoch s)."""
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT extract(epoch FROM created_at)::float8,"
                " CASE WHEN status = 'active' THEN"
                "  extract(epoch FROM status_changed_at)::float8 END"
                " FROM items_item WHERE external_id LIKE %s",
                (f"IMP-{tag}-%",),
            ).fetchall()
        return {
            "created": sorted(r[0] for r in rows),
            "active": sorted(r[1] for r in rows if r[1] is not None),
            "rows": len(rows),
        }

    def image_counts(self) -> dict:
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            by_status = dict(
                conn.execute("SELECT status, count(*) FROM items_itemimage GROUP BY 1").fetchall()
            )
            stored = conn.execute("SELECT count(*) FROM items_storedimage").fetchone()[0]
            items = conn.execute("SELECT count(*) FROM items_item").fetchone()[0]
        return {"item_images_by_status": by_status, "stored_images": stored, "items": items}


def accept_figures(records: list[dict], items: int) -> dict:
    """From the client's records: how long until the last request was answered, and how."""
    statuses: dict[str, int] = {}
    for r in records:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    first = min(r["first_send"] for r in records)
    last = max(r["done"] for r in records)
    seconds = last - first
    return {
        "items": items,
        "requests": len(records),
        "status": statuses,
        "attempts": sum(r["attempts"] for r in records),
        "rejected_429": sum(r["rejected_429"] for r in records),
        "first_send": first,
        "last_answer": last,
        "seconds": seconds,
        "items_per_s": items / seconds if seconds else None,
        "request_ms": summary([(r["done"] - r["send"]) * 1000 for r in records]),
        "policy": next((r.get("policy") for r in records if r.get("policy")), None),
    }


def active_figures(times: dict, first_send: float, last_answer: float) -> dict:
    done = times["active"]
    out: dict = {"rows": times["rows"], "active": len(done)}
    if done:
        out["seconds_first_send_to_last_active"] = done[-1] - first_send
        out["seconds_last_answer_to_last_active"] = done[-1] - last_answer
        out["items_per_s"] = len(done) / (done[-1] - first_send)
    return out


# --- report -------------------------------------------------------------------------------------


def fmt(value, spec=".1f") -> str:
    return "-" if value is None else f"{value:{spec}}"


def print_report(report: dict) -> None:
    args, base = report["args"], report["baseline"]
    single, batch = report["single"], report["import"]
    print()
    print(
        f"Import benchmark, {report['date']}, {report['machine']['nproc']} cores "
        f"({report['machine']['cpu_model']}), commit {report['source']['commit'] or 'unknown'}"
        f"{' with local changes' if report['source']['dirty'] else ''}; worker --concurrency="
        f"{args['concurrency']}, beat on, gunicorn WEB_CONCURRENCY={args['web_concurrency']}"
    )
    print(
        f"baseline loop: {base['images_per_s']:.2f} images/s ({base['cpu_ms_per_image']:.0f} ms "
        f"CPU/image); limit with {args['concurrency']} worker processes: "
        f"{report['loop_limit']['items_per_s']:.1f} items/s of {args['images_per_item']} image(s)"
    )
    sa = single["accept"]
    print(
        f"single PUTs ({sa['policy']}): {sa['items']} in {sa['seconds']:.1f} s = "
        f"{sa['items_per_s']:.2f} items/s (status {sa['status']}, {sa['rejected_429']} 429s, "
        f"PUT p50 {sa['request_ms']['p50']:.0f} ms); 10,000 items: "
        f"{single['ten_thousand_seconds_at_measured_rate'] / 60:.1f} min at this rate, "
        f"{single['ten_thousand_seconds_at_seed_rate'] / 60:.1f} min at the seed's {SEED_RATE:g}/s"
    )
    ba = batch["accept"]
    print(
        f"import ({ba['policy']}, {args['batch_keys']} key(s), {args['client_threads']} threads): "
        f"{ba['items']} items in {ba['requests']} batches accepted in {ba['seconds']:.1f} s = "
        f"{ba['items_per_s']:.0f} items/s (status {ba['status']}, {ba['rejected_429']} 429s; "
        f"request p50 {ba['request_ms']['p50']:.0f} ms, p95 {ba['request_ms']['p95']:.0f} ms); "
        f"outcomes {batch['outcomes']}"
    )
    print(
        f"  the tier's floor for {ba['requests']} batches on {args['batch_keys']} key(s): "
        f"{batch['rate_limit_floor_seconds']:.1f} s; scaled to 10,000 items: "
        f"{batch['ten_thousand_accept_seconds']:.1f} s (goal 30 s)"
    )
    act = batch["active"]
    if batch["wait"]["timed_out"]:
        print(
            f"  NOT ALL ACTIVE: {act['active']} of {act['rows']} after --timeout "
            f"{args['timeout']:g} s (the figures below are for those)"
        )
    print(
        f"  all active {fmt(act.get('seconds_first_send_to_last_active'))} s after the first "
        f"batch ({fmt(act.get('items_per_s'), '.1f')} items/s; {act['active']} of "
        f"{act['rows']}); the loop's limit for them: {batch['loop_limit_seconds']:.1f} s "
        f"(pipeline / limit: {fmt(batch.get('pipeline_vs_loop_limit'), '.2f')})"
    )
    cpu = batch["cpu_accept"]
    print(
        f"  CPU while accepting, ms per item: "
        f"{', '.join(f'{k} {v:.2f}' for k, v in cpu['ms_per_image'].items())}; machine busy "
        f"{cpu['machine_busy_share']:.0%}, others {cpu['others_share']:.0%}"
    )
    s = report["sanity"]
    print(
        f"sanity: {s['items']} items, {s['stored_images']} stored images for "
        f"{s['images_expected']} URLs (no dedup: {s['no_dedup']}); {s['image_requests']} GETs "
        f"(one per image: {s['one_get_per_image']}); all created: {s['all_created']}; no 5xx: "
        f"{s['no_5xx']}; worker log problems: {len(s['worker_log_problems'])}"
    )
    if report.get("foreign_processes"):
        print("other work seen on the machine (all of it in the JSON):")
        for phase, commands in report["foreign_processes"].items():
            shown = "; ".join(c[:70] for c in commands[:3])
            more = f" and {len(commands) - 3} more" if len(commands) > 3 else ""
            print(f"  {phase}: {shown}{more}")
    else:
        print("other work seen on the machine: none")


# --- main -------------------------------------------------------------------------------------


def run(args, report: dict, watch: common.Watch, tmp: str) -> None:
    database_url, pg_url = common.database_urls(args.database)
    db = Database(pg_url)
    per_item = args.images_per_item
    report["images"] = pt.ensure_images(args.image_cache, args.distinct_images)
    folder = report["images"]["folder"]
    first = {"baseline": 0, "warmup": args.baseline_images + 3}
    first["warmput"] = first["warmup"] + args.warmup_items * per_item
    first["single"] = first["warmput"] + per_item
    first["import"] = first["single"] + args.single_items * per_item

    env = common.app_env(
        tmp, database_url, args.redis_url, "rheo.settings", RHEO_ALLOW_LOCAL_URLS="1"
    )
    common.recreate_database(args.database)
    common.flush_redis(args.redis_url)
    log(f"database {args.database} recreated; migrating, creating {args.batch_keys + 1} partners")
    common.migrate(env)
    keys_file = os.path.join(tmp, "keys.txt")
    subprocess_run([PYTHON, SELF, "_setup", str(args.batch_keys), keys_file], env)
    keys = Path(keys_file).read_text().split()
    batch_keys, single_key = keys[: args.batch_keys], keys[-1]

    image_port, web_port = common.free_port(), common.free_port()
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            Process(
                "image server",
                [PYTHON, SELF, "_imageserver", str(image_port), folder, str(args.distinct_images)],
                env,
                f"{tmp}/imageserver.log",
                5,
            )
        )
        server.wait_for_line("READY", 30)
        watch.our_groups.add(server.proc.pid)
        url_template = f"http://{HOST}:{image_port}/img/{{}}.jpg"

        watch.phase = "baseline"
        loop = pt.baseline_loop(ROOT, url_template, env, args.baseline_images)
        report["baseline"] = loop
        limit_images_per_s = loop["images_per_s"] * args.concurrency
        report["loop_limit"] = {
            "worker_processes": args.concurrency,
            "images_per_s": limit_images_per_s,
            "items_per_s": limit_images_per_s / per_item,
        }
        log(
            f"baseline: {loop['images_per_s']:.2f} images/s, {loop['cpu_ms_per_image']:.1f} ms "
            f"CPU/image; limit with {args.concurrency} processes {limit_images_per_s:.1f} images/s"
        )

        watch.phase = "start"
        web_env = {**env, "HOST": HOST, "PORT": str(web_port)}
        if args.web_concurrency:
            web_env["WEB_CONCURRENCY"] = str(args.web_concurrency)
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
        worker = stack.enter_context(
            Process("worker", worker_cmd, env, f"{tmp}/worker.log", stop_timeout=30)
        )
        beat = stack.enter_context(
            Process(
                "beat", [CELERY, "-A", "rheo", "beat", "--loglevel=INFO"], env, f"{tmp}/beat.log"
            )
        )
        processes = [server, web, worker, beat]
        groups = {
            "image_server": server.proc.pid,
            "gunicorn": web.proc.pid,
            "worker": worker.proc.pid,
            "beat": beat.proc.pid,
        }
        watch.our_groups.update(groups.values())
        common.wait_http_ok(web_port, "/healthz", 30, web)
        worker.wait_for_line(r"worker@\S+ ready", 60)
        log(f"gunicorn on :{web_port}, worker (concurrency {args.concurrency}) and beat up")
        client = Client(web_port, image_port, per_item)

        # Warm-up: every gunicorn process and key used once; the tiers from the answers.
        watch.phase = "warm-up"
        warm = client.batches(
            "warm", args.warmup_items, first["warmup"], keys, [None] * len(keys),
            max(1, args.warmup_items // len(keys)), 2,
        )  # fmt: skip
        batch_rate, batch_burst = parse_policy(warm[0]["policy"])
        warm_put = client.single_puts("warmput", 1, first["warmput"], single_key, None, 1)
        put_rate, put_burst = parse_policy(warm_put[0]["policy"])
        log(
            f"warm-up: {db.wait_all_active('warm', args.warmup_items, 60, processes)}; tiers: "
            f"batch {batch_rate:g}/s (burst {batch_burst}), PUT {put_rate:g}/s"
        )
        db.wait_all_active("warmput", 1, 60, processes)

        # The old way: single PUTs, one key, as fast as its tier allows.
        watch.phase = "single"
        time.sleep(2)
        log(f"single PUTs: {args.single_items} items, one key at {put_rate:g}/s")
        records = client.single_puts(
            "single", args.single_items, first["single"], single_key,
            Pacer(put_rate, put_burst), 4,
        )  # fmt: skip
        accept = accept_figures(records, args.single_items)
        single = {
            "accept": accept,
            "ten_thousand_seconds_at_measured_rate": TEN_THOUSAND / accept["items_per_s"],
            "ten_thousand_seconds_at_tier_rate": TEN_THOUSAND / put_rate,
            "ten_thousand_seconds_at_seed_rate": TEN_THOUSAND / SEED_RATE,
        }
        done = db.wait_all_active("single", args.single_items, args.timeout, processes)
        single["wait"] = done
        report["single"] = single
        log(f"  accepted in {accept['seconds']:.1f} s ({accept['items_per_s']:.2f}/s); {done}")

        # The import.
        watch.phase = "import"
        common.checkpoint(pg_url)
        time.sleep(2)
        log_offset = worker.size()
        before = pt.cpu_snapshot(groups)
        log(
            f"import: {args.items} items in batches of {args.batch_size}, {args.client_threads} "
            f"threads, {args.batch_keys} key(s) at {batch_rate:g} batches/s each"
        )
        pacers: list[Pacer | None] = [Pacer(batch_rate, batch_burst) for _ in batch_keys]
        records = client.batches(
            "import", args.items, first["import"], batch_keys, pacers, args.batch_size,
            args.client_threads,
        )  # fmt: skip
        after_accept = pt.cpu_snapshot(groups)
        accept = accept_figures(records, args.items)
        log(
            f"  accepted in {accept['seconds']:.1f} s ({accept['items_per_s']:.0f} items/s); "
            "waiting for the pipeline"
        )
        done = db.wait_all_active("import", args.items, args.timeout, processes)
        after = pt.cpu_snapshot(groups)
        time.sleep(1)  # the worker's last log lines
        outcomes: dict[str, int] = {}
        for r in records:
            for outcome, n in (r.get("counts") or {}).items():
                outcomes[outcome] = outcomes.get(outcome, 0) + n
        requests_per_key = math.ceil(accept["requests"] / args.batch_keys)
        floor = max(0.0, (requests_per_key - batch_burst) / batch_rate)
        times = db.item_times("import")
        active = active_figures(times, accept["first_send"], accept["last_answer"])
        loop_limit_seconds = args.items / report["loop_limit"]["items_per_s"]
        batch = {
            "accept": accept,
            "outcomes": outcomes,
            "rate_limit_floor_seconds": floor,
            "ten_thousand_accept_seconds": accept["seconds"] * TEN_THOUSAND / args.items,
            "wait": done,
            "active": active,
            "loop_limit_seconds": loop_limit_seconds,
            "cpu_accept": pt.cpu_delta(before, after_accept, args.items),
            "cpu_total": pt.cpu_delta(before, after, args.items),
            "worker_log": pt.worker_log_figures(worker.text(log_offset)),
        }
        if active.get("seconds_first_send_to_last_active"):
            batch["pipeline_vs_loop_limit"] = (
                loop_limit_seconds / active["seconds_first_send_to_last_active"]
            )
        report["import"] = batch
        log(f"  {done}; {active}")

        watch.phase = "shutdown"
        report["image_server"] = common.get_json(image_port, "/stats")
        report["counts"] = db.image_counts()
        report["worker_log_all"] = pt.worker_log_figures(worker.text())
        report["beat_log_problems"] = common.log_problems(beat.text())
        report["web_log_problems"] = common.log_problems(web.text())


def subprocess_run(cmd: list[str], env: dict) -> None:
    import subprocess

    subprocess.run(
        cmd, cwd=ROOT, env=env, check=True, timeout=600, start_new_session=True,
        capture_output=True,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=TEN_THOUSAND, help="items in the import")
    parser.add_argument("--batch-size", type=int, default=100, help="items per batch request")
    parser.add_argument(
        "--batch-keys",
        type=int,
        default=1,
        help="keys (partners) the import is spread over, each paced at the item-batch tier",
    )
    parser.add_argument("--client-threads", type=int, default=4, help="threads sending batches")
    parser.add_argument(
        "--single-items", type=int, default=1000, help="items PUT one by one, one key"
    )
    parser.add_argument("--images-per-item", type=int, default=1)
    parser.add_argument(
        "--distinct-images",
        type=int,
        default=150,
        help="cached JPEGs the image server varies (by a comment) into every URL's image",
    )
    parser.add_argument("--concurrency", type=int, default=2, help="the worker's --concurrency")
    parser.add_argument(
        "--web-concurrency",
        type=int,
        default=4,
        help="gunicorn's WEB_CONCURRENCY (0: rheo.gunicorn's default, 2 x cores + 1)",
    )
    parser.add_argument("--baseline-images", type=int, default=60)
    parser.add_argument("--warmup-items", type=int, default=4)
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds to wait for a phase's items"
    )
    parser.add_argument("--database", default="rheo_bench_import", help="PostgreSQL database")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/7", help="the Redis db (flushed)"
    )
    parser.add_argument(
        "--image-cache",
        default=os.path.join(tempfile.gettempdir(), "rheo-bench-pipeline-images"),
        help="where the generated JPEGs are kept between runs (pipeline_throughput.py's)",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the database in place")
    common.add_wait_quiet_option(parser)
    args = parser.parse_args()

    common.unwind_on_sigterm()
    watch = common.Watch()
    common.wait_for_quiet(watch, args.wait_quiet)
    import PIL

    machine = common.machine_info(args.redis_url, pillow=PIL.__version__)
    report = common.begin_report(args, machine)
    if report["machine"]["loadavg_at_start"][0] > 0.5:
        log(f"warning: load average {report['machine']['loadavg_at_start']} before start")
    started = time.monotonic()
    with (
        common.scratch("rheo-bench-import-", args.database, args.redis_url, args.keep_db) as tmp,
        watch,
    ):
        run(args, report, watch, tmp)
    report["seconds"] = round(time.monotonic() - started)
    report["foreign_processes"] = watch.summary()

    batch = report["import"]
    pushed = args.warmup_items + 1 + args.single_items + args.items
    expected_images = pushed * args.images_per_item
    requests = report["image_server"]["requests"] - (args.baseline_images + 3)
    statuses = {**report["single"]["accept"]["status"], **batch["accept"]["status"]}
    report["sanity"] = {
        "items": report["counts"]["items"],
        "items_pushed": pushed,
        "images_expected": expected_images,
        "stored_images": report["counts"]["stored_images"],
        "no_dedup": report["counts"]["stored_images"] == expected_images,
        "image_requests": requests,
        "one_get_per_image": requests == expected_images,
        "all_created": batch["outcomes"].get("created") == args.items,
        "no_5xx": not any(s.startswith("5") or s == "-1" for s in statuses),
        "worker_log_problems": report["worker_log_all"]["problems"],
        "web_log_problems": report["web_log_problems"],
    }
    report["machine"]["loadavg_at_end"] = os.getloadavg()
    print_report(report)
    out = common.write_results(report, "import_bench")
    log(f"results written to {out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_imageserver":
        run_image_server(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_setup":
        run_setup(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(main())
