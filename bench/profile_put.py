"""Where a PUT's time goes: py-spy on one gunicorn worker under closed-loop PUT load.

    .venv/bin/python bench/profile_put.py [--seconds 20] [--endpoint put] [--idle]
    (needs py-spy: .venv/bin/pip install py-spy)

Same setup as bench/put_throughput.py (fresh rheo_bench database, Redis db 2, 1,000 keys),
but gunicorn runs ONE worker, so one process serves everything and its profile is the
whole story. wrk drives it with --connections connections (creates by default).
Writes bench/results/profile-<endpoint>-<time>.txt (collapsed stacks, for flamegraph.pl
or speedscope) and prints the functions with the most samples, inclusive and exclusive.
--idle also samples idle time (time blocked on the database, Redis, the socket).
"""

import argparse
import collections
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import put_throughput as pt  # noqa: E402

PY_SPY = str(pt.ROOT / ".venv" / "bin" / "py-spy")


# Where a sample belongs: the first rule whose marker is in its stack. Order matters
# (the image job is published from inside the transaction's exit, for instance).
CATEGORIES = [
    ("enqueue image job (send_task -> Redis, after the commit)", ["nudge_on_commit", "send_task"]),
    ("COMMIT", ["Atomic.__exit__"]),
    ("auth: API key lookup (SELECT key+partner)", ["authenticate_api_key"]),
    ("rate limit (Redis EVALSHA)", ["(rheo/ratelimit.py"]),
    ("validation (DRF ItemInputSerializer)", ["validated (integration/views.py"]),
    (
        "content fingerprint / as_fields (json, sha256)",
        ["ItemContent.fingerprint", "ItemContent.as_fields", "ItemInputSerializer.to_content"],
    ),
    ("upsert: INSERT ... ON CONFLICT DO NOTHING (autocommit)", ["_insert_unless_exists"]),
    ("upsert: update (SELECT ... FOR UPDATE, UPDATE)", ["_update_locked"]),
    ("upsert: other (Item instance, BEGIN)", ["upsert_item"]),
    ("raw upsert view (json + one SQL statement)", ["raw_upsert (bench/reference_views.py"]),
    (
        "response (DRF finalize/render, headers)",
        ["finalize_response", "SimpleTemplateResponse.render"],
    ),
    ("rest of DRF dispatch (request wrapping, negotiation, ...)", ["APIView.dispatch"]),
    ("Django middleware and handler", ["WSGIHandler.__call__"]),
    ("gunicorn: waiting for a connection", ["SyncWorker.wait"]),
    ("gunicorn: accept, parse, write, close", ["SyncWorker"]),
]


def categorize(frames: list[str]) -> str:
    for name, markers in CATEGORIES:
        if any(marker in frame for marker in markers for frame in frames):
            return name
    return "other"


def summarize(collapsed: Path, top: int) -> str:
    inclusive, exclusive, total = collections.Counter(), collections.Counter(), 0
    categories = collections.Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        count = int(count)
        frames = stack.split(";")
        total += count
        exclusive[frames[-1]] += count
        categories[categorize(frames)] += count
        for frame in set(frames):
            inclusive[frame] += count
    out = [f"{total} samples", "\n-- by part of the request --"]
    for name, _markers in CATEGORIES + [("other", [])]:
        if categories[name]:
            out.append(f"{categories[name] / total:6.1%}  {name}")
    for title, counter in (("inclusive", inclusive), ("exclusive", exclusive)):
        out.append(f"\n-- top {top} by {title} samples --")
        for frame, count in counter.most_common(top):
            out.append(f"{count / total:6.1%}  {frame}")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--endpoint", choices=list(pt.ENDPOINTS), default="put")
    parser.add_argument("--mode", choices=["create", "update"], default="create")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--idle", action="store_true", help="include idle (off-CPU) samples")
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args()
    if not shutil.which(PY_SPY):
        print("py-spy not found: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2

    with pt.bench_world("rheo-profile-", args.keys) as (tmp, keys_file, _keys, env):
        prefix = pt.ENDPOINTS[args.endpoint]
        with pt.Gunicorn(env, 1, os.path.join(tmp, "gunicorn.log")) as server:
            (worker,) = server.worker_pids()
            opts = {"connections": args.connections, "threads": 1}
            pt.run_wrk(server.port, keys_file, prefix, "warm", mode=args.mode, seconds=3, **opts)
            pt.checkpoint()
            pt.RESULTS.mkdir(exist_ok=True)
            stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
            out = (
                pt.RESULTS
                / f"profile-{args.endpoint}-{args.mode}{'-idle' if args.idle else ''}-{stamp}.txt"
            )
            spy = subprocess.Popen(
                [
                    PY_SPY,
                    "record",
                    "--pid",
                    str(worker),
                    "--format",
                    "raw",
                    "--output",
                    str(out),
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(args.seconds + 2),
                ]
                + (["--idle"] if args.idle else []),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(1)
                result = pt.run_wrk(
                    server.port,
                    keys_file,
                    prefix,
                    "prof",
                    mode=args.mode,
                    seconds=args.seconds,
                    **opts,
                )
                spy.wait(timeout=args.seconds + 30)
            finally:
                if spy.poll() is None:
                    spy.kill()
                    spy.wait()
        print(
            f"one worker, {args.endpoint} ({args.mode}): {result['rps']:.1f} req/s, "
            f"p50 {result['latency_us']['p50'] / 1000:.1f} ms, non-202 {result['non_202']}"
        )
        print(f"collapsed stacks: {out.relative_to(pt.ROOT)}")
        print(summarize(out, args.top))
        return 0


if __name__ == "__main__":
    sys.exit(main())
