"""A partner's engineer goes through the Quick Start in a real browser: logs in,
generates a key and pushes an item with it, sets a webhook URL, copies the secret, sends
a test event and finds it in the delivery log, and opens the item's timeline."""

import json

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.conftest import item_body
from tests.items.imagehost import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, email="ops@recopart.example", password="pw-for-tests"):  # noqa: S107
    page.go("/dashboard/login/")
    page.screenshot("login")
    page.fill("#id_username", email).fill("#id_password", password)
    page.click("button[type=submit]")
    assert page.path == "/dashboard/"


def test_the_quick_start_in_the_dashboard(page, partner_a, worker, receiver, photos, live_server):
    log_in(page)
    assert "Overview" in page.text("h1")
    page.screenshot("overview")

    # A new partner's dashboard opens in test mode, and says what that is.
    assert "nothing is really sold" in page.text(".test-banner")

    # Step 1: Integration → Generate API key (in the mode being viewed); the full key is
    # shown once.
    page.click_text("Integration", "a")
    page.fill("#id_name", "Recopart Production")
    page.click_text("Generate API key", "button")
    key = page.text("#new-api-key")
    assert key.startswith("rheo_test_") and len(key) == 42
    assert page.find("button.copy").is_displayed()  # the copy button, with JavaScript
    page.screenshot("integration-new-key")

    # Step 2: push an item with that key.
    photo = photos.serve("/caliper.jpg", jpeg_bytes())
    pushed = requests.put(
        f"{live_server.url}/integration/v1/items/ERP_PART_12345",
        json=item_body(imageUrls=[photo], autoPublishTradera=False),
        headers={"x-api-key": key},
        timeout=10,
    )
    assert pushed.status_code == 202, pushed.text
    worker()
    status = requests.get(
        f"{live_server.url}/integration/v1/items/ERP_PART_12345",
        headers={"x-api-key": key},
        timeout=10,
    )
    assert status.json()["rheoStatus"] == "active"

    # Step 4: Integration → Webhook Settings; the secret verifies what arrives.
    page.go("/dashboard/integration/")
    page.click_text("Webhook Settings", "a")
    page.fill("#id_url", receiver.url())
    page.click_text("Save", "button")
    assert "Webhook settings saved." in page.text(".messages")
    page.click_text("Reveal secret", "a")
    secret = page.text("#webhook-secret")
    assert secret.startswith("whsec_")
    page.screenshot("webhook-settings")
    page.click_text("Send test event", "button")
    assert page.path == "/dashboard/integration/deliveries/"
    worker()
    [received] = receiver.received
    payload = Webhook(secret).verify(received.body, received.headers)
    assert payload["eventType"] == "webhook.test"

    page.go("/dashboard/integration/deliveries/")
    row = page.find("table.deliveries tbody tr")
    assert "webhook.test" in row.text and "succeeded" in row.text
    page.screenshot("delivery-log")
    page.click("table.deliveries tbody tr a")
    assert "HTTP 200" in page.text("table.attempts")
    page.screenshot("delivery")

    # The item's page: its image, its texts and its timeline.
    page.go("/dashboard/items/")
    page.fill("#id_q", "ERP_PART")
    page.click_text("Filter", "button")
    page.click_text("ERP_PART_12345", "a")
    timeline = page.text("#timeline")
    assert "Received by PUT" in timeline
    assert "Images: 1 of 1 ready" in timeline
    assert "Status draft → active" in timeline
    image = page.find(".thumbs img")
    assert page.driver.execute_script("return arguments[0].naturalWidth", image) > 0
    page.screenshot("item")

    # Analytics: the charts are drawn (inline SVG) with their tables beside them.
    page.click_text("Analytics", "a")
    charts = page.find_all("svg.chart")
    assert len(charts) == 3 and all(chart.size["width"] > 300 for chart in charts)
    assert "Volvo" in page.text("#manufacturers table")
    page.screenshot("analytics")
    page.click_text("Subscription", "a")
    assert "Free plan" in page.text("#current-plan h2")
    page.screenshot("subscription")

    page.click_text("Log out", "button")
    assert page.path.startswith("/dashboard/login/")
    assert json.loads(received.body)["data"] is not None
