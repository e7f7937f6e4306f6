"""Where one publish and one `listing.created` delivery spend their CPU, in one process.

    .venv/bin/python bench/profile_publish.py [--items 100] [--top 25]

Fresh database rheo_bench_publish; the call budget in Redis db 7 (its keys only). The
Tradera sandbox (processing 0 s), an image host and a webhook receiver each run as a
process of their own, so only Rheo's side is measured. --items items with
autoPublishTradera, one 1600x1200 photo each (the image cache of pipeline_throughput.py),
in partners of 50, are pushed through the project's services and their image jobs run
(not measured); then, in this process, `publish_listing` for every listing and
`attempt_delivery` for every `listing.created` delivery, one after the other, as a
worker's task would run them (without Celery's own message handling; nudges go to an
in-memory broker). The first half of each is timed, the second half profiled. Prints, per
publish and per delivery: CPU ms (process time, without and with cProfile), SQL round
trips and explicit COMMITs (CaptureQueriesContext), one call's statements, Tradera calls
(the sandbox's count), and the functions with the most cumulative and own CPU time.
"""

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench import pipeline_throughput as pipeline  # noqa: E402
from bench.common import HOST, PYTHON  # noqa: E402

DB_NAME = "rheo_bench_publish"
DATABASE_URL, PG_URL = common.database_urls(DB_NAME)
REDIS_URL = "redis://127.0.0.1:6379/7"
PER_PARTNER = 50
RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def measure(label: str, calls: list, top: int) -> dict:
    """The first half of the calls timed and their SQL captured, the second half under
    cProfile, so that cProfile's overhead is not in the timed figure."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    half = len(calls) // 2
    timed, profiled = calls[:half], calls[half:]
    with CaptureQueriesContext(connection) as queries:
        started = time.process_time()
        for call in timed:
            call()
        cpu = time.process_time() - started
    statements = [q["sql"] for q in queries.captured_queries]
    commits = sum(1 for s in statements if s.upper().startswith("COMMIT"))
    profile = cProfile.Profile(time.process_time)  # CPU, not the waits
    started = time.process_time()
    profile.enable()
    for call in profiled:
        call()
    profile.disable()
    profiled_cpu = time.process_time() - started
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return {
        "label": label,
        "n": len(timed),
        "cpu_ms": 1000 * cpu / len(timed),
        "profiled_cpu_ms": 1000 * profiled_cpu / len(profiled),
        "sql_per_call": len(statements) / len(timed),
        "commits_per_call": commits / len(timed),
        "statements": statements[: len(statements) // len(timed) + 1],
        "profile": out.getvalue(),
    }


def inside_django(args, ports: dict) -> None:
    import django

    django.setup()

    from django.core.management import call_command

    from items.models import Item
    from items.pipeline import process_item
    from items.services import upsert_item
    from partners.services import create_partner
    from tradera import services as tradera
    from tradera.models import TraderaListing
    from webhooks import services as webhooks
    from webhooks.models import Delivery

    image_url = f"http://{HOST}:{ports['images']}"
    call_command("migrate", verbosity=0)
    # Partners of 50 items each (the free plan's limit is 100 test items); the first
    # publish of each makes its sandbox seller and is not measured.
    warm_up, measured = [], []
    for p in range((args.items + PER_PARTNER - 1) // PER_PARTNER):
        partner, _ = create_partner(name=f"Profile {p} AB", email=f"profile{p}@bench.invalid")
        webhooks.configure_endpoint(
            partner=partner,
            livemode=False,
            url=f"http://{HOST}:{ports['receiver']}/hooks/{p}",
            enabled=True,
            event_types=["listing.created", "listing.failed"],
        )
        for i in range(PER_PARTNER + 1):
            upsert_item(
                partner=partner,
                livemode=False,
                external_id=f"P{i:03d}",
                content=common.item_content(f"{image_url}/img/{p * (PER_PARTNER + 1) + i}.jpg"),
                auto_publish_tradera=True,
            )
        items = Item.objects.filter(partner=partner).order_by("external_id")
        for item_id in items.values_list("pk", flat=True):
            process_item(item_id=item_id)
        listings = list(
            TraderaListing.objects.filter(item__partner=partner)
            .order_by("item__external_id")
            .values_list("pk", flat=True)
        )
        assert len(listings) == PER_PARTNER + 1, "every item should have become active"
        warm_up.append(listings[0])
        measured.extend(listings[1:])
    for pk in warm_up:
        tradera.publish_listing(listing_id=pk)
    warm_deliveries = set(Delivery.objects.values_list("pk", flat=True))
    for pk in warm_deliveries:
        webhooks.attempt_delivery(delivery_id=pk)
    listings = measured[: args.items]
    calls_before = sandbox_calls(ports["sandbox"])
    publish = measure(
        "publish_listing",
        [lambda pk=pk: tradera.publish_listing(listing_id=pk) for pk in listings],
        args.top,
    )
    calls = sandbox_calls(ports["sandbox"])
    publish["tradera_calls_per_item"] = {
        op: (n - calls_before.get(op, 0)) / args.items for op, n in calls.items()
    }
    live = TraderaListing.objects.filter(status="active", pk__in=listings).count()
    deliveries = list(
        Delivery.objects.exclude(pk__in=warm_deliveries)
        .order_by("created_at")
        .values_list("pk", flat=True)
    )
    deliver = measure(
        "attempt_delivery",
        [lambda pk=pk: webhooks.attempt_delivery(delivery_id=pk) for pk in deliveries],
        args.top,
    )
    delivered = Delivery.objects.filter(status="succeeded", pk__in=deliveries).count()
    for figures in (publish, deliver):
        print(f"\n=== {figures['label']}: {figures['n']} timed calls ===")
        print(
            f"CPU {figures['cpu_ms']:.2f} ms/call (under cProfile "
            f"{figures['profiled_cpu_ms']:.2f}); SQL {figures['sql_per_call']:.1f}/call, "
            f"COMMIT {figures['commits_per_call']:.1f}/call (autocommits not counted)"
        )
        if "tradera_calls_per_item" in figures:
            print(f"Tradera calls per item: {figures['tradera_calls_per_item']}")
        print("statements of one call:")
        for sql in figures["statements"]:
            print("   ", sql[:150])
        print(figures["profile"])
    print(f"listings live: {live}/{len(listings)}; deliveries succeeded: {delivered}")


def sandbox_calls(port: int) -> dict:
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://{HOST}:{port}/control/calls", timeout=10) as r:  # noqa: S310
        return json.loads(r.read())["calls"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--image-cache", default="/tmp/rheo-bench-pipeline-images")
    args = parser.parse_args()
    images = pipeline.ensure_images(
        args.image_cache, (args.items // PER_PARTNER + 1) * (PER_PARTNER + 1)
    )
    ports = {name: common.free_port() for name in ("sandbox", "receiver", "images")}
    common.recreate_database(DB_NAME)
    with tempfile.TemporaryDirectory(prefix="rheo-profile-publish-") as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "rheo.settings",
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "CELERY_BROKER_URL": "memory://",
            "DEBUG": "0",
            "SECRET_KEY": "profile-publish-secret-key-long-enough-to-be-accepted",
            "RHEO_ALLOW_LOCAL_URLS": "1",
            "RHEO_VAR_DIR": tmp,
            "LOG_LEVEL": "WARNING",
            "TRADERA_SANDBOX_URL": f"http://{HOST}:{ports['sandbox']}/v3/",
            "TRADERA_SANDBOX_DAILY_CALLS": "100000000",
        }
        children = [
            subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "tradera.sandbox",
                    "--port",
                    str(ports["sandbox"]),
                    "--db",
                    f"{tmp}/sandbox.sqlite3",
                    "--speed",
                    "1",
                    "--processing-seconds",
                    "0",
                    "--quota",
                    "100000000",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
            ),
            subprocess.Popen([PYTHON, "-c", RECEIVER, str(ports["receiver"])]),
            subprocess.Popen(
                [PYTHON, pipeline.__file__, "_imageserver", str(ports["images"]), images["folder"]],
                cwd=ROOT,
            ),
        ]
        try:
            for port in ports.values():
                wait_for_port(port, 15)
            os.environ.update(env)
            subprocess_redis_flush()
            inside_django(args, ports)
        finally:
            for child in children:
                child.terminate()
                child.wait(10)
            subprocess_redis_flush()
            common.drop_database(DB_NAME)
    return 0


def wait_for_port(port: int, seconds: float) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def subprocess_redis_flush() -> None:
    """The sandbox's call budget is all this uses of Redis (the broker is in memory)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter("tradera:budget:sandbox:*"):
        client.delete(key)


if __name__ == "__main__":
    sys.exit(main())
