"""Standard Webhooks signatures (https://www.standardwebhooks.com): an HMAC-SHA256 over
`<webhook-id>.<webhook-timestamp>.<body>` keyed with the secret's bytes, sent as
`v1,<base64>`; one space-separated entry per secret that is signing."""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature_header(*, signing_secrets: list[str], msg_id: str, timestamp: int, body: str) -> str:
    signed = f"{msg_id}.{timestamp}.{body}".encode()
    entries = []
    for secret in signing_secrets:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
        digest = hmac.new(key, signed, hashlib.sha256).digest()
        entries.append("v1," + base64.b64encode(digest).decode())
    return " ".join(entries)
