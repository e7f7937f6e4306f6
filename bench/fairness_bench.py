"""Partner B's PUT → active while partner A's 10,000-item batch import is processed (see
bench/README.md, "Fairness: a single PUT during another's import").

    .venv/bin/python bench/fairness_bench.py                  # ~3 min
    .venv/bin/python bench/fairness_bench.py --items 2000     # on a busy machine

What one run does, all on 127.0.0.1 and bounded in time:
  1. drops and recreates the PostgreSQL database rheo_bench_fairness, migrates it, flushes
     the Redis db (--redis-url), creates partners A and B (bench/make_keys.py) on the
     unlimited plan;
  2. starts an image server (a process of its own) that serves one photo-like JPEG
     (1600x1200, 650 KB, made with Pillow) at any /img/<n>.jpg, then gunicorn, the Celery worker
     and beat as the Procfile runs them;
  3. A imports --items items, one image each, through POST /integration/v1/items/batch,
     100 a request, back to back (waiting out a 429's Retry-After);
  4. once A has --head-start items accepted, B PUTs one item every --b-interval seconds,
     --b-puts times, each with an image of its own, while the database is polled (every
     50 ms) for B's items turning active: latency = from the PUT's send to the item's
     status_changed_at. At each PUT the backlog of A's items still due is recorded, and
     the images queue's length in Redis is sampled once a second;
  5. prints the figures, writes bench/results/fairness-<time>.json, stops everything,
     flushes the Redis db and drops the database (unless --keep-db). A's import is not
     waited for to the end: only while B is measured.

The same file is also the image server (`_imageserver PORT FILE`) and the plan change
(`_plans`, run inside Django); those are internal.
"""

import argparse
import contextlib
import http.client
import io
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import CELERY, GUNICORN, HOST, PYTHON, Process, log  # noqa: E402
from bench.common import percentile as pct  # noqa: E402

SELF = str(Path(__file__).resolve())
DB_NAME = "rheo_bench_fairness"
DATABASE_URL, PG_URL = common.database_urls(DB_NAME)
BATCH_PATH = "/integration/v1/items/batch"
PUT_PREFIX = "/integration/v1/items/"


def item(external_id: str, image_url: str) -> dict:
    return {
        "externalId": external_id,
        "title": "Volvo XC90 bromsok fram vänster — 2018",
        "description": "Testad och fungerande. Skick B.",
        "price": 950,
        "shippingCost": 149,
        "weightKg": 3.2,
        "imageUrls": [image_url],
        "autoPublishTradera": False,
    }


def photo_jpeg() -> bytes:
    """A photo-like JPEG (noise over a gradient), so decoding and re-encoding it costs what
    a real photo does."""
    from PIL import Image

    size = (1600, 1200)
    noise = Image.effect_noise(size, 40)
    ramp = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (noise, ramp, Image.eval(noise, lambda v: 255 - v)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def run_image_server(port: int, path: str) -> None:
    body = Path(path).read_bytes()

    class Handler(common.QuietHandler):
        def do_GET(self):
            self.reply(200, body, "image/jpeg")

    common.serve(port, Handler)


def set_plans() -> None:
    """Both partners on the unlimited plan (A's import is past every public plan's limit)."""
    import django

    django.setup()
    from partners.models import Partner
    from partners.subscriptions import change_plan

    for partner in Partner.objects.all():
        change_plan(partner=partner, plan_code="enterprise", staff=True)


class Api:
    def __init__(self, port: int, key: str):
        self.port, self.key = port, key
        self.conn: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: dict) -> tuple[int, dict, dict]:
        data = json.dumps(body).encode()
        headers = {"x-api-key": self.key, "Content-Type": "application/json"}
        for _ in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                return response.status, dict(response.getheaders()), json.loads(payload or b"{}")
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
        raise RuntimeError(f"{method} {path}: no answer")


def import_a(api: Api, count: int, image_base: str, accepted: list, stop: threading.Event):
    """A's import, 100 items a request, back to back; `accepted` counts what was."""
    for start in range(0, count, 100):
        ids = range(start, min(start + 100, count))
        body = {"items": [item(f"A{n:06d}", f"{image_base}/a{n}.jpg") for n in ids]}
        while not stop.is_set():
            status, headers, answer = api.send("POST", BATCH_PATH, body)
            if status == 429:
                time.sleep(float(headers.get("Retry-After", "1")))
                continue
            outcomes = {r["outcome"] for r in answer.get("results", [])}
            if status != 200 or outcomes != {"created"}:
                raise RuntimeError(f"batch answered {status}: {str(answer)[:500]}")
            accepted[0] += len(ids)
            break
        if stop.is_set():
            return


def run(args, report: dict, tmp: str) -> None:
    # The image server is on 127.0.0.1, over http.
    env = common.app_env(
        tmp, DATABASE_URL, args.redis_url, "rheo.settings", RHEO_ALLOW_LOCAL_URLS="1"
    )
    common.recreate_database(DB_NAME)
    common.flush_redis(args.redis_url)
    log(f"database {DB_NAME} recreated; migrating, creating partners A and B")
    common.migrate(env)
    keys_file = os.path.join(tmp, "keys.txt")
    common.make_keys(env, 2, keys_file)
    subprocess_run([PYTHON, SELF, "_plans"], env)
    key_a, key_b = Path(keys_file).read_text().split()
    photo = Path(tmp) / "photo.jpg"
    photo.write_bytes(photo_jpeg())

    import psycopg
    import redis

    broker = redis.Redis.from_url(args.redis_url)
    image_port, web_port = common.free_port(), common.free_port()
    image_base = f"http://{HOST}:{image_port}/img"
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            Process("image server", [PYTHON, SELF, "_imageserver", str(image_port), str(photo)],
                    env, f"{tmp}/imageserver.log", 5)
        )  # fmt: skip
        server.wait_for_line("READY", 15)
        web = stack.enter_context(
            Process("gunicorn", [GUNICORN, "-c", "python:rheo.gunicorn", "rheo.wsgi"],
                    {**env, "HOST": HOST, "PORT": str(web_port), "WEB_CONCURRENCY": "3"},
                    f"{tmp}/gunicorn.log")
        )  # fmt: skip
        worker = stack.enter_context(
            Process("worker", [CELERY, "-A", "rheo", "worker", "-n", "worker@%h",
                               "--loglevel=INFO", "--queues=default,tradera,images",
                               f"--concurrency={args.concurrency}"],
                    env, f"{tmp}/worker.log", stop_timeout=30)
        )  # fmt: skip
        beat = stack.enter_context(
            Process("beat", [CELERY, "-A", "rheo", "beat", "--loglevel=INFO"], env,
                    f"{tmp}/beat.log")
        )  # fmt: skip
        common.wait_http_ok(web_port, "/healthz", 30, web)
        worker.wait_for_line(r"worker@\S+ ready", 60)
        log(f"up: gunicorn :{web_port}, worker (concurrency {args.concurrency}), beat")

        db = psycopg.connect(PG_URL, autocommit=True)
        accepted = [0]
        stop = threading.Event()
        importer = threading.Thread(
            target=import_a, args=(Api(web_port, key_a), args.items, image_base, accepted, stop)
        )
        started = time.time()
        importer.start()
        try:
            while accepted[0] < min(args.head_start, args.items):
                time.sleep(0.05)
                if not importer.is_alive():
                    raise RuntimeError("A's import stopped")
            log(f"A: {accepted[0]} items accepted after {time.time() - started:.1f} s; B starts")
            b = measure_b(args, Api(web_port, key_b), db, broker, image_base, accepted)
            report["b"] = b
            report["a"] = a_progress(db, started, accepted[0], args.items)
        finally:
            stop.set()
            importer.join(timeout=120)
            db.close()
        report["worker_log_problems"] = common.log_problems(worker.text())
        report["beat_log_problems"] = common.log_problems(beat.text())


def subprocess_run(cmd: list[str], env: dict) -> None:
    import subprocess

    subprocess.run(cmd, cwd=ROOT, env=env, check=True, timeout=120, start_new_session=True)


def measure_b(args, api: Api, db, broker, image_base: str, accepted: list) -> dict:
    sent: dict[str, float] = {}
    backlog_at_put: list[int] = []
    queue_lengths: list[int] = []
    last_sample = 0.0
    for n in range(args.b_puts):
        external_id = f"B{n:04d}"
        backlog_at_put.append(
            db.execute(
                "SELECT count(*) FROM items_item"
                " WHERE external_id LIKE 'A%' AND processing_due_at IS NOT NULL"
            ).fetchone()[0]
        )
        sent[external_id] = time.time()
        body = item(external_id, f"{image_base}/b{n}.jpg")
        del body["externalId"]  # the PUT's path names it
        status, _, answer = api.send("PUT", PUT_PREFIX + external_id, body)
        if status != 202:
            raise RuntimeError(f"B's PUT answered {status}: {answer}")
        until = time.time() + args.b_interval
        while time.time() < until:
            if time.time() - last_sample >= 1:
                queue_lengths.append(broker.llen("images"))
                last_sample = time.time()
            time.sleep(0.05)
    deadline = time.time() + args.timeout
    done: dict[str, float] = {}
    while time.time() < deadline and len(done) < len(sent):
        for external_id, at in db.execute(
            "SELECT external_id, extract(epoch from status_changed_at) FROM items_item"
            " WHERE external_id LIKE 'B%' AND status = 'active'"
        ).fetchall():
            done[external_id] = float(at)
        if len(done) < len(sent):
            time.sleep(0.05)
    latencies = [done[i] - sent[i] for i in sent if i in done]
    figures = {
        "puts": len(sent),
        "active": len(done),
        "latency_s": {
            "p50": pct(latencies, 50),
            "p95": pct(latencies, 95),
            "max": max(latencies, default=None),
            "all": [round(v, 3) for v in latencies],
        },
        "a_backlog_at_put": {"min": min(backlog_at_put), "max": max(backlog_at_put)},
        "a_backlog_at_each_put": backlog_at_put,
        "a_accepted_when_b_ended": accepted[0],
        "images_queue_length": {
            "max": max(queue_lengths, default=None),
            "samples": len(queue_lengths),
        },
    }
    log(f"B: {figures}")
    return figures


def a_progress(db, started: float, accepted: int, total: int) -> dict:
    active, first, last = db.execute(
        "SELECT count(*), extract(epoch from min(status_changed_at)),"
        " extract(epoch from max(status_changed_at))"
        " FROM items_item WHERE external_id LIKE 'A%' AND status = 'active'"
    ).fetchone()
    rate = (active - 1) / (float(last) - float(first)) if active > 1 else None
    figures = {
        "items": total,
        "accepted": accepted,
        "active": active,
        "still_due": accepted - active,
        "items_per_s_while_measured": rate,
        "seconds": round(time.time() - started, 1),
    }
    log(f"A: {figures}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000, help="A's import")
    parser.add_argument("--head-start", type=int, default=2000,
                        help="A's items accepted before B's first PUT")  # fmt: skip
    parser.add_argument("--b-puts", type=int, default=40, help="B's single PUTs")
    parser.add_argument("--b-interval", type=float, default=2.0, help="seconds between them")
    parser.add_argument("--concurrency", type=int, default=2, help="the worker's --concurrency")
    parser.add_argument("--timeout", type=float, default=120, help="for B's last item")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--keep-db", action="store_true", help="leave the database in place")
    common.add_wait_quiet_option(parser)
    args = parser.parse_args()

    common.unwind_on_sigterm()
    watch = common.Watch()
    common.wait_for_quiet(watch, args.wait_quiet)
    report = common.begin_report(args, common.machine_info(args.redis_url))
    started = time.monotonic()
    scratch = common.scratch("rheo-bench-fairness-", DB_NAME, args.redis_url, args.keep_db)
    with scratch as tmp, watch:
        run(args, report, tmp)
    report["seconds"] = round(time.monotonic() - started)
    report["foreign_processes"] = watch.summary()
    report["machine"]["loadavg_at_end"] = os.getloadavg()
    b, a = report["b"], report["a"]
    if a["items_per_s_while_measured"]:
        # What one first-in-first-out queue (a message per item, as before) would have made
        # B wait: behind every A item due when B put its own, at A's own rate.
        waits = [n / a["items_per_s_while_measured"] for n in b["a_backlog_at_each_put"]]
        report["fifo_wait_estimate_s"] = {"p50": pct(waits, 50), "p95": pct(waits, 95)}
    print(
        f"B's PUT → active during A's import: p50 {b['latency_s']['p50']:.2f} s, "
        f"p95 {b['latency_s']['p95']:.2f} s, max {b['latency_s']['max']:.2f} s "
        f"({b['active']}/{b['puts']} active); A's backlog at B's PUTs "
        f"{b['a_backlog_at_put']['min']}–{b['a_backlog_at_put']['max']} items, A at "
        f"{a['items_per_s_while_measured'] or 0:.1f} items/s; images queue at most "
        f"{b['images_queue_length']['max']} messages; a FIFO queue would have made B wait "
        f"about {(report.get('fifo_wait_estimate_s') or {}).get('p95') or 0:.0f} s (p95)"
    )
    out = common.write_results(report, "fairness")
    log(f"results written to {out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_imageserver":
        run_image_server(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "_plans":
        set_plans()
    else:
        sys.exit(main())
