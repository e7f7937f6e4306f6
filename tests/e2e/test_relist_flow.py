"""Relisting in Chromium: the partner sets its relist rules in the dashboard (a step given
twice is refused by the form), an auction ends unsold on the sandbox, and the item page
shows the relist: the new auction, the one it replaced, the next price and the timeline."""

import pytest

from tests.conftest import integration, item_body
from tests.e2e.test_dashboard_flow import log_in
from tests.items.imagehost import jpeg_bytes
from tests.tradera.conftest import (  # noqa: F401 - fixtures
    rheo_on_the_sandbox,
    sandbox,
    sandbox_server,
)
from tradera import sync
from tradera.models import RelistRules, TraderaAccount, TraderaListing

pytestmark = pytest.mark.django_db(transaction=True)


def test_rules_set_in_the_dashboard_relist_an_unsold_auction(
    page,
    partner_a,
    worker,
    photos,
    settings,
    rheo_on_the_sandbox,  # noqa: F811
    sandbox,  # noqa: F811
):
    settings.TRADERA_POLL_SECONDS = 0  # the relist's publish is settled in one worker run
    log_in(page)
    page.go("/dashboard/integration/relisting/")
    page.screenshot("rules-empty")
    page.click("#id_enabled", loads_page=False)
    page.fill("#id_max_relists", "2").fill("#id_step_amount", "100")  # and 10 %: twice
    page.fill("#id_floor_price", "800").fill("#id_floor_percent", "")
    page.click("#relist-rules button[type=submit]")
    assert "not both" in page.text("#relist-rules")
    assert not RelistRules.objects.exists()
    page.fill("#id_step_percent", "").click("#relist-rules button[type=submit]")
    assert "Relist rules saved." in page.text()
    rules = RelistRules.objects.get(partner=partner_a)
    assert (rules.enabled, rules.max_relists, rules.step_amount, rules.floor_price) == (
        True,
        2,
        100,
        800,
    )

    api = integration(partner_a, "test")
    photo = photos.serve("/caliper.jpg", jpeg_bytes())
    assert api.put("P1", item_body(imageUrls=[photo], price=1000)).status_code == 202
    worker()
    first = TraderaListing.objects.get().tradera_item_id
    page.go(f"/dashboard/items/{TraderaListing.objects.get().item_id}/")
    assert "Next relist at 900" in page.text("#relist")

    sandbox.end(first)
    sync.sync_account(account_id=TraderaAccount.objects.get().pk)
    worker()
    listing = TraderaListing.objects.get()
    assert listing.status == "active" and listing.tradera_item_id != first
    page.go(f"/dashboard/items/{listing.item_id}/")
    page.screenshot("item-relisted")
    state = page.text("#relist")
    assert f"Relisted 1 time, replacing auction {first}" in state
    assert "Next relist at 800" in state
    assert "Relist 1 of 2" in page.text("#timeline")
