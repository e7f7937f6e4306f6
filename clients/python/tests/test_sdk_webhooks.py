"""verify_webhook: the stock standardwebhooks verification of Rheo's deliveries."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from rheo_client import WebhookVerificationError, sign_webhook, verify_webhook
from rheo_client.webhooks import new_secret

EVENT = {"eventId": "evt_01kaqz7f3q0v6d9c6bq8r0n2x5", "eventType": "item.sold",
         "data": {"externalId": "ERP_PART_1", "salePrice": 950}}  # fmt: skip


def delivery(secret: str, at: datetime | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(EVENT)
    return body.encode(), sign_webhook(secret, EVENT["eventId"], body, at=at)


def test_a_signed_delivery_verifies_and_gives_the_event():
    secret = new_secret()
    body, headers = delivery(secret)
    assert verify_webhook(body, headers, secret) == EVENT


def test_header_names_are_matched_in_any_case():
    secret = new_secret()
    body, headers = delivery(secret)
    upper = {name.upper(): value for name, value in headers.items()}
    assert verify_webhook(body.decode(), upper, secret)["eventType"] == "item.sold"


def test_a_changed_body_another_secret_or_an_old_delivery_is_refused():
    secret = new_secret()
    body, headers = delivery(secret)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body.replace(b"950", b"9500"), headers, secret)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers, new_secret())
    old_body, old_headers = delivery(secret, at=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(old_body, old_headers, secret)


def test_during_a_rotation_either_signature_passes():
    old, new = new_secret(), new_secret()
    body, headers = delivery(new)
    _, old_headers = delivery(old)
    headers["webhook-signature"] += " " + old_headers["webhook-signature"]
    assert verify_webhook(body, headers, old) == EVENT
    assert verify_webhook(body, headers, new) == EVENT
