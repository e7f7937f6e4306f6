import io
import logging
import re
import time
import uuid
from contextvars import ContextVar
from datetime import UTC

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger("rheo.request")

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

# Every answer under these prefixes is JSON in the error format (rheo.errors), except
# the API's own documentation pages.
API_PREFIXES = ("/integration/", "/api/")
_API_DOCUMENTS = ("/api/docs/", "/api/schema/")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES) and path not in _API_DOCUMENTS


# A caller's (or proxy's) own request id is kept when it is plain and short.
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class RequestIdMiddleware:
    """Gives every request an id (returned as X-Request-Id and in error bodies) and
    writes one log line per request. A view that authenticated an API key names it in
    the line by setting `api_key_prefix` (the key's display prefix) on its response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _ACCEPTED_ID.match(incoming) else f"req_{uuid.uuid4().hex}"
        request.request_id = request_id
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-Id"] = request_id
        logger.info(
            "request_id=%s method=%s path=%s status=%s duration_ms=%.1f key=%s",
            request_id,
            request.method,
            request.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
            getattr(response, "api_key_prefix", "-"),
        )
        return response


class UTCForAPIsMiddleware:
    """The APIs answer with UTC times ("2026-11-23T12:00:00Z") whatever TIME_ZONE the
    pages are shown in: DRF writes datetimes in the current time zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIXES):
            return self.get_response(request)
        with timezone.override(UTC):
            return self.get_response(request)


RECONCILIATIONS_PATH = "/integration/v1/reconciliations"
ITEM_BATCH_PATH = "/integration/v1/items/batch"


def _body_limit(environ) -> int:
    """The body limit of the request's path (and method): as its view's parser has it."""
    path = environ.get("PATH_INFO")
    if path == RECONCILIATIONS_PATH:
        return settings.RHEO_RECONCILIATION_MAX_BODY_BYTES
    if path == ITEM_BATCH_PATH and environ.get("REQUEST_METHOD") == "POST":
        return settings.RHEO_MAX_BATCH_BODY_BYTES
    return settings.RHEO_MAX_BODY_BYTES


class ChunkedBodies:
    """WSGI middleware: a chunked request body, as read by Django.

    Django reads a body only as far as its Content-Length, and a chunked request has none,
    so its body would read as empty. gunicorn de-chunks `wsgi.input`; this reads it, no
    further than its path's body limit (RHEO_MAX_BODY_BYTES; the reconciliation endpoint's
    RHEO_RECONCILIATION_MAX_BODY_BYTES; the batch's POST RHEO_MAX_BATCH_BODY_BYTES) and one
    byte more (so the JSON parser still refuses a body over its view's limit with 413), and
    hands Django the length it read."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            limit = _body_limit(environ)
            body = environ["wsgi.input"].read(limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)
