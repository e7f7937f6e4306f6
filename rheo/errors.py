"""The one error type services raise, and the one renderer of the error format:

    {"success": false, "error": {"code", "message", "fields", "requestId"}}

`fields` maps a request field (camelCase as documented; nested as `domain.oemCode`,
list entries as `imageUrls[2]`) to its messages and appears on validation errors only.
"""

import logging
from collections.abc import Mapping

from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response

from rheo.middleware import current_request_id, is_api_path

logger = logging.getLogger(__name__)

HTTP_STATUS = {
    "validation_error": 400,
    "invalid_json": 400,
    "bad_request": 400,
    "authentication_failed": 401,
    "plan_limit_reached": 402,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "precondition_failed": 412,
    "payload_too_large": 413,
    "uri_too_long": 414,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "headers_too_large": 431,
    "internal_error": 500,
    "service_unavailable": 503,
}
# Rheo's request limits, answered in JSON (gunicorn's own, set looser in rheo/gunicorn.py,
# only catch what is beyond these, with gunicorn's plain error page).
MAX_URL_LENGTH = 4096  # path and query string, as sent
MAX_HEADER_FIELDS = 100
MAX_HEADER_FIELD_BYTES = 8190  # one header's name and value

# How long a client is asked to wait after service_unavailable.
RETRY_AFTER_UNAVAILABLE = 5


class ServiceError(Exception):
    """A refusal a caller can act on. `permanent` tells a job whether retrying can help."""

    def __init__(self, code: str, message: str, *, fields=None, permanent: bool = True):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields
        self.permanent = permanent


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


def error_body(code: str, message: str, fields=None) -> dict:
    error: dict[str, object] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    error["requestId"] = current_request_id.get()
    return {"success": False, "error": error}


def flatten_fields(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail → {"domain.oemCode": [...], "imageUrls[2]": [...]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            if isinstance(key, int):
                name = f"{prefix}[{key}]"
            elif key == "non_field_errors":
                name = prefix
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in flatten_fields(value, name).items():
                flat.setdefault(field, []).extend(messages)
    elif isinstance(detail, list) and detail and not all(isinstance(d, str) for d in detail):
        for index, value in enumerate(detail):
            if value:
                flat.update(flatten_fields(value, f"{prefix}[{index}]"))
    else:
        messages = detail if isinstance(detail, list) else [detail]
        flat[prefix] = [str(m) for m in messages]
    return flat


def validation_error(detail) -> ServiceError:
    """A serializer's errors as a validation_error, as the API would answer them (for
    errors reported inside a 200, such as one item's in a batch)."""
    message, fields = _validation_response(detail)
    return ServiceError("validation_error", message, fields=fields)


def _validation_response(detail) -> tuple[str, dict | None]:
    fields = flatten_fields(detail)
    general = fields.pop("", None)
    if general and not fields:
        return general[0], None
    count = len(fields)
    noun = "field is" if count == 1 else "fields are"
    return f"{count} {noun} invalid: {', '.join(fields)}.", fields


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error leaves the API in the one format."""
    status, headers, fields = None, {}, None
    if isinstance(exc, ServiceError):
        code, message, fields = exc.code, exc.message, exc.fields
    elif isinstance(exc, exceptions.ValidationError):
        code = "validation_error"
        message, fields = _validation_response(exc.detail)
    elif isinstance(exc, exceptions.ParseError):
        code, message = "invalid_json", str(exc.detail)
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        # simplejwt's token errors carry {"detail", "code", "messages"} as their detail.
        detail = exc.detail.get("detail", "") if isinstance(exc.detail, Mapping) else exc.detail
        code, message = "authentication_failed", str(detail)
        # DRF fills auth_header from the view's authenticator (401); without one it is 403.
        if auth_header := getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = auth_header
        status = exc.status_code
    elif isinstance(exc, exceptions.PermissionDenied):
        code, message = "forbidden", str(exc.detail)
    elif isinstance(exc, Http404 | exceptions.NotFound):
        code, message = "not_found", "Not found."
    elif isinstance(exc, exceptions.APIException):
        code = exc.default_code if exc.default_code in HTTP_STATUS else "error"
        message, status = str(exc.detail), exc.status_code
    elif isinstance(exc, OperationalError | InterfaceError):
        # The database is restarting, unreachable or shedding load: a moment's outage the
        # client rides out by retrying (every Integration API call is idempotent).
        logger.warning("Database unavailable in %s: %s", context.get("view"), exc)
        code = "service_unavailable"
        message = "Rheo's database is unavailable for a moment; retry the request shortly."
        headers["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE)
    else:
        logger.exception("Unhandled error in %s", context.get("view"))
        code, message = "internal_error", "An internal error occurred."
    return Response(
        error_body(code, message, fields), status=status or HTTP_STATUS[code], headers=headers
    )


def json_error(code: str, message: str, *, status: int | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status or HTTP_STATUS[code])


# Django's own answers (the URL resolver's 404, a 500 outside a DRF view, a bad Host's
# 400), turned into the error format under the API paths by rheo.middleware.
_DJANGO_ANSWERS = {
    400: ("bad_request", "The request is malformed."),
    403: ("forbidden", "Not allowed."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("payload_too_large", "The request body is too large."),
}


def error_for_status(request, status: int) -> JsonResponse:
    """The error-format answer for an HTTP status Django (not a DRF view) produced."""
    if status == 404:
        return json_error("not_found", f"No endpoint at {request.path}.")
    if status >= 500:
        return json_error("internal_error", "An internal error occurred.", status=status)
    code, message = _DJANGO_ANSWERS.get(status, ("error", "The request was refused."))
    return json_error(code, message, status=status)


def not_found_view(request, exception=None):
    if is_api_path(request.path):
        return error_for_status(request, 404)
    return defaults.page_not_found(request, exception)


def server_error_view(request):
    if is_api_path(request.path):
        return error_for_status(request, 500)
    return defaults.server_error(request)


class ApiErrorsMiddleware:
    """Under /integration/ and /api/, every error is JSON in the error format, with or
    without DEBUG: Django's own answers (the resolver's 404, its 500 or debug page, a bad
    Host's 400) are replaced. It also applies Rheo's limits on the URL and headers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        api = is_api_path(request.path)
        refusal = _over_limit(request)
        if refusal is not None:
            code, message = refusal
            return (
                json_error(code, message)
                if api
                else HttpResponse(message, status=HTTP_STATUS[code])
            )
        response = self.get_response(request)
        if api and response.status_code >= 400 and not _is_json(response):
            return error_for_status(request, response.status_code)
        return response


def _is_json(response) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _over_limit(request) -> tuple[str, str] | None:
    url_length = len(request.META.get("RAW_URI") or request.get_full_path())
    if url_length > MAX_URL_LENGTH:
        return "uri_too_long", f"The URL is longer than {MAX_URL_LENGTH} characters."
    headers = [(k, v) for k, v in request.META.items() if k.startswith("HTTP_")]
    if len(headers) > MAX_HEADER_FIELDS:
        return "headers_too_large", f"The request has more than {MAX_HEADER_FIELDS} headers."
    for key, value in headers:
        if len(key) - 5 + len(value) > MAX_HEADER_FIELD_BYTES:
            name = key[5:].replace("_", "-").title()
            return "headers_too_large", (
                f"The {name} header is longer than {MAX_HEADER_FIELD_BYTES} bytes."
            )
    return None
