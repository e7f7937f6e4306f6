"""The Tradera sandbox as a real server on a free port (one per session, emptied before
each test), its control endpoints as a test's hands, and a recording server that answers
with recorded documents for the contract tests."""

import queue
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.conftest import item_body
from tests.items.imagehost import ImageHost, jpeg_bytes
from tradera import client as tradera_client
from tradera.client import NewAuction, Seller, Shipping, TraderaClient
from tradera.sandbox.rules import Rules
from tradera.sandbox.server import Config, SandboxServer

RECORDED = Path(__file__).parent / "recorded"
SANDBOX_APP = {"app_id": 1, "app_key": "rheo-sandbox-app-key"}
# One auction day lasts one real second; tests mostly move the clock instead.
FAST = {
    "speed": 86_400,
    "processingSeconds": 0,
    "orderSeconds": 0,
    "quota": 100_000,
    "quotaWindowSeconds": 86_400,
}


def auction(**overrides) -> NewAuction:
    fields = {
        "title": "Volvo XC90 bromsok fram vänster 2018",
        "description": "Testad och fungerande. Skick B.",
        "category_id": 1000860,
        "duration_days": 7,
        "start_price": 500,
        "shipping": (Shipping(option_id=12, cost=149),),
        "own_references": ("rheo:item-1",),
    }
    return NewAuction(**{**fields, **overrides})


class SandboxControl:
    """A test's hands on the sandbox: its /control/ endpoints over HTTP."""

    def __init__(self, server: SandboxServer):
        self.url = server.url
        self.api_url = server.api_url

    def _post(self, path: str, body: dict | None = None) -> dict:
        response = requests.post(f"{self.url}control/{path}", json=body or {}, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def _get(self, path: str) -> dict:
        response = requests.get(f"{self.url}control/{path}", timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def seller(self, name: str = "Recopart AB") -> Seller:
        made = self._post("sellers", {"name": name})
        return Seller(user_id=made["userId"], token=made["token"])

    def expire_token(self, seller: Seller) -> None:
        self._post(f"sellers/{seller.user_id}/expire")

    def bid(self, item_id: int, amount: int, bidder: str = "budgivare") -> dict:
        return self._post(f"auctions/{item_id}/bid", {"amount": amount, "bidder": bidder})

    def buy_now(self, item_id: int, buyer: str = "köpare") -> dict:
        return self._post(f"auctions/{item_id}/buy-now", {"buyer": buyer})

    def end(self, item_id: int) -> dict:
        return self._post(f"auctions/{item_id}/end")

    def auction(self, item_id: int) -> dict:
        return self._get(f"auctions/{item_id}")

    def advance(self, *, days: float = 0, seconds: float = 0) -> None:
        self._post("clock", {"days": days, "seconds": seconds})

    def fail(self, kind: str, operation: str = "*", count: int = 1, **extra) -> None:
        self._post("failures", {"kind": kind, "operation": operation, "count": count, **extra})

    def calls(self) -> dict[str, int]:
        return self._get("calls")["calls"]

    def settings(self, **changes) -> dict:
        return self._post("settings", changes)

    def reset(self) -> None:
        self._post("reset")
        self.settings(**FAST)


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory):
    server = SandboxServer(
        str(tmp_path_factory.mktemp("tradera") / "sandbox.sqlite3"),
        config=Config(quota=FAST["quota"]),
        rules=Rules(speed=FAST["speed"], processing_seconds=0),
    ).start()
    yield server
    server.close()


@pytest.fixture
def sandbox(sandbox_server) -> SandboxControl:
    control = SandboxControl(sandbox_server)
    control.reset()
    return control


@pytest.fixture
def client(sandbox) -> TraderaClient:
    return TraderaClient(sandbox.api_url, **SANDBOX_APP, sandbox=True, timeout=0.5)


@pytest.fixture
def seller(sandbox) -> Seller:
    return sandbox.seller()


# --- Contract tests: a server that records what it gets and answers from recordings ----


@dataclass
class Exchange:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Recorder:
    def __init__(self):
        self.received: list[Exchange] = []
        self.answers: queue.Queue[Answer] = queue.Queue()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.received.append(Exchange(self.path, dict(self.headers), body))
                answer = recorder.answers.get_nowait()
                self.send_response(answer.status)
                for name, value in {
                    "Content-Type": "text/xml; charset=utf-8",
                    **answer.headers,
                }.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/v3/"

    def answer(self, status: int = 200, body: bytes | str = b"", **headers) -> None:
        if isinstance(body, str):
            body = (RECORDED / body).read_bytes() if body.endswith(".xml") else body.encode()
        self.answers.put(Answer(status, body, headers))

    @property
    def last(self) -> Exchange:
        return self.received[-1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.close()


def normalised(document: bytes):
    """An XML document as nested (qualified tag, attributes, text, children) tuples:
    equal for documents that say the same, whatever their prefixes and indentation."""

    def walk(node):
        text = (node.text or "").strip() or None
        return (node.tag, sorted(node.attrib.items()), text, [walk(child) for child in node])

    return walk(ET.fromstring(document))  # noqa: S314 - our own documents


# --- Rheo publishing to the sandbox ---------------------------------------------------


@pytest.fixture
def rheo_on_the_sandbox(settings, sandbox, tmp_path):
    """Rheo's test mode pointed at this sandbox; hosted images in a folder of the test's."""
    settings.TRADERA_SANDBOX_URL = sandbox.api_url
    settings.MEDIA_ROOT = tmp_path / "media"
    tradera_client.for_mode.cache_clear()
    yield
    tradera_client.for_mode.cache_clear()


@pytest.fixture
def photo():
    host = ImageHost()
    yield host.serve("/caliper.jpg", jpeg_bytes())
    host.close()


def publish_all(worker, clock):
    """Runs the worker, then once more a poll interval later: of several items published
    within one interval, the account's poll serves the first and the others wait for the
    next poll (at most one per account and TRADERA_POLL_SECONDS)."""
    worker()
    clock.shift(timedelta(seconds=settings.TRADERA_POLL_SECONDS + 0.1))
    worker()


def push(api, committed, photo, external_id="ERP_PART_12345"):
    with committed():
        assert api.put(external_id, item_body(imageUrls=[photo])).status_code == 202
