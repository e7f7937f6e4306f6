"""A real webhook receiver on 127.0.0.1, a controllable clock, and a worker run a step at
a time."""

import queue
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine

from rheo.celery import app as celery_app
from webhooks import services


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # accept the request and never answer
    delay: float = 0.0  # answer after this many seconds
    trickle: bool = False  # send the headers a few bytes at a time, forever


class Receiver:
    """Answers each POST with the next queued Reply (200 "ok" when none is queued) and
    records what it received."""

    def __init__(self, ssl_context=None):
        self.scheme = "https" if ssl_context else "http"
        self.received: list[Received] = []
        self.replies: queue.Queue[Reply] = queue.Queue()
        self.arrived = threading.Semaphore(0)
        self.release = threading.Event()  # lets hanging requests go at teardown
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                receiver.received.append(Received(self.path, dict(self.headers), body))
                receiver.arrived.release()
                try:
                    reply = receiver.replies.get_nowait()
                except queue.Empty:
                    reply = Reply()
                if reply.hang:
                    receiver.release.wait(30)
                    return
                if reply.delay:
                    receiver.release.wait(reply.delay)
                if reply.trickle:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    while not receiver.release.wait(0.05):
                        try:
                            self.wfile.write(b"X-Slow: y\r\n")
                            self.wfile.flush()
                        except OSError:
                            return
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if ssl_context:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = "/hooks/rheo", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.server.server_port}{path}"

    def reply(self, *replies: Reply) -> None:
        for r in replies:
            self.replies.put(r)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def closed_port_url():
    """A URL where nothing listens: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


@pytest.fixture
def clock():
    """Time as the project sees it, moved on by the test (it ticks from where it is put)."""
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), tick=True) as traveller:
        yield traveller


class Worker:
    """Runs what a Celery worker on the webhooks queue would run, one message at a time,
    holding back messages whose countdown (ETA) has not come yet by the project's clock;
    and what beat would run, one sweeper pass at a time."""

    def __init__(self, capture_on_commit):
        celery_app.loader.import_default_modules()  # as a worker does: finds every tasks.py
        self.capture_on_commit = capture_on_commit
        self.held: list[tuple[datetime, str, list]] = []

    def _receive(self) -> None:
        with celery_app.connection_for_read() as conn:
            simple = conn.SimpleQueue("webhooks")
            while True:
                try:
                    message = simple.get(block=False)
                except simple.Empty:
                    break
                eta = message.headers.get("eta")
                eta = datetime.fromisoformat(eta) if eta else datetime.min.replace(tzinfo=UTC)
                self.held.append((eta, message.headers["task"], message.payload[0]))
                message.ack()
            simple.close()

    def work_off(self) -> list[str]:
        """Runs every message that is due, and those they send, until none is due."""
        ran = []
        while True:
            self._receive()
            now = datetime.now(UTC)
            due = [m for m in self.held if m[0] <= now]
            if not due:
                return ran
            self.held = [m for m in self.held if m[0] > now]
            for _eta, name, args in due:
                with self.capture_on_commit(execute=True):
                    celery_app.tasks[name](*args)
                ran.append(name)

    def sweep(self) -> int:
        with self.capture_on_commit(execute=True):
            return services.sweep_deliveries()

    def __call__(self) -> list[str]:
        return self.work_off()


@pytest.fixture
def worker(broker_messages, django_capture_on_commit_callbacks):
    return Worker(django_capture_on_commit_callbacks)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed():` runs what the code inside sends after commit, as it would
    outside a test's transaction."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def emit(django_capture_on_commit_callbacks):
    """webhooks.services.emit inside a committed transaction (its nudges are sent)."""

    def _emit(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return services.emit(*args, **kwargs)

    return _emit
