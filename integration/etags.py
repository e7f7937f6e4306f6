"""The item's ETag (GET) and the conditions on it: If-None-Match on GET, If-Match on
PATCH price and status (checked by the service, on the locked row)."""

import hashlib
import json

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from integration.serializers import ItemOutputSerializer
from items import services
from items.models import Item


def item_etag(item: Item) -> str:
    """A strong validator of the GET body: a hash of it (with relative image URLs, so the
    same whatever host was asked), so it changes whenever anything GET shows does."""
    body = json.dumps(ItemOutputSerializer(item).data, sort_keys=True, default=str)
    return f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'


def _entity_tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def if_match(request) -> services.Precondition | None:
    """The request's If-Match as a precondition on the item (None: absent or `*`, which
    any current item meets). Strong comparison: a weak tag (W/"…") never matches."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    wanted = set(_entity_tags(header))
    return lambda item: item_etag(item) in wanted


def none_match(request, etag: str) -> bool:
    """If-None-Match names the current ETag (weak comparison, as for GET)."""
    header = request.headers.get("If-None-Match")
    if header is None:
        return False
    tags = {tag.removeprefix("W/") for tag in _entity_tags(header)}
    return "*" in tags or etag in tags


ETAG = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 304],
    description="The item's current version; send it as If-Match on PATCH price or status.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="An ETag from an earlier GET: 304 without a body while the item is unchanged.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description="The ETag of your last GET: the change is made only if the item is still "
    "as it was then, else 412 precondition_failed and nothing changes. `*` or absent: "
    "no condition.",
)
NOT_MODIFIED = OpenApiResponse(description="Not modified: If-None-Match names the current ETag.")
