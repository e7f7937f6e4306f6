import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from rheo.errors import PayloadTooLarge


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class JSONBodyParser(BaseParser):
    """Strict JSON (no NaN or Infinity), read no further than the body limit.

    DRF reads the request stream itself, bypassing Django's upload limit, so the limit is
    enforced here while reading: a large body is refused without being held in memory.
    The limit is `max_bytes()`: RHEO_MAX_BODY_BYTES, or a subclass's own (a view with
    larger bodies names that subclass among its parsers)."""

    media_type = "application/json"

    def max_bytes(self) -> int:
        """The body limit; a view whose bodies are larger has a subclass of its own."""
        return settings.RHEO_MAX_BODY_BYTES

    def read_limited(self, stream) -> bytes:
        limit = self.max_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        return raw

    def parse(self, stream, media_type=None, parser_context=None):
        raw = self.read_limited(stream)
        try:
            return json.loads(raw, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise ParseError(f"The request body is not valid JSON: {exc}.") from exc
        except RecursionError as exc:
            raise ParseError("The request body is nested too deeply.") from exc
