"""PUT /integration/v1/items/:external_id under gunicorn on PostgreSQL and Redis, against
two references served by the same gunicorn (see bench/README.md).

    .venv/bin/python bench/put_throughput.py                 # from /work/main
    .venv/bin/python bench/put_throughput.py --workers 2,3,4 # sweep WEB_CONCURRENCY

What one run does, all on 127.0.0.1 and bounded in time:
  1. drops and recreates the PostgreSQL database rheo_bench, migrates it, flushes Redis db 2;
  2. creates --keys partners with one live API key each (partners.services);
  3. for each worker count: starts gunicorn (rheo.gunicorn, bench.settings), then
     - one request per key (so every key has been used, as in steady use),
     - --rounds rounds of closed loops (wrk, fixed duration after a warm-up), same PUT
       request to each of /bench/bare/:id, /bench/raw-upsert/:id and
       /integration/v1/items/:id (creates), in turn; the median round's ratio is reported,
     - closed loop of PUTs that update existing items (and the same for raw upsert),
     - open loop at --rate requests/s (Python, latency from the scheduled send time, so
       a stalled server is not hidden by a stalled client) to each of the three;
     then stops gunicorn;
  4. prints the table, writes bench/results/put_throughput-<time>.json, flushes Redis db 2
     and drops the database (unless --keep-db).
gunicorn is stopped, and the database and Redis db cleaned, even when a step fails.
"""

import argparse
import contextlib
import http.client
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

# RESULTS also for cpu_per_request.py and profile_put.py, which use this module's names
from bench.common import HOST, RESULTS, log  # noqa: E402, F401

BENCH = ROOT / "bench"
WRK = shutil.which("wrk")

DB_NAME = "rheo_bench"
DATABASE_URL, PG_URL = common.database_urls(DB_NAME)
REDIS_URL = "redis://127.0.0.1:6379/2"

PUT_PREFIX = "/integration/v1/items/"
ENDPOINTS = {  # name -> path prefix; the same request goes to all three
    "bare": "/bench/bare/",
    "raw_upsert": "/bench/raw-upsert/",
    "put": PUT_PREFIX,
}

# The body wrk sends (bench/put.lua has the same one), for the Python open-loop client.
BODY = json.dumps(
    {
        "title": "Volvo XC90 bromsok fram vänster",
        "description": (
            "Testad och fungerande. Skick B. Demonterad från en XC90 2018 med 12 000 mil."
        ),
        "price": 950,
        "shippingCost": 149,
        "weightKg": 3.2,
        "currency": "SEK",
        "imageUrls": [f"https://cdn.example.com/parts/12345/{n}.jpg" for n in (1, 2, 3)],
        "domain": {
            "domain": "automotive_part",
            "oemCode": "31400452",
            "manufacturer": "Volvo",
            "compatibleModels": ["XC90", "XC90 II"],
            "donorVehicleYear": 2018,
            "conditionGrade": "B",
        },
        "autoPublishTradera": True,
        "useAiEnhancement": False,
    }
).encode()


# --- the machine, database, Redis, keys -------------------------------------------------


def machine_info() -> dict:
    wrk_version = subprocess.run([WRK, "--version"], capture_output=True, text=True).stdout
    return common.machine_info(REDIS_URL, wrk=wrk_version.splitlines()[0] if wrk_version else None)


def checkpoint() -> None:
    common.checkpoint(PG_URL)


def app_env(var_dir: str, raw_partner_id: str = "") -> dict:
    return common.app_env(
        var_dir, DATABASE_URL, REDIS_URL, "bench.settings", BENCH_RAW_PARTNER_ID=raw_partner_id
    )


@contextlib.contextmanager
def bench_world(tmp_prefix: str, nkeys: int, keep_db: bool = False):
    """A fresh database with `nkeys` partners (one live key each), a clean Redis db and a
    temporary folder, all removed afterwards (also on error or SIGTERM).
    Yields (tmp, keys_file, keys, env): env is the app's environment for this world."""
    with common.scratch(tmp_prefix, DB_NAME, REDIS_URL, keep_db) as tmp:
        common.recreate_database(DB_NAME)
        common.flush_redis(REDIS_URL)
        common.migrate(app_env(tmp))
        keys_file = os.path.join(tmp, "keys.txt")
        raw_partner_id = common.make_keys(app_env(tmp), nkeys, keys_file)
        keys = Path(keys_file).read_text().split()
        yield tmp, keys_file, keys, app_env(tmp, raw_partner_id)


# --- gunicorn ---------------------------------------------------------------------------


class Gunicorn(common.Process):
    """gunicorn -c python:rheo.gunicorn rheo.wsgi, in its own process group, on a free port;
    entered once it answers /healthz."""

    def __init__(self, env: dict, workers: int, log_path: str):
        self.port = common.free_port()
        super().__init__(
            "gunicorn",
            [common.GUNICORN, "-c", "python:rheo.gunicorn", "rheo.wsgi"],
            {**env, "HOST": HOST, "PORT": str(self.port), "WEB_CONCURRENCY": str(workers)},
            log_path,
            stop_timeout=25,  # graceful: the master stops its workers
        )

    def __enter__(self):
        super().__enter__()
        try:
            common.wait_http_ok(self.port, "/healthz", 30, self)
        except BaseException:
            self.__exit__(None, None, None)  # `with` does not call it when entering fails
            raise
        return self

    def worker_pids(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in out.split()]


# --- CPU accounting ---------------------------------------------------------------------


def cpu_snapshot(server: Gunicorn) -> dict:
    """CPU seconds used so far by each part of the system, and the machine's busy/total."""
    return {
        "gunicorn_workers": sum(common.proc_cpu_seconds(pid) for pid in server.worker_pids()),
        "postgres": common.postgres_cpu_seconds(),
        "redis": common.redis_cpu_seconds(),
        "load_generator": common.rusage_seconds(resource.RUSAGE_CHILDREN)
        + common.rusage_seconds(resource.RUSAGE_SELF),
        **common.machine_cpu_seconds(),
    }


def cpu_per_request(before: dict, after: dict, requests: int) -> dict:
    """Milliseconds of CPU per request by component, and the machine's busy share."""
    out = {
        name: round((after[name] - before[name]) * 1000 / max(requests, 1), 3)
        for name in before
        if not name.startswith("_")
    }
    total = after["_machine_total"] - before["_machine_total"]
    out["machine_busy_share"] = round((after["_machine_busy"] - before["_machine_busy"]) / total, 3)
    out["machine_steal_share"] = round(
        (after["_machine_steal"] - before["_machine_steal"]) / total, 3
    )
    return out


# --- load generators --------------------------------------------------------------------


def run_wrk(
    port, keys_file, path_prefix, tag, *, mode, seconds, connections, threads, nitems=1000
) -> dict:
    cmd = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "put.lua"),
        f"http://{HOST}:{port}",
        "--",
        keys_file,
        path_prefix,
        tag,
        mode,
        str(nitems),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^BENCH_JSON (.*)$", proc.stdout, re.M)
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result = json.loads(match.group(1))
    seconds_run = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / seconds_run
    result["rps_202"] = result["status"]["202"] / seconds_run
    result["non_202"] = result["requests"] - result["status"]["202"]
    result["socket_error_count"] = sum(result["socket_errors"].values())
    return result


def open_loop(port, keys, path_prefix, tag, *, rate, seconds, max_in_flight=64) -> dict:
    """Issue requests at fixed times (rate per second), whatever the server does. Latency
    is measured from the scheduled send time, so queueing in this client counts too."""
    count = int(rate * seconds)
    results: list = [None] * count

    def send(i: int, scheduled: float) -> None:
        status = -1
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            conn.request(
                "PUT",
                f"{path_prefix}{tag}-{i}",
                body=BODY,
                headers={"x-api-key": keys[i % len(keys)], "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError:
            pass
        finally:
            conn.close()
        results[i] = (time.perf_counter() - scheduled, status)

    with ThreadPoolExecutor(max_workers=max_in_flight) as pool:
        start = time.perf_counter() + 0.1
        for i in range(count):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, i, scheduled)
    latencies = sorted(r[0] * 1000 for r in results)
    statuses: dict[str, int] = {}
    for _, status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1

    return {
        "rate": rate,
        "seconds": seconds,
        "requests": count,
        "status": statuses,
        "non_202": count - statuses.get("202", 0),
        "latency_ms": {
            "mean": statistics.fmean(latencies),
            "p50": common.percentile(latencies, 50),
            "p90": common.percentile(latencies, 90),
            "p99": common.percentile(latencies, 99),
            "max": latencies[-1],
        },
    }


def log_closed_loop(kind: str, name: str, r: dict) -> None:
    p50, p99 = r["latency_us"]["p50"] / 1000, r["latency_us"]["p99"] / 1000
    log(
        f"  {kind} {name:<10} {r['rps']:8.1f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"
        f"  non-202 {r['non_202']}  socket errors {r['socket_error_count']}"
    )
    log(f"    CPU ms/request: {r['cpu_ms_per_request']}")


# --- one gunicorn configuration ---------------------------------------------------------


def use_every_key(port: int, keys: list[str]) -> None:
    """One request per key (a GET of an item that does not exist: 404) before anything is
    measured, as every key of a partner in steady use has made one: its first request in a
    minute also writes the key's last_used_at (partners.services). The warm-up alone
    reached only the first ~700 of 1,000 keys, so the measured run paid ~300 first
    requests that a running system does not."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    for key in keys:
        conn.request("GET", PUT_PREFIX + "bench-no-such-item", headers={"x-api-key": key})
        response = conn.getresponse()
        response.read()
        if response.status != 404:
            raise SystemExit(f"using key {key[:14]}...: {response.status}, not 404")
    conn.close()


def warm_then_measure(server, keys_file, prefix, tags, mode, args, wrk_opts, **extra) -> dict:
    """A warm-up wrk run, then the measured one with the server's CPU per request."""
    warm_tag, tag = tags
    common = {"mode": mode, **wrk_opts, **extra}
    run_wrk(server.port, keys_file, prefix, warm_tag, seconds=args.warmup, **common)
    checkpoint()
    before = cpu_snapshot(server)
    r = run_wrk(server.port, keys_file, prefix, tag, seconds=args.duration, **common)
    r["cpu_ms_per_request"] = cpu_per_request(before, cpu_snapshot(server), r["requests"])
    return r


def bench_config(env, workers, keys_file, keys, args, tmp) -> dict:
    result = {"workers": workers, "throughput": {}, "update": {}, "open_loop": {}}
    wrk_opts = {"connections": args.connections, "threads": args.wrk_threads}
    with Gunicorn(env, workers, os.path.join(tmp, f"gunicorn-w{workers}.log")) as server:
        log(f"gunicorn up on port {server.port}: {workers} workers (pids {server.worker_pids()})")
        port = server.port
        use_every_key(port, keys)

        # The three endpoints in turn, round after round, every other round in reverse
        # order: the machine's speed drifts by more than the effects measured here (the
        # raw upsert made 538 and 693 req/s in two runs five minutes apart, the bare view
        # 2,553 and 1,503 in one run), so a round compares runs seconds apart, and going
        # back and forth keeps a drift from favouring the endpoint measured first.
        rounds = []
        for n in range(args.rounds):
            measured = {}
            order = list(ENDPOINTS.items())
            for name, prefix in order if n % 2 == 0 else reversed(order):
                tags = (f"w{workers}-warm{n}-{name}", f"w{workers}-tp{n}-{name}")
                measured[name] = warm_then_measure(
                    server, keys_file, prefix, tags, "create", args, wrk_opts
                )
                log_closed_loop(f"closed loop, round {n + 1}", name, measured[name])
            rounds.append(measured)
        result["ratio_put_raw_rounds"] = [r["put"]["rps"] / r["raw_upsert"]["rps"] for r in rounds]
        # The round with the median ratio is the one shown (the lower middle one of an
        # even number); the ratio reported is the median of all rounds.
        by_ratio = sorted(range(len(rounds)), key=lambda n: result["ratio_put_raw_rounds"][n])
        result["throughput"] = rounds[by_ratio[(len(rounds) - 1) // 2]]

        if not args.skip_update:
            for name in ("raw_upsert", "put"):
                tag = f"w{workers}-upd-{name}"
                # the warm-up's first pass creates the items; the measured run updates them
                r = warm_then_measure(
                    server,
                    keys_file,
                    ENDPOINTS[name],
                    (tag, tag),
                    "update",
                    args,
                    wrk_opts,
                    nitems=args.update_items,
                )
                result["update"][name] = r
                log_closed_loop("update loop", name, r)

        for name, prefix in ENDPOINTS.items():
            checkpoint()
            time.sleep(1)
            before = cpu_snapshot(server)
            r = open_loop(
                port,
                keys,
                prefix,
                f"w{workers}-ol-{name}",
                rate=args.rate,
                seconds=args.latency_duration,
            )
            r["cpu_ms_per_request"] = cpu_per_request(before, cpu_snapshot(server), r["requests"])
            result["open_loop"][name] = r
            lat = r["latency_ms"]
            log(
                f"  open loop {args.rate} rps {name:<10} p50 {lat['p50']:6.1f} ms"
                f"  p99 {lat['p99']:6.1f} ms  max {lat['max']:6.1f} ms  non-202 {r['non_202']}"
            )
            log(f"    CPU ms/request: {r['cpu_ms_per_request']}")

    tp = result["throughput"]
    result["ratio_put_raw"] = statistics.median(result["ratio_put_raw_rounds"])
    result["ratio_put_bare"] = tp["put"]["rps"] / tp["bare"]["rps"]
    return result


def sanity() -> dict:
    """What the runs left behind: every PUT that created an item must have published
    exactly one image job to Redis (no worker consumes them during the benchmark)."""
    with psycopg.connect(PG_URL) as conn:
        rows = dict(
            conn.execute(
                "SELECT split_part(external_id, '-', 1) || '-' || split_part(external_id, '-', 2)"
                " || '-' || split_part(external_id, '-', 3), count(*) FROM items_item GROUP BY 1"
            ).fetchall()
        )
    put_rows = sum(n for phase, n in rows.items() if phase.endswith("-put"))
    queued = redis.Redis.from_url(REDIS_URL).llen("images")
    return {
        "item_rows_by_phase": rows,
        "put_created_rows": put_rows,
        "image_jobs_in_redis": queued,
        "one_job_per_created_item": put_rows == queued,
    }


# --- report -----------------------------------------------------------------------------


def row(cells: list[str], columns: list[tuple[str, int]]) -> str:
    return " | ".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, columns, strict=True))


def print_table(report: dict) -> None:
    machine, args = report["machine"], report["args"]
    print()
    print(
        f"PUT benchmark, {report['date']}, {machine['nproc']} cores ({machine['cpu_model']}), "
        f"PostgreSQL {machine['postgresql']['server_version']}, Redis {machine['redis']}; "
        f"commit {report['source']['commit'] or 'unknown (not a git checkout)'}"
        f"{' with local changes' if report['source']['dirty'] else ''}"
    )
    print(
        f"closed loop: wrk -t{args['wrk_threads']} -c{args['connections']}, "
        f"{args['duration']} s per endpoint after {args['warmup']} s warm-up, "
        f"{args.get('rounds', 1)} rounds; "
        f"open loop: {args['rate']} req/s for {args['latency_duration']} s"
    )
    columns = [
        ("workers", 7), ("bare r/s", 9), ("raw r/s", 8), ("PUT r/s", 8), ("PUT/raw", 7),
        ("PUT/bare", 8), ("PUT p50", 8), ("PUT p99", 8), ("raw p99", 8),
        ("non-202 bare/raw/PUT/open-loop PUT", 34),
    ]  # fmt: skip
    header = row([title for title, _ in columns], columns)
    print(header)
    print("-" * len(header))
    for cfg in report["configs"]:
        tp, ol = cfg["throughput"], cfg["open_loop"]
        non202 = "/".join(str(tp[n]["non_202"]) for n in ENDPOINTS) + f"/{ol['put']['non_202']}"
        cells = [
            str(cfg["workers"]),
            f"{tp['bare']['rps']:.0f}",
            f"{tp['raw_upsert']['rps']:.0f}",
            f"{tp['put']['rps']:.0f}",
            f"{cfg['ratio_put_raw']:.1%}",
            f"{cfg['ratio_put_bare']:.1%}",
            f"{ol['put']['latency_ms']['p50']:.1f} ms",
            f"{ol['put']['latency_ms']['p99']:.1f} ms",
            f"{ol['raw_upsert']['latency_ms']['p99']:.1f} ms",
            non202,
        ]
        print(row(cells, columns))
        ratios = ", ".join(f"{ratio:.1%}" for ratio in cfg.get("ratio_put_raw_rounds", []))
        print(f"{'':>7}   PUT/raw by round: {ratios} (PUT/raw: their median; r/s: a middle round)")
        if cfg["update"]:
            raw, put = cfg["update"]["raw_upsert"], cfg["update"]["put"]
            print(
                f"{'':>7}   updates: raw {raw['rps']:.0f} r/s, PUT {put['rps']:.0f} r/s "
                f"({put['rps'] / raw['rps']:.1%}); non-202 raw {raw['non_202']}, "
                f"PUT {put['non_202']}"
            )

    best = max(report["configs"], key=lambda c: c["throughput"]["put"]["rps"])
    print()
    print(
        f"CPU per request, ms (workers={best['workers']}; machine busy = share of all cores in "
        "use, steal = share taken by the hypervisor)"
    )
    columns = [("run", 20), ("gunicorn", 8), ("postgres", 8), ("redis", 6), ("load gen", 8)]
    columns += [("machine busy", 12), ("steal", 5)]
    print(row([title for title, _ in columns], columns))
    runs = [(f"{name} (create)", r) for name, r in best["throughput"].items()]
    runs += [(f"{name} (update)", r) for name, r in best["update"].items()]
    runs += [(f"{name} @{args['rate']}/s", r) for name, r in best["open_loop"].items()]
    for label, r in runs:
        cpu = r["cpu_ms_per_request"]
        cells = [label] + [
            f"{cpu[part]:.2f}"
            for part in ("gunicorn_workers", "postgres", "redis", "load_generator")
        ]
        cells += [f"{cpu['machine_busy_share']:.0%}", f"{cpu['machine_steal_share']:.0%}"]
        print(row(cells, columns))

    p99 = best["open_loop"]["put"]["latency_ms"]["p99"]
    verdict = {True: "met", False: "NOT met"}
    print()
    print(
        f"best PUT throughput at {best['workers']} workers: PUT/raw {best['ratio_put_raw']:.1%} "
        f"(goal >= 50%: {verdict[best['ratio_put_raw'] >= 0.5]}); PUT p99 at {args['rate']} "
        f"req/s {p99:.1f} ms (goal < 50 ms: {verdict[p99 < 50]})"
    )
    others = report["foreign_processes"].get("measuring", [])
    print(
        f"load average when measuring started {report['machine']['loadavg_at_measuring'][0]:.1f}; "
        f"other work seen while measuring: {others[:4] if others else 'none'}"
    )
    check = report["sanity"]
    print(
        f"sanity: {check['put_created_rows']} items created by PUT, "
        f"{check['image_jobs_in_redis']} image jobs published to Redis "
        f"(one per created item: {check['one_job_per_created_item']})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers",
        default="4",
        help="WEB_CONCURRENCY values, comma separated (4 was best of 2, 3, 4 here)",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per closed-loop run")
    parser.add_argument(
        "--rounds", type=int, default=4, help="closed-loop rounds of the three endpoints"
    )
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per endpoint")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--keys", type=int, default=1000, help="partners, one API key each")
    parser.add_argument(
        "--update-items", type=int, default=1000, help="items the update runs cycle over"
    )
    parser.add_argument("--rate", type=int, default=100, help="open-loop requests per second")
    parser.add_argument(
        "--latency-duration", type=int, default=15, help="seconds per open-loop run"
    )
    parser.add_argument("--skip-update", action="store_true", help="skip the update runs")
    common.add_wait_quiet_option(parser)
    parser.add_argument(
        "--keep-db", action="store_true", help="leave rheo_bench in place at the end"
    )
    args = parser.parse_args()
    workers_list = [int(w) for w in args.workers.split(",")]
    if not WRK:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2

    common.unwind_on_sigterm()
    report = common.begin_report(args, machine_info())
    report["configs"] = []
    if report["machine"]["loadavg_at_start"][0] > 0.5:
        log(
            f"warning: load average {report['machine']['loadavg_at_start']} before start; "
            "something else is using the CPU"
        )
    log(f"recreating database {DB_NAME}; migrating, creating {args.keys} partners + keys")
    watch = common.Watch()
    with bench_world("rheo-bench-", args.keys, args.keep_db) as (tmp, keys_file, keys, env):
        common.wait_for_quiet(watch, args.wait_quiet)
        report["machine"]["loadavg_at_measuring"] = os.getloadavg()
        with watch:
            watch.phase = "measuring"
            for workers in workers_list:
                report["configs"].append(bench_config(env, workers, keys_file, keys, args, tmp))
        report["sanity"] = sanity()
    report["machine"]["loadavg_at_end"] = os.getloadavg()
    report["foreign_processes"] = watch.summary()
    print_table(report)
    out = common.write_results(report, "put_throughput")
    log(f"results written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
