"""A dismantler looks at price guidance in a real browser: on an item's page, where its
price stands among the sales for the part; on the analytics page, the parts priced far
from guidance, each linking to its item."""

import pytest

from tests.e2e.test_dashboard_flow import log_in
from tests.tradera.test_guidance import create, sold
from tradera import guidance

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sales(settings, clock, partner_a, partner_b):
    settings.RHEO_GUIDANCE_MIN_SALES = 4
    settings.RHEO_GUIDANCE_MIN_SELLERS = 2
    for n, (partner, price, days) in enumerate(
        [(partner_a, 1000, 10), (partner_b, 1200, 20), (partner_a, 1400, 30), (partner_b, 2000, 40)]
    ):
        sold(clock, partner, f"SOLD-{n}", price, days)
    clock.shift(60 * 86400)
    guidance.refresh_all()


def test_guidance_on_the_item_page_and_in_analytics(page, sales, partner_a):
    high = create(partner_a, "ERP-HIGH", price=1900, oem="31400452", grade="B")
    create(partner_a, "ERP-LOW", price=800, oem="31400452", grade="B")
    create(partner_a, "ERP-FAIR", price=1300, oem="31400452", grade="B")
    log_in(page)
    if "switch to live" in page.text("form.mode-switch"):  # the sales and items are live
        page.click("form.mode-switch button")

    page.go(f"/dashboard/items/{high.pk}/")
    assert page.text("#guidance-position").startswith(
        "Your price is in the top quarter of sales for this part"
    )
    assert "4 from 2 sellers" in page.text("#guidance")
    page.screenshot("guidance-item")

    page.go("/dashboard/analytics/")
    section = page.text("#far-from-guidance")
    assert "ERP-HIGH" in section and "ERP-LOW" in section and "ERP-FAIR" not in section
    page.screenshot("guidance-analytics")
    page.click("#far-from-guidance a")
    assert page.path.startswith("/dashboard/items/")
