"""CPU per request of the three benchmarked endpoints, in one process, without gunicorn or
the network: the Django WSGI handler is called directly, one request after another, on
the same database and Redis as bench/put_throughput.py (rheo_bench, Redis db 2).

    .venv/bin/python bench/cpu_per_request.py [--requests 2000] [--warmup 200] [--profile]

Each key writes its last_used_at on its first request (then at most once a minute), so
with the default 200 warm-up requests most of the first 1,000 measured PUTs pay for that
write, which PUTs under steady load do not; --warmup 1000 (one request per key) measures
the steady state.

--profile also runs the PUT under cProfile (with a CPU-time clock) and prints the
functions with the largest cumulative CPU time; the stats are saved to
bench/results/put-<time>.prof (open with `python -m pstats`).
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import put_throughput as pt  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()

    with pt.bench_world("rheo-cpu-", args.keys) as (_tmp, _keys_file, keys, env):
        os.environ.update(env)
        sys.path.insert(0, str(pt.ROOT))

        import django

        django.setup()
        from django.core.handlers.wsgi import WSGIHandler

        app = WSGIHandler()

        def call(prefix: str, external_id: str, key: str) -> None:
            environ = {
                "REQUEST_METHOD": "PUT",
                "PATH_INFO": prefix + external_id,
                "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "80",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "HTTP_HOST": "127.0.0.1",
                "HTTP_X_API_KEY": key,
                "CONTENT_TYPE": "application/json",
                "CONTENT_LENGTH": str(len(pt.BODY)),
                "wsgi.input": io.BytesIO(pt.BODY),
                "wsgi.url_scheme": "http",
                "wsgi.errors": sys.stderr,
            }
            status = []
            b"".join(app(environ, lambda s, h: status.append(s)))
            if not status[0].startswith("202"):
                raise RuntimeError(f"{prefix}{external_id}: {status[0]}")

        def run(name: str, tag: str, count: int) -> None:
            prefix = pt.ENDPOINTS[name]
            for i in range(count):
                call(prefix, f"{tag}-{i}", keys[i % len(keys)])

        print(f"CPU per request, in process, {args.requests} sequential creates each:")
        for name in pt.ENDPOINTS:
            run(name, f"warm-{name}", args.warmup)
            cpu, wall = time.process_time(), time.perf_counter()
            run(name, f"m-{name}", args.requests)
            cpu = (time.process_time() - cpu) * 1000 / args.requests
            wall = (time.perf_counter() - wall) * 1000 / args.requests
            print(f"  {name:<10}  CPU {cpu:6.2f} ms   wall {wall:6.2f} ms")

        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            run("put", "prof-put", args.requests)
            profiler.disable()
            pt.RESULTS.mkdir(exist_ok=True)
            out = pt.RESULTS / f"put-{datetime.now().strftime('%Y%m%dT%H%M%S')}.prof"
            profiler.dump_stats(out)
            print(f"\ncProfile of {args.requests} PUTs (CPU clock), saved to {out}")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
        return 0


if __name__ == "__main__":
    sys.exit(main())
