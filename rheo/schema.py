"""OpenAPI pieces shared by every endpoint: the error format, the money format, and the
rules a serializer cannot show (the schema's postprocessing hook)."""

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    "Error",
    {
        "success": serializers.BooleanField(default=False),
        "error": inline_serializer(
            "ErrorDetail",
            {
                "code": serializers.CharField(
                    help_text="Stable: validation_error, invalid_json, bad_request, "
                    "authentication_failed, plan_limit_reached, forbidden, not_found, "
                    "method_not_allowed, conflict, precondition_failed, payload_too_large, "
                    "uri_too_long, unsupported_media_type, rate_limited, headers_too_large, "
                    "internal_error, service_unavailable."
                ),
                "message": serializers.CharField(),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()),
                    required=False,
                    help_text="On validation errors: field (camelCase; `domain.oemCode`, "
                    "`imageUrls[2]`) → messages.",
                ),
                "requestId": serializers.CharField(help_text="Also in the X-Request-Id header."),
            },
        ),
    },
)

DESCRIPTIONS = {
    400: "Validation failed (every bad field named) or the body is not valid JSON.",
    401: "Missing, malformed, unknown or revoked API key or bearer token.",
    402: "plan_limit_reached: the plan's limit does not allow this; the message names it.",
    403: "Not allowed for this key.",
    404: "Not found for this partner (items: for this key's partner and mode).",
    409: "The current state does not allow this change.",
    412: "precondition_failed: If-Match does not match the item's current ETag; nothing changed.",
    503: "A service Rheo needs did not answer; retry shortly.",
    413: "The body is larger than 1 MB.",
    415: "The body is not application/json.",
    429: "Rate limit exceeded; see Retry-After.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {c: OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[c]) for c in codes}


class StrictDecimalFieldExtension(OpenApiSerializerFieldExtension):
    """Exact numbers (money): a request's value has at most the field's decimals."""

    target_class = "rheo.fields.StrictDecimalField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        field = self.target
        schema = auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        if direction == "request":
            # On requests only: a response's binary float need not be an exact multiple.
            schema["multipleOf"] = float(f"1e-{field.decimal_places}")
        return schema


def postprocess(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """SPECTACULAR_SETTINGS' POSTPROCESSING_HOOKS: the item's image-URL aliases, exactly
    one of three (ItemInputSerializer enforces it; a serializer cannot declare it), and
    the paths in the order of the tags (Items first), as Swagger lists them."""
    item = result.get("components", {}).get("schemas", {}).get("ItemInputRequest")
    if item is not None:
        item["oneOf"] = [{"required": [name]} for name in ("imageUrls", "images", "image_urls")]
    order = [tag["name"] for tag in result.get("tags", [])]

    def tag_position(path_item: dict) -> int:
        tags = next(iter(path_item.values())).get("tags", [])
        return order.index(tags[0]) if tags and tags[0] in order else len(order)

    result["paths"] = dict(sorted(result["paths"].items(), key=lambda p: tag_position(p[1])))
    return result
