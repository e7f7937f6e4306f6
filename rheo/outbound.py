"""Outbound HTTP: the one seam through which Rheo calls URLs a partner gave it (image
hosts, webhook receivers), with its guards.

Public HTTPS only. Private, loopback and carrier-grade NAT addresses are refused unless
RHEO_ALLOW_LOCAL_URLS is on (development and tests); link-local, cloud metadata,
multicast, reserved and unspecified addresses are refused always, and so are IPv4
addresses written other than as a.b.c.d (2852039166, 0xa9fea9fe, 127.1) and IPv4-mapped
IPv6 addresses ([::ffff:169.254.169.254]). The rules are applied
to the URL when it is saved (`check_url`) and again when it is called (`request`), then
on the addresses its host resolves to; the connection goes to the address that was
checked, so a DNS answer that changes in between (rebinding) cannot redirect it.
"""

import contextlib
import functools
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPException
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError, NewConnectionError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.ssl_match_hostname import CertificateError

MAX_URL_LENGTH = 2048
# The rule as the API's schema states it.
URL_RULE = (
    "An https:// URL of at most 2048 characters, without credentials, on a public host: a "
    "DNS name, an IPv4 address as a.b.c.d or an IPv6 address in brackets (IPv4 written "
    "otherwise, as 2852039166, 0xa9fea9fe or 127.1, and IPv4-mapped IPv6 are refused)."
)

# Metadata services outside 169.254.0.0/16 (which link-local already covers).
_METADATA = {
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}


class UnsafeURL(ValueError):
    pass


def check_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """Raise UnsafeURL unless Rheo may connect to `address`."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if (
        address in _METADATA
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    ):
        raise UnsafeURL(f"{address} is a link-local, metadata or reserved address.")
    if not address.is_global and not settings.RHEO_ALLOW_LOCAL_URLS:
        raise UnsafeURL(f"{address} is a private or loopback address.")


def check_url(url: str) -> None:
    """Raise UnsafeURL unless `url` is one Rheo may fetch. Host names are checked again on
    the resolved address at fetch time; here only what the URL itself shows."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"URLs are limited to {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise UnsafeURL("Not a valid URL.") from exc
    allowed_schemes = {"https", "http"} if settings.RHEO_ALLOW_LOCAL_URLS else {"https"}
    if parts.scheme not in allowed_schemes:
        raise UnsafeURL("Must be an https:// URL.")
    if not host:
        raise UnsafeURL("Not a valid URL: the host is missing.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("URLs with credentials are not accepted.")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        check_host_name(host)
        if (host == "localhost" or host.endswith(".localhost")) and (
            not settings.RHEO_ALLOW_LOCAL_URLS
        ):
            raise UnsafeURL("localhost is a loopback address.") from None
        return
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        raise UnsafeURL(f"{host} is an IPv4-mapped IPv6 address; write an IPv4 address as a.b.c.d.")
    check_address(address)


# A host is a DNS name or an address literal. A name whose last label is a number
# (decimal 2852039166, hex 0xa9fea9fe, octal 0251.0376.0251.0376, short 127.1) is an IPv4
# address to browsers and resolvers alike; only the dotted-quad form, which
# `ipaddress` reads, is accepted, so what the URL shows is the address that is called.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_NAME_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def check_host_name(host: str) -> None:
    """Raise UnsafeURL unless `host` (lower-cased, not an address literal) is a DNS name."""
    labels = host.removesuffix(".").split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        raise UnsafeURL(
            f"{host} is not a valid host: write an IPv4 address as four decimal numbers "
            "(a.b.c.d), an IPv6 address in brackets, or use a host name."
        )
    try:
        ascii_labels = host.removesuffix(".").encode("idna").decode("ascii").split(".")
    except UnicodeError:
        ascii_labels = []
    if not ascii_labels or not all(_NAME_LABEL.match(label) for label in ascii_labels):
        raise UnsafeURL(f"{host} is not a valid host name.")


class OutboundError(Exception):
    """The call produced no usable HTTP response. `kind` is one of: timeout, connection,
    tls, too_large."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def resolve(url: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses `url`'s host resolves to, every one of them checked; UnsafeURL if
    the URL or any address is refused, OutboundError if the name does not resolve."""
    check_url(url)
    parts = urlsplit(url)
    try:
        literal = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        literal = None
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundError("connection", f"Cannot resolve {parts.hostname}.") from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    for address in addresses:
        # A name that resolves to both public and private addresses is refused whole.
        try:
            check_address(address)
        except UnsafeURL as exc:
            raise UnsafeURL(f"{parts.hostname} resolves to {exc}") from None
    return addresses


@dataclass(frozen=True)
class Response:
    url: str  # the URL that answered (after redirects)
    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed_ms: int


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float,
    max_body_bytes: int,
    truncate_body: bool = False,
    max_redirects: int = 0,
) -> Response:
    """One HTTP call, to a checked address, finished within `timeout` seconds in all
    (a watchdog cuts a server that trickles its answer).

    Redirects are followed only up to `max_redirects` (each target checked like the
    first URL); past that, or with the default 0, a 3xx is returned as the response.
    A body over `max_body_bytes` raises OutboundError("too_large"), or with
    `truncate_body` is cut there and the rest left unread.
    Raises UnsafeURL or OutboundError; never urllib3's own exceptions.
    """
    started = time.monotonic()
    deadline = started + timeout
    for hop in range(max_redirects + 1):
        with _Exchange(url, deadline) as exchange:
            response = exchange.send(method, body, headers or {})
            location = response.headers.get("location")
            if 300 <= response.status < 400 and location and hop < max_redirects:
                url = urljoin(url, location)
                if response.status in (301, 302, 303):
                    method, body = "GET", None
                continue
            content = exchange.read_body(response, max_body_bytes, truncate_body)
            return Response(
                url=url,
                status=response.status,
                headers=dict(response.headers),
                body=content,
                elapsed_ms=round((time.monotonic() - started) * 1000),
            )
    raise AssertionError("unreachable: the last hop always returns")


@functools.cache
def _tls_context(ca_file: str) -> ssl.SSLContext:
    """One verifying context per CA bundle and process: building one reads and parses the
    whole bundle, which costs more CPU than the rest of a webhook delivery."""
    return ssl.create_default_context(cafile=ca_file)


class _Exchange:
    """One connection to the checked address of one URL, for one request and response,
    closed by a watchdog when the deadline passes."""

    def __init__(self, url: str, deadline: float):
        self.address = resolve(url)[0]
        self.parts = urlsplit(url)
        self.deadline = deadline
        self.cut = threading.Event()
        # Built here, connected in `send`: neither opens a socket or starts a thread yet.
        remaining = self._remaining()
        self.connection: HTTPConnection
        if self.parts.scheme == "https":
            self.connection = HTTPSConnection(
                str(self.address),
                port=self.parts.port or 443,
                timeout=min(remaining, 5.0),
                # The certificate must name the host, though the address is connected to.
                server_hostname=self.parts.hostname,
                ssl_context=_tls_context(settings.RHEO_OUTBOUND_CA_BUNDLE or certifi.where()),
            )
        else:
            self.connection = HTTPConnection(
                str(self.address), port=self.parts.port or 80, timeout=min(remaining, 5.0)
            )
        self.watchdog = threading.Timer(remaining, self._cut)
        self.watchdog.daemon = True

    def __enter__(self) -> "_Exchange":
        self.watchdog.start()
        return self

    def __exit__(self, *exc_info):
        self.watchdog.cancel()
        self.connection.close()

    def send(self, method, body, headers) -> urllib3.BaseHTTPResponse:
        target = self.parts.path or "/"
        if self.parts.query:
            target += "?" + self.parts.query
        with self._translated_errors("calling"):
            self.connection.connect()
            self.connection.sock.settimeout(self._remaining())
            self.connection.request(
                method,
                target,
                body=body,
                headers={"Host": self.parts.netloc, **headers},
                preload_content=False,
            )
            return self.connection.getresponse()

    def read_body(self, response, limit: int, truncate: bool) -> bytes:
        chunks: list[bytes] = []
        size = 0
        with self._translated_errors("reading the response of"):
            while size <= limit:
                chunk = response.read(min(64 * 1024, limit + 1 - size))
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
                size += len(chunk)
        if truncate:
            return b"".join(chunks)[:limit]
        raise OutboundError("too_large", f"The response is larger than {limit} bytes.")

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise OutboundError("timeout", f"Timed out calling {self.parts.netloc}.")
        return remaining

    def _cut(self) -> None:
        self.cut.set()
        sock = getattr(self.connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    @contextlib.contextmanager
    def _translated_errors(self, doing: str):
        where = self.parts.netloc
        try:
            yield
            # A cut connection reads as a clean end: what was read is not the answer.
            if self.cut.is_set():
                raise OutboundError("timeout", f"Timed out {doing} {where}.")
        except OutboundError:
            raise
        except (SSLError, ssl.SSLError, CertificateError) as exc:
            if time.monotonic() >= self.deadline:
                raise OutboundError("timeout", f"Timed out {doing} {where}.") from exc
            raise OutboundError("tls", f"TLS failed with {where}: {exc}") from exc
        except NewConnectionError as exc:  # before timeouts: urllib3 makes it a subclass
            raise OutboundError("connection", f"Could not connect to {where}.") from exc
        except (Urllib3Timeout, TimeoutError) as exc:
            raise OutboundError("timeout", f"Timed out {doing} {where}.") from exc
        except (HTTPError, OSError, HTTPException) as exc:
            if time.monotonic() >= self.deadline:
                raise OutboundError("timeout", f"Timed out {doing} {where}.") from exc
            raise OutboundError("connection", f"The connection to {where} failed.") from exc
