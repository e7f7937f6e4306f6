"""The sandbox's side of SOAP 1.1: reading a call's envelope, writing an answer or a
soap:Fault the way an ASMX service does. Deliberately independent of tradera.client, so
the two sides of a contract are not one piece of code agreeing with itself."""

import builtins
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

NS = "http://api.tradera.com"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
_T = f"{{{NS}}}"

ET.register_namespace("soap", SOAP_NS)


class Fault(Exception):
    """Answered as a soap:Fault (HTTP 500) with Tradera's wording."""


class XmlFormatError(Fault):
    def __init__(self):
        super().__init__(
            "There is an error in XML document (1, 1). ---> Input string was not in a "
            "correct format."
        )


@dataclass
class Call:
    operation: str
    app_id: int | None
    app_key: str | None
    user_id: int | None
    token: str | None
    params: "Params"

    @property
    def seller_id(self) -> int:
        """The seller of an operation that needs one: the sandbox runs it only once
        `Market.authorized` accepted the user id and token."""
        if self.user_id is None:
            raise Fault("The AuthorizationHeader's UserId is missing.")
        return self.user_id


def parse_call(data: bytes, soap_action: str) -> Call:
    try:
        root = ET.fromstring(data)  # noqa: S314 - expat resolves no external entities
    except ET.ParseError as exc:
        raise Fault(f"There is an error in XML document. ---> {exc}") from exc
    body = root.find(f"{{{SOAP_NS}}}Body")
    if root.tag != f"{{{SOAP_NS}}}Envelope" or body is None or len(body) == 0:
        raise Fault("The request is not a SOAP 1.1 envelope.")
    operation_element = body[0]
    if not operation_element.tag.startswith(_T):
        raise Fault(f"Unknown element {operation_element.tag} (expected namespace {NS}).")
    operation = operation_element.tag.removeprefix(_T)
    if soap_action.strip('"') != f"{NS}/{operation}":
        raise Fault(f"Server did not recognize the value of HTTP Header SOAPAction: {soap_action}.")
    header = root.find(f"{{{SOAP_NS}}}Header")
    authentication = Params(
        header.find(_T + "AuthenticationHeader") if header is not None else None
    )
    authorization = Params(header.find(_T + "AuthorizationHeader") if header is not None else None)
    return Call(
        operation=operation,
        app_id=authentication.int("AppId"),
        app_key=authentication.text("AppKey"),
        user_id=authorization.int("UserId"),
        token=authorization.text("Token"),
        params=Params(operation_element),
    )


class Params:
    """Typed reads of a request element's children; a number that is not one is the
    fault .NET's XmlSerializer gives (an enum name sent where an int is expected)."""

    def __init__(self, node: ET.Element | None):
        self.node = node

    def child(self, name: str) -> "Params":
        return Params(self.node.find(_T + name) if self.node is not None else None)

    def children(self, name: str) -> list["Params"]:
        return [Params(n) for n in self.node.findall(_T + name)] if self.node is not None else []

    def text(self, name: str) -> str | None:
        found = self.node.find(_T + name) if self.node is not None else None
        return None if found is None else (found.text or "")

    def int(self, name: str) -> int | None:
        raw = self.text(name)
        if raw is None or raw.strip() == "":
            return None
        try:
            return int(raw.strip())
        except ValueError:
            raise XmlFormatError() from None

    def number(self, name: str) -> float | None:
        raw = self.text(name)
        if raw is None or raw.strip() == "":
            return None
        try:
            return float(raw.strip())
        except ValueError:
            raise XmlFormatError() from None

    # builtins.int: within this class, `int` names the method.
    def ints(self, name: str) -> list[builtins.int]:
        wrapper = self.child(name)
        if wrapper.node is None:
            return []
        try:
            return [int((n.text or "").strip()) for n in wrapper.node.findall(_T + "int")]
        except ValueError:
            raise XmlFormatError() from None

    def strings(self, name: str) -> list[str]:
        wrapper = self.child(name)
        return (
            []
            if wrapper.node is None
            else [n.text or "" for n in wrapper.node.findall(_T + "string")]
        )

    def date(self, name: str) -> float | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            moment = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise Fault(f"The string '{raw}' is not a valid AllXsd value.") from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def node(name: str, *children, text=None) -> ET.Element:
    made = ET.Element(_T + name)
    if text is not None:
        made.text = _scalar(text)
    made.extend(c for c in children if c is not None)
    return made


def value(name: str, content) -> ET.Element | None:
    return None if content is None else node(name, text=content)


def _scalar(content) -> str:
    if isinstance(content, bool):
        return "true" if content else "false"
    if isinstance(content, datetime):
        return content.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(content)


def moment(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def answer(operation: str, *result) -> bytes:
    envelope = ET.Element(f"{{{SOAP_NS}}}Envelope")
    body = ET.SubElement(envelope, f"{{{SOAP_NS}}}Body")
    body.append(node(f"{operation}Response", *result))
    return ET.tostring(envelope, encoding="utf-8", xml_declaration=True, default_namespace=NS)


def fault(reason: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><soap:Fault>'
        "<faultcode>soap:Server</faultcode>"
        f"<faultstring>Server was unable to process request. ---&gt; {escape(reason)}</faultstring>"
        "<detail /></soap:Fault></soap:Body></soap:Envelope>"
    ).encode()
