"""SOAP 1.1 as Tradera's v3 API speaks it: the envelope and its three headers, the POST,
and the translation of what comes back (HTTP statuses, soap:Fault) into TraderaError."""

import builtins
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import overload
from zoneinfo import ZoneInfo

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, ProtocolError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from tradera.client import errors
from tradera.client.errors import TraderaError
from tradera.client.types import Seller

NS = "http://api.tradera.com"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
_T = f"{{{NS}}}"
_SOAP = f"{{{SOAP_NS}}}"
_UNABLE = "Server was unable to process request. ---> "
STOCKHOLM = ZoneInfo("Europe/Stockholm")
_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>\n"

ET.register_namespace("soap", SOAP_NS)


@dataclass(frozen=True)
class Credentials:
    app_id: int
    app_key: str
    sandbox: bool


def element(name: str, *children, text=None) -> ET.Element:
    """An element in Tradera's namespace, with children (None ones are left out)."""
    node = ET.Element(_T + name)
    if text is not None:
        node.text = text if isinstance(text, str) else _scalar(text)
    for child in children:
        if child is not None:
            node.append(child)
    return node


def leaf(name: str, value) -> ET.Element | None:
    return None if value is None else element(name, text=value)


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def envelope(body: ET.Element, credentials: Credentials, seller: Seller | None) -> bytes:
    header = ET.Element(_SOAP + "Header")
    header.append(
        element(
            "AuthenticationHeader",
            leaf("AppId", credentials.app_id),
            leaf("AppKey", credentials.app_key),
        )
    )
    if seller is not None:
        header.append(
            element(
                "AuthorizationHeader", leaf("UserId", seller.user_id), leaf("Token", seller.token)
            )
        )
    header.append(
        element(
            "ConfigurationHeader",
            leaf("Sandbox", int(credentials.sandbox)),
            leaf("MaxResultAge", 0),
        )
    )
    root = ET.Element(_SOAP + "Envelope")
    root.append(header)
    ET.SubElement(root, _SOAP + "Body").append(body)
    # Serialised as text and encoded once: ElementTree's encoding writer costs three
    # times as much on an image's 0.5 MB of base64 (the same bytes either way).
    return _DECLARATION + ET.tostring(root, encoding="unicode").encode()


def post(
    pool: urllib3.PoolManager,
    url: str,
    operation: str,
    payload: bytes,
    timeout: float,
    has_seller: bool,
) -> ET.Element:
    """POST one SOAP call; return the operation's response element (<XResponse>)."""
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": f'"{NS}/{operation}"',
    }
    where = f"Tradera {operation}"
    try:
        response = pool.request(
            "POST",
            url,
            body=payload,
            headers=headers,
            timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
            retries=False,
            redirect=False,
        )
    except NewConnectionError as exc:  # before timeouts: urllib3 makes it a subclass
        raise TraderaError(errors.CONNECTION, f"Could not connect to {where}.") from exc
    except Urllib3Timeout as exc:
        raise TraderaError(errors.TIMEOUT, f"{where} did not answer in {timeout} s.") from exc
    except (ProtocolError, HTTPError, OSError) as exc:
        raise TraderaError(errors.CONNECTION, f"The connection to {where} failed: {exc}") from exc
    return _read(response, where, has_seller)


def _read(response, where: str, has_seller: bool) -> ET.Element:
    status, data = response.status, response.data
    if status == 403:
        if has_seller:
            raise TraderaError(errors.TOKEN_INVALID, f"{where}: the seller's token was refused.")
        raise TraderaError(errors.FORBIDDEN, f"{where}: the application's keys were refused.")
    if status == 429:
        raise TraderaError(
            errors.QUOTA_EXCEEDED,
            f"{where}: Tradera's call quota is spent.",
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    root = _parse(data)
    fault = root.find(f"{_SOAP}Body/{_SOAP}Fault") if root is not None else None
    if fault is not None:
        reason = (fault.findtext("faultstring") or "").strip()
        raise TraderaError(errors.REFUSED, reason.removeprefix(_UNABLE) or f"{where} failed.")
    if status >= 500:
        raise TraderaError(errors.SERVER_ERROR, f"{where} answered HTTP {status}.")
    if status == 408:
        raise TraderaError(errors.TIMEOUT, f"{where} answered HTTP 408.")
    if status != 200:
        raise TraderaError(errors.HTTP_ERROR, f"{where} answered HTTP {status}.")
    body = root.find(f"{_SOAP}Body") if root is not None else None
    if body is None or len(body) == 0:
        raise TraderaError(errors.MALFORMED_RESPONSE, f"{where}: no SOAP body in the answer.")
    return body[0]


def _parse(data: bytes) -> ET.Element | None:
    try:
        # Tradera is a configured, trusted host; expat resolves no external entities.
        return ET.fromstring(data)  # noqa: S314
    except ET.ParseError:
        return None


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds or as an HTTP date → seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


# --- Reading answers ------------------------------------------------------------------


class Reader:
    """Typed reads of one element's children in Tradera's namespace; a missing or
    unreadable required value is a malformed response."""

    def __init__(self, node: ET.Element, where: str):
        self.node = node
        self.where = where

    def child(self, name: str) -> "Reader | None":
        found = self.node.find(_T + name)
        return None if found is None else Reader(found, self.where)

    def children(self, name: str) -> list["Reader"]:
        return [Reader(found, self.where) for found in self.node.findall(_T + name)]

    def text(self, name: str, default: str = "") -> str:
        found = self.node.find(_T + name)
        return default if found is None or found.text is None else found.text.strip()

    # builtins.int: within this class, `int` names the method.
    @overload
    def int(self, name: str) -> builtins.int | None: ...
    @overload
    def int(self, name: str, default: builtins.int) -> builtins.int: ...
    def int(self, name: str, default: builtins.int | None = None) -> builtins.int | None:
        raw = self.text(name)
        if not raw:
            return default
        try:
            return int(raw) if "." not in raw else int(float(raw))
        except ValueError as exc:
            raise self.malformed(f"{name} is not a number: {raw!r}") from exc

    def required_int(self, name: str) -> builtins.int:
        value = self.int(name)
        if value is None:
            raise self.malformed(f"{name} is missing")
        return value

    def bool(self, name: str) -> bool:
        return self.text(name).lower() in ("true", "1")

    def datetime(self, name: str) -> datetime | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise self.malformed(f"{name} is not a date: {raw!r}") from exc
        # A time without a zone is Tradera's local time (unconfirmed): Stockholm's.
        return moment if moment.tzinfo else moment.replace(tzinfo=STOCKHOLM)

    def strings(self, name: str) -> tuple[str, ...]:
        wrapper = self.node.find(_T + name)
        if wrapper is None:
            return ()
        return tuple((s.text or "").strip() for s in wrapper.findall(_T + "string"))

    def malformed(self, what: str) -> TraderaError:
        return TraderaError(errors.MALFORMED_RESPONSE, f"{self.where}: {what}.")
