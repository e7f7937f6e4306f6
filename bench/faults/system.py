"""Rheo as the Procfile runs it, one process group per Procfile line so that each can be
killed alone; the local image host and webhook receiver (threads of this process); the
partner, API keys and test-mode webhook endpoint the suite uses (Management API)."""

import json
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bench.common import (
    HOST,
    PYTHON,
    ROOT,
    Process,
    QuietHandler,
    app_env,
    free_port,
    log,
    log_problems,
    migrate,
    wait_http_ok,
)

SAMPLE_JPEG = ROOT / "items" / "static" / "samples" / "caliper-1.jpg"
PARTNER_EMAIL = "faults@rheo.invalid"
PARTNER_PASSWORD = "fault-suite-password-1"  # noqa: S105 - a throwaway database's


def procfile() -> dict[str, str]:
    """The Procfile's lines, name → command line."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if re.match(r"^\w+:", line))


def expand(command: str, env: dict) -> list[str]:
    """A Procfile command as argv: ${NAME:-default} from `env`, as the shell would."""
    command = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), command)
    return shlex.split(re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), ""), command))


class Component:
    """One Procfile process, started, SIGKILLed and started again; each start logs to a
    file of its own (worker-1.log, worker-2.log…). `died()` tells whether it exited
    without being told to."""

    def __init__(self, name: str, argv: list[str], env: dict, logs: Path, ready):
        self.name, self.argv, self.env, self.logs, self.ready = name, argv, env, logs, ready
        self.starts = 0
        self.process: Process | None = None
        self.expected_down = False

    @property
    def log_path(self) -> str:
        return str(self.logs / f"{self.name}-{self.starts}.log")

    def start(self) -> None:
        self.starts += 1
        self.process = Process(self.name, self.argv, self.env, self.log_path).__enter__()
        self.expected_down = False
        self.ready(self)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """The whole process group (a Celery worker's children too) gets `sig`."""
        self.expected_down = True
        proc = self.process.proc
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=30)
        self.process.__exit__(None, None, None)

    def restart(self) -> None:
        self.kill()
        self.start()

    def alive(self) -> bool:
        return self.process is not None and self.process.proc.poll() is None

    def died(self) -> int | None:
        """Its exit code, if it exited by itself."""
        if self.process is None or self.expected_down:
            return None
        return self.process.proc.poll()

    def stop(self) -> None:
        if self.process is not None:
            self.expected_down = True
            self.process.__exit__(None, None, None)

    def all_logs(self) -> list[Path]:
        return sorted(self.logs.glob(f"{self.name}-*.log"))


def _celery_ready(component: Component) -> None:
    component.process.wait_for_line(r"ready\.|Starting\.\.\.|beat: Starting", 120)


class System:
    """web, worker, webhooks, beat and tradera from the Procfile, on the suite's own
    PostgreSQL and Redis. The system's own timings are left as they are (leases,
    sweeps, grace periods, retry schedules); the sandbox's auctions run in real time,
    so none ends by itself during a run, and Tradera processes a commit within 1 s."""

    NAMES = ("web", "worker", "webhooks", "beat", "tradera")

    def __init__(self, folder: str, database_url: str, redis_url: str):
        self.folder = Path(folder)
        self.logs = self.folder / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.web_port, self.sandbox_port = free_port(), free_port()
        var_dir = self.folder / "var"
        self.env = app_env(
            str(var_dir), database_url, redis_url, "rheo.settings",
            PATH=f"{Path(PYTHON).parent}:{os.environ.get('PATH', '')}",
            HOST=HOST, PORT=str(self.web_port),
            RHEO_ALLOW_LOCAL_URLS="1",
            TRADERA_SANDBOX_URL=f"http://{HOST}:{self.sandbox_port}/v3/",
            TRADERA_SANDBOX_PORT=str(self.sandbox_port),
            TRADERA_SANDBOX_SPEED="1",
            TRADERA_SANDBOX_PROCESSING_SECONDS="1",
        )  # fmt: skip
        readiness = {
            "web": lambda c: wait_http_ok(self.web_port, "/healthz", 60, c.process),
            "tradera": lambda c: wait_http_ok(self.sandbox_port, "/control/calls", 60, c.process),
        }
        lines = procfile()
        self.components = {
            name: Component(
                name,
                expand(lines[name], self.env),
                self.env,
                self.logs,
                readiness.get(name, _celery_ready),
            )  # fmt: skip
            for name in self.NAMES
        }

    def __getitem__(self, name: str) -> Component:
        return self.components[name]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.web_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://{HOST}:{self.sandbox_port}"

    def start(self) -> None:
        migrate(self.env)
        for name in self.NAMES:
            self.components[name].start()
        log(f"Rheo on {self.base_url}, sandbox on {self.sandbox_url}, logs in {self.logs}")

    def stop(self) -> None:
        for component in self.components.values():
            component.stop()

    def revive(self) -> list[str]:
        """Starts again whatever died by itself; their names."""
        dead = [n for n, c in self.components.items() if c.died() is not None]
        for name in dead:
            self.components[name].start()
        return dead

    def log_offsets(self) -> dict[str, int]:
        return {str(p): p.stat().st_size for p in self.logs.glob("*.log")}

    def problems_since(self, offsets: dict[str, int]) -> dict[str, list[str]]:
        """Lines reporting an error in each log since `offsets`, repeated ones once."""
        found = {}
        for path in sorted(self.logs.glob("*.log")):
            with open(path, errors="replace") as f:
                f.seek(offsets.get(str(path), 0))
                lines = log_problems(f.read())
            distinct = list(dict.fromkeys(re.sub(r"^\[?[\d\-: ,.]+\]?\s*", "", x) for x in lines))
            if distinct:
                found[path.name] = distinct[:8]
        return found

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
            capture_output=True, text=True, timeout=120, start_new_session=True,
        ).stdout  # fmt: skip


# --- the local image host and webhook receiver -----------------------------------------


class _Server:
    def __init__(self, handler):
        self.server = ThreadingHTTPServer((HOST, 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, args=(0.2,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ImageHost(_Server):
    """Serves a real small JPEG at any path."""

    def __init__(self):
        jpeg = SAMPLE_JPEG.read_bytes()

        class Handler(QuietHandler):
            def do_GET(self):
                self.reply(200, jpeg, "image/jpeg")

        super().__init__(Handler)

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.port}/parts/{name}.jpg"


class Receiver(_Server):
    """The partner's webhook endpoint: verifies every delivery with the stock
    `standardwebhooks` library and records it; answers 503 while `failing` is set."""

    def __init__(self):
        self.secret: str | None = None
        self.failing = threading.Event()
        self.lock = threading.Lock()
        self.received: list[dict] = []
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.record(body, dict(self.headers))
                if receiver.failing.is_set():
                    self.reply(503, b'{"error": "down for maintenance"}')
                else:
                    self.reply(204, b"")

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hooks/rheo"

    def record(self, body: bytes, headers: dict) -> None:
        try:
            event = Webhook(self.secret).verify(body, headers)
            valid = True
        except (WebhookVerificationError, ValueError, TypeError):
            event, valid = json.loads(body), False
        with self.lock:
            self.received.append({
                "eventId": event.get("eventId"),
                "eventType": event.get("eventType"),
                "externalId": (event.get("data") or {}).get("externalId"),
                "valid": valid,
                "answered": 503 if self.failing.is_set() else 204,
                "at": time.time(),
            })  # fmt: skip

    def deliveries(self, prefix: str) -> list[dict]:
        """Every POST received about the batch whose external ids start with `prefix`."""
        with self.lock:
            return [r for r in self.received if (r["externalId"] or "").startswith(prefix)]


# --- the partner ----------------------------------------------------------------------


class Partner:
    """The dismantler the suite pushes as: its user logs in to the Management API, which
    makes its test keys and its test-mode webhook endpoint, as the dashboard would."""

    def __init__(self, system: System):
        self.system = system
        self.base = system.base_url

    def create(self) -> None:
        self.system.manage("create_partner", "Fault Suite Demontering AB",
                           "--email", PARTNER_EMAIL, "--password", PARTNER_PASSWORD)  # fmt: skip
        # 8 batches of items are more than the free plan's 100 active items.
        self.system.manage("shell", "-c", (
            "from partners.models import User; from partners.subscriptions import change_plan;"
            f"change_plan(partner=User.objects.get(email='{PARTNER_EMAIL}').partner,"
            " plan_code='enterprise', staff=True)"
        ))  # fmt: skip

    def _headers(self) -> dict:
        # A fresh token every time: access tokens last 15 minutes, the suite longer.
        token = requests.post(
            f"{self.base}/api/v1/auth/token",
            json={"email": PARTNER_EMAIL, "password": PARTNER_PASSWORD},
            timeout=30,
        )
        token.raise_for_status()
        return {"Authorization": f"Bearer {token.json()['access']}"}

    def new_test_key(self, name: str) -> dict:
        made = requests.post(
            f"{self.base}/api/v1/api-keys", json={"name": name, "mode": "test"},
            headers=self._headers(), timeout=30,
        )  # fmt: skip
        made.raise_for_status()
        return made.json()

    def configure_webhook(self, url: str) -> str:
        """The test-mode endpoint at `url`; its signing secret."""
        headers = self._headers()
        requests.put(
            f"{self.base}/api/v1/webhook?mode=test", json={"url": url, "enabled": True},
            headers=headers, timeout=30,
        ).raise_for_status()  # fmt: skip
        got = requests.get(f"{self.base}/api/v1/webhook?mode=test", headers=headers, timeout=30)
        got.raise_for_status()
        return got.json()["secret"]

    def revoke(self, key_id: str) -> dict:
        """DELETE /api/v1/api-keys/<id>, as the partner would; when that fails, the
        service staff's admin action calls, so the key is revoked either way. Says how."""
        try:
            answer = requests.delete(
                f"{self.base}/api/v1/api-keys/{key_id}", headers=self._headers(), timeout=30
            )
            if answer.status_code == 200:
                return {"via": "management_api", "status": 200}
            api = {"via": "service", "management_api_status": answer.status_code}
        except requests.RequestException as exc:
            api = {"via": "service", "management_api_error": str(exc)[:200]}
        try:
            self.system.manage("shell", "-c", (
                "from partners.models import ApiKey; from partners.services import revoke_api_key;"
                f"revoke_api_key(api_key=ApiKey.objects.get(pk='{key_id}'))"
            ))  # fmt: skip
        except subprocess.CalledProcessError as exc:
            api["service_error"] = (exc.stderr or "").strip().splitlines()[-1:]
        return api
