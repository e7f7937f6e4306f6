# ruff: noqa: F811 - the sandbox fixtures of tests/tradera/conftest.py, used here

"""Rheo's real processes for the short fault tests: web, worker and beat as the Procfile
runs them (through the fault suite's process management, bench/faults/system.py), on this
test's PostgreSQL database and a redis-server of the test's own (so restarting it
disturbs no other test run), publishing to the tests' sandbox server. Sweeps, grace
periods and item leases are shortened so that recovery takes seconds."""

import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

from bench.common import HOST, app_env, free_port, wait_http_ok
from bench.faults.servers import Redis
from bench.faults.system import Component, expand, procfile
from tests.conftest import integration
from tests.items.imagehost import ImageHost, jpeg_bytes
from tests.tradera.conftest import (  # noqa: F401 - fixtures
    SandboxControl,
    sandbox,
    sandbox_server,
)

# A 7-day auction lasts 7 days: none ends by itself during a test.
REAL_TIME = {"speed": 1, "processingSeconds": 0}


def database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or HOST}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def private_redis(tmp_path):
    server = Redis(str(tmp_path / "redis"))
    server.start()
    yield server
    server.kill()


class Rheo:
    """web, worker and beat, each in a process group of its own."""

    def __init__(self, folder: Path, redis_url: str, sandbox_api_url: str):
        self.port = free_port()
        env = app_env(
            str(folder / "var"), database_url(), redis_url, "rheo.settings_test",
            PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",
            HOST=HOST, PORT=str(self.port), WEB_CONCURRENCY="2",
            RHEO_ALLOW_LOCAL_URLS="1", TRADERA_SANDBOX_URL=sandbox_api_url,
            RHEO_SWEEP_SECONDS="1", RHEO_NUDGE_GRACE_SECONDS="2", RHEO_LEASE_SECONDS="5",
        )  # fmt: skip
        lines = procfile()
        logs = folder / "logs"
        logs.mkdir()

        def celery_ready(c):
            c.process.wait_for_line(r"ready\.|beat: Starting", 60)

        def web_ready(c):
            wait_http_ok(self.port, "/healthz", 60, c.process)

        self.components = {
            name: Component(name, expand(lines[name], env), env, logs, ready)
            for name, ready in (("web", web_ready), ("worker", celery_ready),
                                ("beat", celery_ready))
        }  # fmt: skip

    def __getitem__(self, name: str) -> Component:
        return self.components[name]

    def start(self) -> None:
        for component in self.components.values():
            component.start()

    def stop(self) -> None:
        for component in self.components.values():
            component.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:]
            for c in self.components.values()
            for p in c.all_logs()
        )


@pytest.fixture
def rheo(tmp_path, private_redis, sandbox):
    sandbox.settings(**REAL_TIME)
    system = Rheo(tmp_path, private_redis.url, sandbox.api_url)
    system.start()
    yield system
    system.stop()


class Erp:
    """A partner's ERP pushing over HTTP to the real web process with a test key; it
    retries what was not accepted, as an ERP would."""

    def __init__(self, rheo: Rheo, key: str, images: ImageHost):
        self.base = f"http://{HOST}:{rheo.port}/integration/v1/items/"
        self.key, self.images = key, images
        self.answers: list[int | str] = []

    def _until_accepted(self, method: str, path: str, body: dict) -> None:
        for attempt in range(8):
            try:
                status = requests.request(
                    method, self.base + path, json=body, headers={"x-api-key": self.key},
                    timeout=30,
                ).status_code  # fmt: skip
            except requests.RequestException:
                status = "no answer"
            self.answers.append(status)
            if status == 202:
                return
            time.sleep(min(2**attempt, 5))
        raise AssertionError(f"{method} {path} never accepted: {self.answers}")

    def put(self, external_id: str) -> None:
        self._until_accepted("PUT", external_id, {
            "title": "Volvo XC90 bromsok fram vänster 2018",
            "description": "Testad och fungerande. Skick B.",
            "price": 950, "shippingCost": 149, "weightKg": 3.2,
            "imageUrls": [self.images.url(f"/{external_id}.jpg")],
            "autoPublishTradera": True,
        })  # fmt: skip

    def mark_sold(self, external_id: str) -> None:
        self._until_accepted("PATCH", f"{external_id}/status", {"status": "sold"})

    def push(self, external_ids: list[str], per_second: float) -> threading.Thread:
        """PUTs the items at a steady pace, in the background."""

        def run():
            for external_id in external_ids:
                self.put(external_id)
                time.sleep(1 / per_second)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


@pytest.fixture
def images():
    """Every image takes 1.5 s to download, so that jobs are in flight when a
    process is killed."""
    host = ImageHost()

    def slowly(_hit):
        time.sleep(1.5)
        return 200, jpeg_bytes()

    for n in range(1, 21):
        host.serve(f"/P-{n}.jpg", slowly)
    yield host
    host.close()


@pytest.fixture
def erp(rheo, partner_a, images):
    return Erp(rheo, integration(partner_a, "test").key, images)


def auctions_by_item(sandbox: SandboxControl) -> dict[str, list[dict]]:
    """The sandbox's own record: each Rheo item's committed auctions."""
    answer = requests.get(f"{sandbox.url}control/auctions", timeout=10).json()
    found: dict[str, list[dict]] = {}
    for auction in answer["auctions"]:
        if auction["state"] != "uncommitted":
            for ref in auction["ownReferences"]:
                found.setdefault(ref, []).append(auction)
    return found
