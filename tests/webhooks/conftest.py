"""A real webhook receiver on 127.0.0.1."""

import queue
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

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
def emit(django_capture_on_commit_callbacks):
    """webhooks.services.emit inside a committed transaction (its nudges are sent)."""

    def _emit(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return services.emit(*args, **kwargs)

    return _emit
