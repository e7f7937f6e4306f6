"""A PostgreSQL cluster and a Redis server of the suite's own, in its scratch folder, on
free ports: restarting them disturbs nothing else on the machine (the shared servers on
5432 and 6379 serve other test runs).

As root, PostgreSQL runs as the `postgres` user (it refuses to run as root), which is
given the cluster's folder."""

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import time

from bench.common import HOST, free_port, log


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found (install PostgreSQL's server package)")
    return path


class Postgres:
    def __init__(self, folder: str):
        self.folder = folder
        self.data = os.path.join(folder, "data")
        self.logfile = os.path.join(folder, "postgres.log")
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def url(self, db: str = "rheo") -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{db}"

    def _run(self, *cmd: str, timeout: float = 120) -> None:
        subprocess.run(
            [*self.as_user, *cmd], check=True, timeout=timeout, capture_output=True,
            start_new_session=True,
        )  # fmt: skip

    def create(self) -> None:
        os.makedirs(self.folder)
        if self.as_user:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self._run(_pg_bin("initdb"), "-D", self.data, "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-sync")  # fmt: skip
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '{HOST}'\n"
                f"unix_socket_directories = '{self.folder}'\nmax_connections = 200\n"
            )
        self.start()
        import psycopg

        with psycopg.connect(self.url("postgres").replace("postgres://", "postgresql://"),
                             autocommit=True) as conn:  # fmt: skip
            conn.execute("CREATE DATABASE rheo")

    def _pg_ctl(self, *args: str) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", self.data, "-l", self.logfile, "-w", "-t", "120", *args)

    def start(self) -> None:
        self._pg_ctl("start")

    def restart(self) -> None:
        """Fast shutdown (every session is disconnected), then start."""
        self._pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            with contextlib.suppress(subprocess.SubprocessError):
                self._pg_ctl("-m", "immediate", "stop")

    def version(self) -> str:
        return subprocess.run(
            [_pg_bin("postgres"), "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()


class Redis:
    """redis-server without persistence: a restart loses everything, as a crash of a
    cache-only Redis would. `save_then_stop` keeps a snapshot for the next start, for
    an outage after which Redis comes back with its data."""

    def __init__(self, folder: str):
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.logfile = os.path.join(folder, "redis.log")

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        os.makedirs(self.folder, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "",
             "--appendonly", "no", "--dir", self.folder, "--logfile", self.logfile],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not self.ping():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"redis-server did not start; see {self.logfile}")
            time.sleep(0.05)

    def ping(self) -> bool:
        import redis

        try:
            return redis.Redis.from_url(self.url, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def restart_empty(self, down_seconds: float = 0) -> None:
        """SIGKILL, `down_seconds` without a Redis, and start again: whatever was queued
        or cached is gone."""
        self.kill()
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(self.folder, "dump.rdb"))
        time.sleep(down_seconds)
        self.start()

    def save_then_stop(self) -> None:
        import redis

        redis.Redis.from_url(self.url).save()
        self.kill()

    def version(self) -> str:
        import redis

        return redis.Redis.from_url(self.url).info("server")["redis_version"]


@contextlib.contextmanager
def own_servers(folder: str):
    """Yields (Postgres, Redis), both running, stopped on the way out."""
    pg, rd = Postgres(os.path.join(folder, "pg")), Redis(os.path.join(folder, "redis"))
    try:
        log(f"own PostgreSQL on :{pg.port}, own Redis on :{rd.port} (in {folder})")
        pg.create()
        rd.start()
        yield pg, rd
    finally:
        rd.kill()
        pg.stop()
