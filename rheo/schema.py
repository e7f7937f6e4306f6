"""OpenAPI pieces shared by every endpoint: the error format."""

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
                    help_text="Stable: validation_error, invalid_json, authentication_failed, "
                    "plan_limit_reached, forbidden, not_found, conflict, payload_too_large, "
                    "unsupported_media_type, rate_limited, internal_error."
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
    400: "Validation failed or the body is not valid JSON.",
    401: "Missing, malformed, unknown or revoked API key or bearer token.",
    402: "plan_limit_reached: the plan's limit does not allow this; the message names it.",
    403: "Not allowed for this key.",
    404: "Not found for this partner (items: for this key's partner and mode).",
    409: "The current state does not allow this change.",
    413: "The body is larger than 1 MB.",
    415: "The body is not application/json.",
    429: "Rate limit exceeded; see Retry-After.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {c: OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[c]) for c in codes}
