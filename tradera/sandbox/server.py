"""The sandbox's HTTP server: Tradera's SOAP services under /v3/, the control endpoints
under /control/ (JSON, listed in README.md, "The Tradera sandbox"), a page for people at
/, each auction's page at /item/<id> (its images at /item/<id>/images/<n>, from 1), and
the token login at /tokenlogin.aspx.

Bulk seeding (POST /control/sellers/<userId>/auctions) makes `count` running auctions of
that seller in one transaction, as if each had been published and processed (no images),
and answers with their item ids in order: {"itemIds": [...]}. Body: count (1 to
1,000,000), and optionally title (each gets " <n>" appended; "Seeded auction"),
startPrice (100), durationDays (7) and categoryId (343434). 100,000 take about a second.

Failure injection (POST /control/failures) answers the next `count` calls of an
operation ("*": any) with one of:
    quota          HTTP 429 with Retry-After (`seconds`, default 60)
    server_error   HTTP 500 with an HTML body, as IIS gives
    timeout        sleeps `seconds` (default 5), then answers as usual: the call happened
    expired_token  HTTP 403
    refuse         a soap:Fault with `reason`
"""

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from tradera.sandbox import page
from tradera.sandbox.market import Market
from tradera.sandbox.operations import SERVICES
from tradera.sandbox.rules import Refused, Rules
from tradera.sandbox.soap import Fault, fault, parse_call
from tradera.sandbox.traffic import Traffic

FAILURE_KINDS = ("quota", "server_error", "timeout", "expired_token", "refuse")
# Rheo's accept URL path (its dashboard's; a test pins that they agree). The login page
# sends the seller back to the `redirect` it was given, else to Config.accept_url.
ACCEPT_PATH = "/dashboard/integration/tradera/accept"


@dataclass
class Config:
    app_id: int = 1
    app_key: str = "rheo-sandbox-app-key"
    public_key: str = "rheo-sandbox-public-key"
    quota: int = 100  # calls per window, all operations, as Tradera's default
    quota_window_seconds: float = 86_400
    accept_url: str = "http://127.0.0.1:8000" + ACCEPT_PATH


class Sandbox:
    def __init__(self, market: Market, traffic: Traffic, config: Config, verbose: bool = False):
        self.market = market
        self.traffic = traffic
        self.config = config
        self.verbose = verbose

    # --- SOAP ----------------------------------------------------------------------------

    def soap(self, service: str, data: bytes, soap_action: str) -> tuple[int, dict, bytes]:
        try:
            call = parse_call(data, soap_action)
            served = SERVICES.get(call.operation)
            if served is None or served[0] != service:
                raise Fault(f"{service} has no operation {call.operation}.")
            _, needs_seller, handler = served
        except Fault as exc:
            return _fault(str(exc))
        failure = self.traffic.take_failure(call.operation)
        if failure is not None:
            self.traffic.log_injected(call.operation, failure["kind"])
            if failure["kind"] == "timeout":
                time.sleep(failure["seconds"] or 5)
            else:
                return _injected(failure)
        if call.app_id != self.config.app_id or call.app_key != self.config.app_key:
            return _text(403, "Access denied: unknown application (AppId/AppKey).")
        wait = self.traffic.count_call(
            call.operation, self.config.quota, self.config.quota_window_seconds
        )
        if wait is not None:
            return _text(429, "Call quota exceeded.", {"Retry-After": str(max(1, round(wait)))})
        try:
            with self.market.exclusive():
                if needs_seller and not self.market.authorized(call.user_id, call.token):
                    return _text(403, "Access denied: invalid or expired token.")
                answer = handler(self.market, call)
            return 200, {"Content-Type": "text/xml; charset=utf-8"}, answer
        except (Fault, Refused) as exc:
            return _fault(str(exc))

    # --- control ---------------------------------------------------------------------------

    def control(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        with self.market.exclusive():
            return self._control(method, path, body)

    def _control(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        m = self.market
        parts = path.strip("/").split("/")[1:]  # after "control"
        match (method, *parts):
            case ("POST", "sellers"):
                return 200, _seller(m.seller(_required(body, "name")))
            case ("POST", "sellers", seller_id, "expire"):
                m.expire_token(int(seller_id))
                return 200, {}
            case ("POST", "sellers", seller_id, "auctions"):
                ids = m.seed(
                    int(seller_id),
                    int(_required(body, "count")),
                    title=str(body.get("title") or "Seeded auction"),
                    start_price=int(body.get("startPrice", 100)),
                    duration_days=int(body.get("durationDays", 7)),
                    category_id=int(body.get("categoryId", 343434)),
                )
                return 200, {"itemIds": ids}
            case ("GET", "auctions"):
                return 200, {"auctions": m.auctions()}
            case ("GET", "auctions", item_id):
                m.settle()
                item = m.item(int(item_id))
                return (200, m.describe(item)) if item else (404, {"error": "No such auction."})
            case ("POST", "auctions", item_id, "bid"):
                m.bid(int(item_id), int(_required(body, "amount")), body.get("bidder", "budgivare"))
            case ("POST", "auctions", item_id, "buy-now"):
                m.buy_now(int(item_id), body.get("buyer", "köpare"))
            case ("POST", "auctions", item_id, "end"):
                m.end_now(int(item_id))
            case ("POST", "clock"):
                seconds = float(body.get("seconds", 0)) + m.auction_seconds(
                    float(body.get("days", 0))
                )
                m.advance(seconds)
                m.settle()
                return 200, {"now": m.now()}
            case ("POST", "failures"):
                kind = _required(body, "kind")
                if kind not in FAILURE_KINDS:
                    return 400, {"error": f"kind is one of {', '.join(FAILURE_KINDS)}."}
                self.traffic.inject(
                    body.get("operation", "*"),
                    kind,
                    int(body.get("count", 1)),
                    body.get("reason", "The item was refused."),
                    float(body.get("seconds", 0)),
                )
                return 200, {}
            case ("GET", "calls"):
                return 200, {"calls": self.traffic.call_counts()}
            case ("POST", "settings"):
                return 200, self.settings(body)
            case ("GET", "settings"):
                return 200, self.settings({})
            case ("POST", "reset"):
                m.reset()
                self.traffic.reset()
                return 200, {}
            case _:
                return 404, {"error": f"No control endpoint {method} {path}."}
        item = m.item(int(parts[1]))  # the auction just acted on
        return (200, m.describe(item)) if item else (404, {"error": "No such auction."})

    def settings(self, changes: dict) -> dict:
        rules, config = self.market.rules, self.config
        if "speed" in changes:
            rules.speed = float(changes["speed"])
        if "processingSeconds" in changes:
            rules.processing_seconds = float(changes["processingSeconds"])
        if "orderSeconds" in changes:
            rules.order_seconds = float(changes["orderSeconds"])
        if "quota" in changes:
            config.quota = int(changes["quota"])
        if "quotaWindowSeconds" in changes:
            config.quota_window_seconds = float(changes["quotaWindowSeconds"])
        return {
            "speed": rules.speed,
            "processingSeconds": rules.processing_seconds,
            "orderSeconds": rules.order_seconds,
            "quota": config.quota,
            "quotaWindowSeconds": config.quota_window_seconds,
        }


def _required(body: dict, name: str):
    if body.get(name) in (None, ""):
        raise ValueError(f"{name} is required.")
    return body[name]


def _seller(row) -> dict:
    return {
        "userId": row["id"],
        "name": row["name"],
        "token": row["token"],
        "expiresAt": row["expires_at"],
    }


def _text(status: int, message: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    return (
        status,
        {"Content-Type": "text/plain; charset=utf-8", **(headers or {})},
        message.encode(),
    )


def _fault(reason: str) -> tuple[int, dict, bytes]:
    return 500, {"Content-Type": "text/xml; charset=utf-8"}, fault(reason)


def _injected(failure) -> tuple[int, dict, bytes]:
    kind = failure["kind"]
    if kind == "quota":
        return _text(
            429, "Call quota exceeded.", {"Retry-After": str(round(failure["seconds"] or 60))}
        )
    if kind == "expired_token":
        return _text(403, "Access denied: invalid or expired token.")
    if kind == "refuse":
        return _fault(failure["reason"])
    html = b"<html><body><h1>500 - Internal server error.</h1></body></html>"
    return 500, {"Content-Type": "text/html"}, html


class _Handler(BaseHTTPRequestHandler):
    sandbox: Sandbox
    server_version = "TraderaSandbox/1"

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/":
            self._send(
                200, {"Content-Type": "text/html; charset=utf-8"}, page.auctions(self.sandbox)
            )
        elif url.path.lower() == "/tokenlogin.aspx":
            html = page.token_login(self.sandbox, query)
            self._send(200, {"Content-Type": "text/html; charset=utf-8"}, html)
        elif url.path.startswith("/control/"):
            self._control("GET", url.path, {})
        elif match := re.fullmatch(r"/item/(\d+)", url.path):
            with self.sandbox.market.exclusive():
                auction_page = page.auction(self.sandbox, int(match[1]))
            if auction_page is None:
                self._send(*_text(404, "No such auction."))
            else:
                self._send(200, {"Content-Type": "text/html; charset=utf-8"}, auction_page)
        elif match := re.fullmatch(r"/item/(\d+)/images/(\d+)", url.path):
            with self.sandbox.market.exclusive():
                image = self.sandbox.market.image(int(match[1]), int(match[2]))
            if image is None:
                self._send(*_text(404, "No such image."))
            else:
                kind = {"Gif": "gif", "Jpeg": "jpeg", "Png": "png"}[image["format"]]
                self._send(200, {"Content-Type": f"image/{kind}"}, bytes(image["data"]))
        else:
            self._send(*_text(404, "Not found."))

    def do_POST(self):
        url = urlsplit(self.path)
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        service = re.fullmatch(r"/v3/(\w+\.asmx)", url.path)
        if service:
            self._send(*self.sandbox.soap(service[1], data, self.headers.get("SOAPAction", "")))
        elif url.path.startswith("/control/"):
            try:
                body = json.loads(data or b"{}")
            except ValueError:
                return self._json(400, {"error": "The body is not JSON."})
            self._control("POST", url.path, body)
        elif url.path.lower() == "/tokenlogin.aspx":
            self._accept_login({k: v[0] for k, v in parse_qs(data.decode()).items()})
        elif url.path.startswith("/page/"):
            self._page_action(url.path, {k: v[0] for k, v in parse_qs(data.decode()).items()})
        else:
            self._send(*_text(404, "Not found."))

    def _control(self, method: str, path: str, body: dict):
        try:
            status, answer = self.sandbox.control(method, path, body)
        except Refused as exc:
            status, answer = 409, {"error": str(exc)}
        except (ValueError, TypeError) as exc:
            status, answer = 400, {"error": str(exc)}
        self._json(status, answer)

    def _page_action(self, path: str, form: dict):
        """The page's buttons: /page/auctions/<id>/<bid|buy-now|end>."""
        match = re.fullmatch(r"/page/auctions/(\d+)/(bid|buy-now|end)", path)
        if match:
            try:
                self.sandbox.control("POST", f"/control/auctions/{match[1]}/{match[2]}", form)
            except (Refused, ValueError) as exc:
                return self._send(
                    409, {"Content-Type": "text/plain; charset=utf-8"}, str(exc).encode()
                )
        # Back to the page the button was on: the list, or the auction's own page.
        back = form.get("back", "/")
        self._send(303, {"Location": back if re.fullmatch(r"/(item/\d+)?", back) else "/"}, b"")

    def _accept_login(self, form: dict):
        seller = self.sandbox.market.consent(form["skey"], form.get("name") or "Sandbox seller")
        target = form.get("redirect") or self.sandbox.config.accept_url
        joiner = "&" if "?" in target else "?"
        self._send(302, {"Location": f"{target}{joiner}{urlencode({'userId': seller['id']})}"}, b"")

    def _json(self, status: int, answer: dict):
        self._send(status, {"Content-Type": "application/json"}, json.dumps(answer).encode())

    def _send(self, status: int, headers: dict, body: bytes):
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout it asked for)

    def log_message(self, format, *args):
        if self.sandbox.verbose:
            super().log_message(format, *args)


class SandboxServer:
    """The sandbox on host:port (0: a free port), served from a thread or the foreground."""

    def __init__(
        self,
        db_path: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        config: Config | None = None,
        rules: Rules | None = None,
        verbose: bool = False,
    ):
        market, traffic = Market(db_path, rules), Traffic(db_path)
        self.sandbox = Sandbox(market, traffic, config or Config(), verbose)
        handler = type("Handler", (_Handler,), {"sandbox": self.sandbox})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/"  # !s: the types allow bytes, for other families

    @property
    def api_url(self) -> str:
        return self.url + "v3/"

    def start(self) -> "SandboxServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
