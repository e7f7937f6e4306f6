"""Webhooks: events and endpoint settings (events.py), their delivery (delivery.py)."""

from webhooks.services.delivery import (
    LEASE,
    NUDGE_GRACE,
    RETRY_DELAYS,
    RETRY_SPAN,
    attempt_delivery,
    redeliver,
    resend_event,
    sweep_deliveries,
)
from webhooks.services.events import (
    configure_endpoint,
    disable_endpoint,
    emit,
    enable_endpoint,
    rotate_secret,
    send_test_event,
    signing_secrets,
)

__all__ = [
    "LEASE",
    "NUDGE_GRACE",
    "RETRY_DELAYS",
    "RETRY_SPAN",
    "attempt_delivery",
    "configure_endpoint",
    "disable_endpoint",
    "emit",
    "enable_endpoint",
    "redeliver",
    "resend_event",
    "rotate_secret",
    "send_test_event",
    "signing_secrets",
    "sweep_deliveries",
]
