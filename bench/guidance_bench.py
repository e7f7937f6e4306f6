"""Price guidance over 1,000,000 completed sales: the nightly full refresh, a sale's
incremental update and the reads, each against a plain COUNT over the same sales measured
in the same run (see bench/README.md, "Price guidance benchmark").

    .venv/bin/python bench/guidance_bench.py                     # ~5 min quiet
    .venv/bin/python bench/guidance_bench.py --sales 100000      # a small run

What one run does, on 127.0.0.1 and bounded in time:
  1. drops and recreates its PostgreSQL database (--database), migrates it;
  2. creates --partners partners through partners.services, then --sales sold items and
     --unsold items that left unsold with one INSERT … SELECT FROM generate_series each:
     --oem-codes OEM codes (each with grades A to D), 10 makes, 50 models, donor years
     1995–2024, titles that the seeded category rules map to 8 categories; prices and
     days to sale spread per OEM code; VACUUM ANALYZE;
  3. baseline: SELECT COUNT(*) over the sales, and a scan that reads what the refresh reads
     (COUNT and SUM of price over the outcome items), --repeat times each, median;
  4. the full refresh (tradera.guidance.refresh_all), --refresh-runs times: seconds and
     rows written, and its ratio to the baseline scan;
  5. the incremental update of a sale (update_for_item) for --updates random sold items;
  6. the reads: for_items over a page of 50 items, for_oem, each --reads times;
  7. prints the table, writes bench/results/guidance_bench-<time>.json, drops the database
     (unless --keep-db), also on an error or Ctrl-C.
Steps 3–6 run inside Django in a process of its own (`_measure`), with the benchmark's
database only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import PYTHON, log  # noqa: E402

SELF = str(Path(__file__).resolve())
TITLES = [
    "Bromsok fram vänster",
    "Bromsskiva bak",
    "Strålkastare höger",
    "Baklykta vänster",
    "Växellåda manuell",
    "Backspegel höger",
    "Startmotor",
    "Generator",
]
MAKES = ["Volvo", "Saab", "Volkswagen", "Audi", "BMW", "Toyota", "Ford", "Kia", "Skoda", "Opel"]

# Rows for items_item; $n are filled by _generate. i runs over generate_series.
INSERT = """
INSERT INTO items_item (
  id, partner_id, livemode, external_id, status, title, description, price, shipping_cost,
  currency, image_urls, domain, auto_publish_tradera, use_ai_enhancement,
  content_fingerprint, created_via, enhanced_title, enhanced_description,
  enhanced_fingerprint, search_text, created_at, updated_at, status_changed_at, sold_at,
  sold_platform, sale_price)
SELECT
  gen_random_uuid(), partners[1 + (i / %(oems)s) %% cardinality(partners)], true, %(prefix)s || i,
  %(status)s, titles[1 + (i / 7) %% cardinality(titles)], '', price, 99, 'SEK', '[]',
  jsonb_build_object(
    'domain', 'automotive_part',
    'oemCode', 'OEM-' || (i %% %(oems)s),
    'manufacturer', makes[1 + (i %% %(oems)s) %% cardinality(makes)],
    'compatibleModels', jsonb_build_array('M' || ((i %% %(oems)s) %% 50)),
    'donorVehicleYear', 1995 + (i %% %(oems)s) %% 30,
    'conditionGrade', (ARRAY['A','B','C','D'])[1 + (i / 3) %% 4]),
  false, false, '', 'PUT', '', '', '', '', created, created, created,
  CASE WHEN %(sold)s THEN created + make_interval(days => 1 + (i * 7) %% 90) END,
  CASE WHEN %(sold)s THEN (ARRAY['tradera','rheo'])[1 + i %% 2] ELSE '' END,
  CASE WHEN %(sold)s THEN price END
FROM generate_series(1, %(count)s) AS i,
  LATERAL (SELECT (200 + (i %% %(oems)s) %% 1000 + (i * 37) %% 400)::numeric AS price,
                  now() - make_interval(days => 100 + i %% 600) AS created) AS v,
  (SELECT %(partners)s::uuid[] AS partners, %(titles)s::text[] AS titles,
          %(makes)s::text[] AS makes) AS lists
"""


def _generate(pg_url: str, partner_ids: list[str], args) -> dict:
    import psycopg

    seconds = {}
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for name, count, status, sold in (
            ("sales", args.sales, "sold", True),
            ("unsold", args.unsold, "not_listed", False),
        ):
            started = time.perf_counter()
            conn.execute(
                INSERT,
                {
                    "prefix": f"{name}-", "status": status, "sold": sold, "count": count,
                    "oems": args.oem_codes, "partners": partner_ids, "titles": TITLES,
                    "makes": MAKES,
                },
            )  # fmt: skip
            seconds[name] = round(time.perf_counter() - started, 1)
            log(f"generated {count:,} {name} in {seconds[name]} s")
        conn.execute("VACUUM ANALYZE items_item")
    return seconds


def _median_seconds(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(args_json: str) -> None:
    """Inside Django (the benchmark's database): steps 3 to 6; prints one JSON line."""
    import random

    import django

    django.setup()
    from django.db import connection

    from items.models import Item
    from tradera import guidance

    args = json.loads(args_json)
    result: dict = {}

    def sql(statement: str):
        def run():
            with connection.cursor() as cursor:
                cursor.execute(statement)
                cursor.fetchall()

        return run

    count_sales = sql("SELECT COUNT(*) FROM items_item WHERE sold_at IS NOT NULL")
    scan = sql(
        "SELECT COUNT(*), SUM(sale_price) FROM items_item WHERE livemode AND "
        "(sold_at IS NOT NULL OR status = 'not_listed')"
    )
    count_sales()  # warm the cache
    result["count_s"] = _median_seconds(count_sales, args["repeat"])
    result["scan_s"] = _median_seconds(scan, args["repeat"])
    log(f"baseline: COUNT {result['count_s']:.3f} s, scan {result['scan_s']:.3f} s")

    refreshes = []
    for _ in range(args["refresh_runs"]):
        started = time.perf_counter()
        rows = guidance.refresh_all()
        refreshes.append(time.perf_counter() - started)
        log(f"full refresh: {refreshes[-1]:.1f} s, {rows:,} rows")
    result["refresh_s"] = refreshes
    result["guidance_rows"] = rows

    ids = list(
        Item.objects.filter(sold_at__isnull=False)
        .order_by("?")
        .values_list("pk", flat=True)[: args["updates"]]
    )
    from items.guidance import GuidanceUpdate

    updates = []
    for pk in ids:
        GuidanceUpdate.objects.create(item_id=pk)
        started = time.perf_counter()
        guidance.update_for_item(item_id=pk)
        updates.append(time.perf_counter() - started)
    result["update_s"] = updates
    log(f"update of a sale: median {statistics.median(updates) * 1000:.0f} ms")

    page = list(Item.objects.filter(sold_at__isnull=True).order_by("?")[:50])
    result["for_items_page_s"] = _median_seconds(lambda: guidance.for_items(page), args["reads"])
    codes = [f"OEM-{random.randrange(args['oem_codes'])}" for _ in range(args["reads"])]
    grades = iter(random.choice("ABCD") for _ in range(args["reads"] * 2))
    code_iter = iter(codes * 2)
    result["for_oem_s"] = _median_seconds(
        lambda: guidance.for_oem(next(code_iter), next(grades)), args["reads"]
    )
    found = sum(1 for row in guidance.for_items(page).values() if row is not None)
    result["page_items_with_guidance"] = found
    print("RESULT " + json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--unsold", type=int, default=250_000)
    parser.add_argument("--oem-codes", type=int, default=20_000)
    parser.add_argument("--partners", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--refresh-runs", type=int, default=2)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--database", default="rheo_guidance_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--keep-db", action="store_true")
    common.add_wait_quiet_option(parser)
    args = parser.parse_args()
    common.unwind_on_sigterm()

    database_url, pg_url = common.database_urls(args.database)
    machine = common.machine_info(args.redis_url)
    report = common.begin_report(args, machine)
    common.recreate_database(args.database)
    try:
        env = common.app_env(
            os.devnull, database_url, args.redis_url, "rheo.settings",
            RHEO_GUIDANCE_MIN_SALES="10", RHEO_GUIDANCE_MIN_SELLERS="3",
        )  # fmt: skip
        env["RHEO_VAR_DIR"] = str(ROOT / "var")
        common.migrate(env)
        made = subprocess.run(
            [PYTHON, SELF, "_partners", str(args.partners)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        partner_ids = json.loads(made.stdout.strip().splitlines()[-1])
        report["generate_s"] = _generate(pg_url, partner_ids, args)
        common.checkpoint(pg_url)
        if args.wait_quiet:
            common.wait_for_quiet(common.Watch(), args.wait_quiet)
        measured = subprocess.run(
            [PYTHON, SELF, "_measure", json.dumps(vars(args))],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=3600,
        )  # fmt: skip
        sys.stderr.write(measured.stderr)
        line = next(x for x in measured.stdout.splitlines() if x.startswith("RESULT "))
        report["result"] = result = json.loads(line[len("RESULT ") :])
    finally:
        if not args.keep_db:
            common.drop_database(args.database)
    count, scan = result["count_s"], result["scan_s"]
    refresh = statistics.median(result["refresh_s"])
    updates = sorted(result["update_s"])
    rows = [
        ("COUNT(*) over the sales (baseline)", f"{count * 1000:.0f} ms", "1"),
        ("scan of the outcome items (COUNT, SUM)", f"{scan * 1000:.0f} ms", f"{scan / count:.1f}"),
        ("full refresh (median)", f"{refresh:.1f} s", f"{refresh / count:.0f}"),
        ("update of one sale (median)", f"{statistics.median(updates) * 1000:.0f} ms",
         f"{statistics.median(updates) / count:.2f}"),
        ("update of one sale (max)", f"{updates[-1] * 1000:.0f} ms", f"{updates[-1] / count:.2f}"),
        ("read: a page of 50 items (for_items)", f"{result['for_items_page_s'] * 1000:.1f} ms",
         f"{result['for_items_page_s'] / count:.3f}"),
        ("read: one OEM code and grade (for_oem)", f"{result['for_oem_s'] * 1000:.1f} ms",
         f"{result['for_oem_s'] / count:.3f}"),
    ]  # fmt: skip
    report["table"] = rows
    print(f"\n{args.sales:,} sales, {args.unsold:,} unsold, {result['guidance_rows']:,} rows")
    print("| measurement | time | ÷ COUNT |\n|---|---:|---:|")
    for name, value, ratio in rows:
        print(f"| {name} | {value} | {ratio} |")
    log(f"results: {common.write_results(report, 'guidance_bench')}")


def make_partners(count: int) -> None:
    import django

    django.setup()
    from partners import services

    ids = []
    for n in range(count):
        partner, _ = services.create_partner(
            name=f"Bench dismantler {n}", email=f"bench{n}@guidance.example", password="x" * 12
        )
        ids.append(str(partner.pk))
    print(json.dumps(ids))


if __name__ == "__main__":
    if sys.argv[1:2] == ["_measure"]:
        measure(sys.argv[2])
    elif sys.argv[1:2] == ["_partners"]:
        make_partners(int(sys.argv[2]))
    else:
        main()
