"""Rules for URLs Rheo will fetch or call (image hosts now, webhook receivers later).

Public HTTPS only. Private, loopback and carrier-grade NAT addresses are refused unless
RHEO_ALLOW_LOCAL_URLS is on (development and tests); link-local, cloud metadata,
multicast, reserved and unspecified addresses are refused always.
"""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings

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
