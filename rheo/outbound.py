"""Outbound HTTP: the one seam through which Rheo calls URLs a partner gave it (image
hosts, webhook receivers), with its guards.

Public HTTPS only. Private, loopback and carrier-grade NAT addresses are refused unless
RHEO_ALLOW_LOCAL_URLS is on (development and tests); link-local, cloud metadata,
multicast, reserved and unspecified addresses are refused always. The rules are applied
to the URL when it is saved (`check_url`) and again when it is called (`request`), then
on the addresses its host resolves to; the connection goes to the address that was
checked, so a DNS answer that changes in between (rebinding) cannot redirect it.
"""

import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings
from urllib3.exceptions import HTTPError, NewConnectionError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

MAX_URL_LENGTH = 2048

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
        if (host == "localhost" or host.endswith(".localhost")) and (
            not settings.RHEO_ALLOW_LOCAL_URLS
        ):
            raise UnsafeURL("localhost is a loopback address.") from None
        return
    check_address(address)


def resolve(url: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses `url`'s host resolves to, every one of them checked; UnsafeURL if
    the URL or any address is refused, OutboundError if the name does not resolve."""
    check_url(url)
    parts = urlsplit(url)
    try:
        literal = ipaddress.ip_address(parts.hostname)
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


class OutboundError(Exception):
    """The call produced no usable HTTP response. `kind` is one of: timeout, connection,
    tls, too_large, redirect."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


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
    """One HTTP call within `timeout` seconds in all, to a checked address.

    Redirects are followed only up to `max_redirects` (each target checked like the
    first URL); past that, or with the default 0, a 3xx is returned as the response.
    A body over `max_body_bytes` raises OutboundError("too_large"), or with
    `truncate_body` is cut there and the rest left unread.
    Raises UnsafeURL or OutboundError; never urllib3's own exceptions.
    """
    started = time.monotonic()
    deadline = started + timeout
    for _hop in range(max_redirects + 1):
        response = _call_once(method, url, body, headers or {}, deadline)
        location = response.headers.get("location")
        if not (300 <= response.status < 400 and location) or _hop == max_redirects:
            break
        response.release_conn()
        url = urljoin(url, location)
        method, body = ("GET", None) if response.status in (301, 302, 303) else (method, body)
    try:
        content = _read_body(response, deadline, max_body_bytes, truncate_body)
    finally:
        response.release_conn()
    elapsed_ms = round((time.monotonic() - started) * 1000)
    return Response(
        url=url,
        status=response.status,
        headers=dict(response.headers),
        body=content,
        elapsed_ms=elapsed_ms,
    )


def _call_once(method, url, body, headers, deadline) -> urllib3.BaseHTTPResponse:
    address = resolve(url)[0]
    parts = urlsplit(url)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OutboundError("timeout", "Timed out.")
    timeout = urllib3.Timeout(connect=min(remaining, 5.0), read=remaining)
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            str(address),
            parts.port or 443,
            timeout=timeout,
            retries=False,
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.RHEO_OUTBOUND_CA_BUNDLE or certifi.where(),
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            str(address), parts.port or 80, timeout=timeout, retries=False
        )
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        return pool.urlopen(
            method,
            target,
            body=body,
            headers={"Host": parts.netloc, **headers},
            redirect=False,
            retries=False,
            preload_content=False,
        )
    except NewConnectionError as exc:  # before timeouts: urllib3 makes it a subclass
        raise OutboundError("connection", f"Could not connect to {parts.netloc}.") from exc
    except Urllib3Timeout as exc:
        raise OutboundError("timeout", f"Timed out calling {parts.netloc}.") from exc
    except SSLError as exc:
        raise OutboundError("tls", f"TLS failed with {parts.netloc}: {exc}") from exc
    except (HTTPError, OSError) as exc:
        raise OutboundError("connection", f"Could not connect to {parts.netloc}.") from exc


def _read_body(response, deadline: float, limit: int, truncate: bool) -> bytes:
    chunks, size = [], 0
    try:
        while size <= limit:
            if time.monotonic() > deadline:
                raise OutboundError("timeout", "Timed out reading the response.")
            chunk = response.read(min(64 * 1024, limit + 1 - size))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
    except Urllib3Timeout as exc:
        raise OutboundError("timeout", "Timed out reading the response.") from exc
    except (HTTPError, OSError) as exc:
        raise OutboundError("connection", "The connection broke while reading.") from exc
    if truncate:
        return b"".join(chunks)[:limit]
    raise OutboundError("too_large", f"The response is larger than {limit} bytes.")
