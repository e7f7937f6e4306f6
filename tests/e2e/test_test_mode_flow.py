"""Test mode end to end, in Chromium: a new partner's dashboard opens in test mode; the
first item's listing.created, recorded before any webhook, is sent afterwards with the
Send button; its Tradera ad link opens the sandbox's page for the auction; and a sandbox
Tradera account is connected through the sandbox's login page and back."""

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import integration, item_body
from tests.e2e.test_dashboard_flow import log_in
from tests.items.imagehost import jpeg_bytes
from tests.tradera.conftest import (  # noqa: F401 - fixtures
    rheo_on_the_sandbox,
    sandbox,
    sandbox_server,
)
from tradera.models import TraderaAccount, TraderaListing
from webhooks import selectors

pytestmark = pytest.mark.django_db(transaction=True)


def test_test_mode_from_the_first_item_to_a_connected_sandbox_seller(
    page,
    partner_a,
    worker,
    receiver,
    photos,
    rheo_on_the_sandbox,  # noqa: F811
    sandbox,  # noqa: F811
):
    api = integration(partner_a, "test")
    photo = photos.serve("/caliper.jpg", jpeg_bytes())
    assert api.put("ERP_PART_12345", item_body(imageUrls=[photo])).status_code == 202
    worker()
    listing = TraderaListing.objects.get()
    assert listing.status == "active"

    log_in(page)
    assert "Test mode:" in page.text(".test-banner")

    # The item: its listing.created found no endpoint; the ad link is the sandbox's page.
    page.go(f"/dashboard/items/{listing.item_id}/")
    assert "No webhook endpoint took this event." in page.text("#timeline")
    ad = page.find("#tradera a")
    assert ad.get_attribute("href") == f"{sandbox.url}item/{listing.tradera_item_id}"
    page.click("#tradera a")
    assert page.driver.current_url == f"{sandbox.url}item/{listing.tradera_item_id}"
    assert "Volvo XC90 bromsok fram vänster — 2018" in page.text("h1")
    assert (
        page.driver.execute_script("return document.querySelector('.images img').naturalWidth") > 0
    )
    page.screenshot("sandbox-auction")

    # A webhook now, and the event sent to it with the Send button.
    page.go("/dashboard/integration/webhooks/")
    page.fill("#id_url", receiver.url())
    page.click_text("Save", "button")
    page.go(f"/dashboard/items/{listing.item_id}/")
    page.click_text("Send", "button")
    worker()
    [received] = receiver.received
    secret = selectors.get_endpoint(partner=partner_a, livemode=False).secret
    assert Webhook(secret).verify(received.body, received.headers)["eventType"] == (
        "listing.created"
    )
    page.go(f"/dashboard/items/{listing.item_id}/")
    assert "No webhook endpoint took this event." not in page.text("#timeline")
    page.screenshot("item-event-sent")

    # Integration → Tradera connection: the sandbox's login page, and back connected.
    page.go("/dashboard/integration/")
    page.click_text("Connect a sandbox Tradera account", "button")
    assert page.driver.current_url.startswith(f"{sandbox.url}tokenlogin.aspx?")
    page.screenshot("sandbox-login")
    page.fill("input[name=name]", "Recopart sandbox")
    page.click_text("Accept", "button")
    assert page.path == "/dashboard/integration/"
    seller = sandbox.seller("Recopart sandbox")
    assert f"Sandbox Tradera seller {seller.user_id} is connected" in page.text(".messages")
    assert TraderaAccount.objects.get(partner=partner_a, livemode=False).user_id == (seller.user_id)
    page.screenshot("tradera-connected")
