"""Verifying (and, for `rheo webhook listen`, signing) Rheo's webhooks.

Rheo signs as the Standard Webhooks specification says; this is the stock
`standardwebhooks` library, so what passes here passes any other implementation.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["WebhookVerificationError", "new_secret", "sign_webhook", "verify_webhook"]


def verify_webhook(body: bytes | str, headers: Mapping[str, str], secret: str) -> dict[str, Any]:
    """The verified event (the parsed body), or `WebhookVerificationError`.

    `body` must be the raw bytes as received (not re-serialised JSON), `headers` the
    request's headers (any case), `secret` the `whsec_…` of your webhook settings. It
    checks the signature (either one during a secret rotation) and that
    `webhook-timestamp` is within 5 minutes, so an old delivery cannot be replayed.
    """
    event = Webhook(secret).verify(body, dict(headers.items()))
    if not isinstance(event, dict):
        raise WebhookVerificationError("the body is not a JSON object")
    return event


def sign_webhook(
    secret: str, event_id: str, body: str, *, at: datetime | None = None
) -> dict[str, str]:
    """The Standard Webhooks headers Rheo would send with `body` under `secret`."""
    at = at or datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
    }


def new_secret() -> str:
    """A fresh `whsec_` secret (24 random bytes, base64), as Rheo makes them."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def payload_body(payload: Mapping[str, Any]) -> str:
    """A payload as compact JSON, the form Rheo sends."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
