"""The events feed's client side against the contract of GET /integration/v1/events
(`{"events": [...], "nextCursor", "hasMore"}`, oldest first, `after` the cursor), served
by a small stand-in on 127.0.0.1. The tests against Rheo itself are in tests/sdk; these
keep the paging, `rheo events tail` and `rheo webhook listen` tested without it."""

import json
import threading
from argparse import Namespace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from rheo_client import Rheo, verify_webhook
from rheo_client.cli import follow_feed, forward


def event(n: int) -> dict:
    return {
        "eventId": f"evt_{n:026d}",
        "eventType": "item.sold" if n % 2 else "listing.created",
        "externalId": f"P{n}",
        "mode": "test",
        "createdAt": "2026-12-06T10:00:00Z",
        "sequence": 1 + n % 2,
        "payload": {"eventId": f"evt_{n:026d}", "eventType": "item.sold",
                    "data": {"externalId": f"P{n}", "sequence": 1 + n % 2}},
        "deliveries": [],
    }  # fmt: skip


class Feed:
    def __init__(self, count: int) -> None:
        self.events = [event(n) for n in range(count)]
        self.queries: list[dict] = []
        self.received: list[tuple[bytes, dict]] = []
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                feed.queries.append(query)
                after, limit = query.get("after"), int(query.get("limit", 50))
                ids = [e["eventId"] for e in feed.events]
                start = ids.index(after) + 1 if after else 0
                page = feed.events[start : start + limit]
                self._json({"events": page,
                            "nextCursor": page[-1]["eventId"] if page else after,
                            "hasMore": start + limit < len(feed.events)})  # fmt: skip

            def do_POST(self):  # the local app `webhook listen` forwards to
                body = self.rfile.read(int(self.headers["Content-Length"]))
                feed.received.append((body, dict(self.headers)))
                self.send_response(204)
                self.end_headers()

            def _json(self, body):
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def feed():
    feed = Feed(7)
    yield feed
    feed.server.shutdown()


def test_events_pages_through_the_feed_by_its_cursor(feed):
    rheo = Rheo("rheo_test_x", feed.url)

    events = list(rheo.events(type="item.sold", page_size=3))

    assert [e.event_id for e in events] == [e["eventId"] for e in feed.events]
    assert [q.get("after") for q in feed.queries] == [None, events[2].event_id, events[5].event_id]
    assert {q["type"] for q in feed.queries} == {"item.sold"}
    assert events[1].sequence == 2 and events[1].created_at.tzinfo is not None


def test_follow_reads_pages_back_to_back_then_polls_from_the_last_event(feed):
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        feed.events.append(event(len(feed.events)))  # something new while it waits

    args = Namespace(after=None, from_start=True, type=None, external_id=None, interval=2.0,
                     max_events=8)  # fmt: skip
    seen = list(follow_feed(Rheo("rheo_test_x", feed.url), args, sleep=sleep))

    assert [e.event_id for e in seen] == [e["eventId"] for e in feed.events]
    assert sleeps == [2.0]  # one poll: only after the feed said hasMore false
    assert feed.queries[-1]["after"] == seen[6].event_id


def test_listen_forwards_the_payload_signed_so_that_verify_webhook_passes(feed):
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    rheo = Rheo("rheo_test_x", feed.url)
    sold = rheo.events_page().events[1]

    line = forward(requests.Session(), sold, f"{feed.url}/hook", secret)

    assert line == f"--> item.sold {sold.event_id} P1 [204]"
    body, headers = feed.received[0]
    assert verify_webhook(body, headers, secret) == sold.payload
    assert headers["webhook-id"] == sold.event_id
