"""What the benchmarks in this folder (put_throughput.py, webhook_delivery.py,
pipeline_throughput.py) share: where things are, the machine and commit a result records,
the PostgreSQL database and Redis db each benchmark owns for one run, subprocesses in
process groups of their own, CPU accounting from /proc, watching for other work on the
machine, the result JSON, and the small local HTTP servers (image host, webhook receiver).

Imported as `bench.common`: each script puts the project's root on sys.path first. psycopg
and redis are imported only inside the functions that use them, so the small servers the
scripts start from their own file (webhook receivers, image server) stay stdlib-only.
"""

import contextlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
CELERY = str(ROOT / ".venv" / "bin" / "celery")

HOST = "127.0.0.1"
PG_SERVER = "postgres@127.0.0.1:5432"
PG_ADMIN_URL = f"postgresql://{PG_SERVER}/postgres"

# Variables of the caller's environment that could configure the app under test; each
# benchmark sets what it needs itself, so nothing of the shell it runs from leaks in.
APP_VARIABLES = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
APP_PREFIXES = ("WEB_", "WORKER_", "WEBHOOK_", "RHEO_", "CELERY_", "GUNICORN_")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def database_urls(db_name: str) -> tuple[str, str]:
    """(the app's DATABASE_URL, psycopg's URL) of one benchmark's database."""
    return f"postgres://{PG_SERVER}/{db_name}", f"postgresql://{PG_SERVER}/{db_name}"


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def get_json(port: int, path: str) -> dict:
    """GET a JSON answer from one of the benchmark's own servers (their /stats)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def tagged_json(text: str, tag: str) -> dict:
    """The JSON a helper process printed on its line `TAG {...}`."""
    return json.loads(re.search(rf"^{tag} (.*)$", text, re.M).group(1))


def log_problems(text: str) -> list[str]:
    """The first 20 lines of a Celery log that report an error."""
    problems = [line for line in text.splitlines() if re.search(r"ERROR|CRITICAL|Traceback", line)]
    return problems[:20]


def unwind_on_sigterm() -> None:
    """SIGTERM (e.g. from a timeout) unwinds like Ctrl-C, so the finally blocks run and the
    subprocesses, database and Redis db are cleaned up."""

    def on_sigterm(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)


# --- what a result records --------------------------------------------------------------


def machine_info(redis_url: str, **versions) -> dict:
    """The machine, PostgreSQL's settings that matter for commits, Redis's version, and any
    further `versions` (name=version) the benchmark depends on."""
    import psycopg
    import redis

    cpu_model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo.read()).group(1))
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        pg = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("server_version", "synchronous_commit", "fsync", "shared_buffers")
        }
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem_total_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": pg,
        "redis": redis.Redis.from_url(redis_url).info("server")["redis_version"],
        **versions,
        "loadavg_at_start": os.getloadavg(),
    }


def source_version(commit: str | None = None) -> dict:
    """The commit whose code is measured, and whether tracked files differ from it (both
    None outside a git checkout, e.g. in a `git archive` export). `commit`: the one given
    on the command line for such an export, recorded as it is."""
    if commit:
        return {"commit": commit, "dirty": None, "export": str(ROOT)}

    def git(*args: str) -> str | None:
        proc = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        )
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    changes = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if changes is None else bool(changes)}


def begin_report(args, machine: dict, commit: str | None = None) -> dict:
    """A result's first keys (date, args, source, machine), logged."""
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "args": vars(args),
        "source": source_version(commit),
        "machine": machine,
    }
    log(f"source: {report['source']}; machine: {report['machine']}")
    return report


def write_results(report: dict, name: str, commit: str | None = None) -> Path:
    """bench/results/<name>-<local time>[-<commit>].json"""
    RESULTS.mkdir(exist_ok=True)
    suffix = f"-{commit[:7]}" if commit else ""
    out = RESULTS / f"{name}-{datetime.now().strftime('%Y%m%dT%H%M%S')}{suffix}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    return out


# --- the database and Redis db a benchmark owns -----------------------------------------


def recreate_database(db_name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {db_name}")


def drop_database(db_name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")


def checkpoint(pg_url: str) -> None:
    """Flush dirty pages before a measured phase, so no phase pays for another's."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def flush_redis(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


@contextlib.contextmanager
def scratch(tmp_prefix: str, db_name: str, redis_url: str, keep_db: bool = False):
    """Yields a temporary folder; on the way out (also on error, Ctrl-C or SIGTERM) flushes
    the Redis db, drops the database unless `keep_db`, and removes the folder."""
    tmp = tempfile.mkdtemp(prefix=tmp_prefix)
    try:
        yield tmp
    finally:
        flush_redis(redis_url)
        if not keep_db:
            drop_database(db_name)
        shutil.rmtree(tmp, ignore_errors=True)


def app_env(
    var_dir: str, database_url: str, redis_url: str, settings_module: str, **extra: str
) -> dict:
    """The app's environment for one benchmark: this process's, without anything that could
    configure the app, plus the benchmark's database, Redis db and `extra` variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in APP_VARIABLES and not k.startswith(APP_PREFIXES)
    }
    env.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        PYTHONPATH=str(ROOT),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        SECRET_KEY="bench-secret-key-not-for-production",
        DEBUG="0",
        LOG_LEVEL="WARNING",
        RHEO_VAR_DIR=var_dir,
        # Nothing from a developer's .env (make run writes one): the benchmark's values only.
        RHEO_ENV_FILE=os.devnull,
        **extra,
    )
    return env


def migrate(env: dict) -> None:
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True, timeout=300, start_new_session=True,
    )  # fmt: skip


def make_keys(env: dict, count: int, keys_file: str) -> str:
    """`count` partners with one live API key each (bench/make_keys.py), the keys written to
    `keys_file`; returns the id of the raw-upsert view's partner (one without a key)."""
    out = subprocess.run(
        [PYTHON, "-m", "bench.make_keys", str(count), keys_file],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=600,
        start_new_session=True,
    ).stdout  # fmt: skip
    return re.search(r"RAW_PARTNER_ID=(\S+)", out).group(1)


# --- subprocesses -----------------------------------------------------------------------


class Process:
    """A subprocess in its own process group, its output in a log file; on exit SIGTERM,
    then SIGKILL to the whole group."""

    def __init__(self, name: str, cmd: list[str], env: dict, log_path: str, stop_timeout=20):
        self.name, self.cmd, self.env, self.log_path = name, cmd, env, log_path
        self.stop_timeout = stop_timeout
        self.proc = None
        self.log = None

    def __enter__(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def text(self, offset: int = 0) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                f.seek(offset)
                return f.read()
        except OSError:
            return ""

    def size(self) -> int:
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def wait_for_line(self, pattern: str, seconds: float) -> re.Match:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text())
            if match:
                return match
            self.check_alive()
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready within {seconds} s:\n{self.tail()}")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.tail()}")

    def __exit__(self, *exc):
        if self.proc is not None:
            pgid = self.proc.pid  # start_new_session: the group's id is the leader's pid
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pgid, signal.SIGKILL)
                    self.proc.wait(timeout=5)
            with contextlib.suppress(ProcessLookupError):  # anything left in the group
                os.killpg(pgid, signal.SIGKILL)
        if self.log is not None:
            self.log.close()
        return False


def wait_http_ok(port: int, path: str, seconds: float, process: Process) -> None:
    """Until GET `path` answers 200 (or `process` exits, or `seconds` pass)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        process.check_alive()
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not answer within {seconds} s:\n{process.tail()}")


# --- CPU accounting ---------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: fields[1] is the parent's pid, fields[2]
    the process group, fields[11:15] utime, stime, cutime, cstime. None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()
    except OSError:
        return None


def proc_cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """utime + stime of the process (and, if asked, of its children that have exited)."""
    fields = stat_fields(pid)
    try:
        ticks = int(fields[11]) + int(fields[12])
        if reaped_children:
            ticks += int(fields[13]) + int(fields[14])
        return ticks / CLK_TCK
    except (TypeError, IndexError):  # gone, or not a stat line
        return 0.0


def pids_named(name: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() == name:
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def postgres_cpu_seconds() -> float:
    """All PostgreSQL processes (not only one database's), including backends that ended
    (Django reconnects every CONN_MAX_AGE seconds): the live ones plus what the postmaster
    reaped."""
    pids = set(pids_named("postgres"))
    total = 0.0
    for pid in pids:
        fields = stat_fields(pid)
        if fields is None:
            continue
        total += proc_cpu_seconds(pid, reaped_children=int(fields[1]) not in pids)
    return total


def redis_cpu_seconds() -> float:
    return sum(proc_cpu_seconds(pid) for pid in pids_named("redis-server"))


def rusage_seconds(who: int) -> float:
    """utime + stime of this process (RUSAGE_SELF) or of its reaped children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def machine_cpu_seconds() -> dict:
    """The machine's CPU seconds so far (all cores): busy, total, and steal (time the
    hypervisor gave to someone else). Underscored, so that the per-component sums of a
    snapshot leave them out."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    steal = ticks[7] if len(ticks) > 7 else 0
    return {
        "_machine_busy": (sum(ticks) - idle) / CLK_TCK,
        "_machine_total": sum(ticks) / CLK_TCK,
        "_machine_steal": steal / CLK_TCK,
    }


# --- other work on the machine ----------------------------------------------------------


class Watch:
    """Once a second, notes processes that look like other work (a test suite, another
    benchmark, a server) and are neither this benchmark's (itself, its descendants, the
    process groups in `our_groups`) nor its ancestors."""

    PATTERN = re.compile(r"pytest|gunicorn|manage\.py|celery|wrk|py-spy|bench/|ruff|mypy")

    def __init__(self):
        self.seen: dict[int, str] = {}
        self.by_phase: dict[str, set[int]] = {}
        self.phase = "setup"
        self.our_groups: set[int] = set()
        self.ancestors = set()
        pid = os.getpid()
        while pid > 1:
            self.ancestors.add(pid)
            pid = self._ppid(pid) or 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _ppid(pid: int) -> int | None:
        fields = stat_fields(pid)
        return int(fields[1]) if fields else None

    def _ours(self, pid: int) -> bool:
        if pid in self.ancestors:
            return True
        me = os.getpid()
        fields = stat_fields(pid)
        if fields is None:
            return True  # gone meanwhile: nothing to report
        if int(fields[2]) in self.our_groups:
            return True
        while pid and pid > 1:
            if pid == me:
                return True
            pid = self._ppid(pid)
        return pid is None

    def scan(self) -> dict[int, str]:
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            looker = os.path.basename(cmd.split(" ", 1)[0]) in {"pgrep", "grep", "ps"}
            if cmd and not looker and self.PATTERN.search(cmd) and not self._ours(pid):
                found[pid] = cmd[:160]
        return found

    def wait_quiet(self, quiet_for: float, give_up_after: float) -> bool:
        """Wait until no other work has been seen for `quiet_for` seconds; say what runs,
        once a minute. Another benchmark that is itself only waiting for quiet (`--wait-quiet`,
        next to no CPU) does not count: two of them would otherwise wait for each other."""
        deadline = time.monotonic() + give_up_after
        quiet_since = time.monotonic()
        last_report = 0.0
        ticks: dict[int, int] = {}
        while time.monotonic() < deadline:
            found = self.scan()
            for pid in [pid for pid, cmd in found.items() if "--wait-quiet" in cmd]:
                fields = stat_fields(pid)
                used = sum(int(v) for v in fields[11:13]) if fields else 0
                if pid in ticks and used - ticks[pid] <= CLK_TCK // 10:  # under 10 % of a core
                    del found[pid]
                ticks[pid] = used
            if found:
                quiet_since = time.monotonic()
                if time.monotonic() - last_report > 60:
                    log(f"  waiting; running now: {sorted(set(found.values()))[:4]}")
                    last_report = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_for:
                return True
            time.sleep(1)
        return False

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for pid, cmd in self.scan().items():
                self.seen.setdefault(pid, cmd)
                self.by_phase.setdefault(self.phase, set()).add(pid)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        return False

    def summary(self) -> dict:
        return {
            phase: sorted({self.seen[pid] for pid in pids}) for phase, pids in self.by_phase.items()
        }


def add_wait_quiet_option(parser) -> None:
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to SECONDS for 20 s without other work (tests, servers) running",
    )


def wait_for_quiet(watch: Watch, seconds: float) -> None:
    """--wait-quiet: up to `seconds` for 20 s without other work; then start anyway."""
    if seconds:
        log(f"waiting up to {seconds:.0f} s for 20 s without other work running")
        if not watch.wait_quiet(20, seconds):
            log(f"not quiet; starting anyway. Running now: {sorted(watch.scan().values())}")


# --- the small local servers the benchmarks start (image host, webhook receiver) ----------


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (one line per request would cost the machine
    what is being measured) and answers with `reply`."""

    def reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(port: int, handler: type[BaseHTTPRequestHandler]) -> None:
    """Serves `handler` on HOST:port, a thread per connection, until the process is
    stopped (SIGTERM exits cleanly); prints READY once it listens (Child.wait_for_line)."""

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server((HOST, port), handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("READY", flush=True)
    server.serve_forever()


def item_content(*image_urls: str):
    """The benchmarks' item (the Quick Start's brake caliper), for items.services.upsert_item
    in a process where Django is set up."""
    from decimal import Decimal

    from items.services import ItemContent

    return ItemContent(
        title="Volvo XC90 bromsok fram vänster",
        description="Testad och fungerande. Skick B.",
        price=Decimal("950"),
        shipping_cost=Decimal("149"),
        weight_kg=Decimal("3.2"),
        currency="SEK",
        image_urls=image_urls,
        domain=None,
        use_ai_enhancement=False,
    )
