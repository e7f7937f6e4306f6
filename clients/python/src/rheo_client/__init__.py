"""Rheo's Python SDK: `Rheo` for the Integration API, `verify_webhook` for its webhooks.

from rheo_client import Rheo
rheo = Rheo(api_key="rheo_test_…", base_url="http://localhost:8000")
rheo.put_item("ERP_PART_1", {"title": "Bromsok", "price": 950, "shippingCost": 149,
                             "imageUrls": ["https://cdn.example.com/1.jpg"]})
"""

__version__ = "0.1.0"

from rheo_client.client import Rheo  # noqa: E402
from rheo_client.errors import RheoError  # noqa: E402
from rheo_client.models import (  # noqa: E402
    BatchError,
    BatchItemResult,
    BatchResult,
    Event,
    EventPage,
    HostedImage,
    Issue,
    Item,
    ItemPage,
    WriteResult,
)
from rheo_client.retry import RetryPolicy  # noqa: E402
from rheo_client.webhooks import WebhookVerificationError, sign_webhook, verify_webhook  # noqa: E402

__all__ = [
    "BatchError",
    "BatchItemResult",
    "BatchResult",
    "Event",
    "EventPage",
    "HostedImage",
    "Issue",
    "Item",
    "ItemPage",
    "Rheo",
    "RheoError",
    "RetryPolicy",
    "WebhookVerificationError",
    "WriteResult",
    "sign_webhook",
    "verify_webhook",
]
