"""A buyer in a real browser: searches the marketplace, opens a part with its hosted
photos, orders it (after correcting a mistake in the form), reads the confirmation; staff
then complete the order in admin, and the part is sold."""

import pytest
from django.core import mail

from items.models import Item, Order
from partners.models import User
from tests.conftest import item_body
from tests.items.imagehost import ImageHost, jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def photos(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    host = ImageHost()
    yield host
    host.close()


def test_a_buyer_orders_a_part_and_staff_complete_the_order(page, api_a, photos, worker, committed):
    urls = [photos.serve(f"/{n}.jpg", jpeg_bytes(color=(50 * n, 20, 20))) for n in (1, 2)]
    api_a.put("ERP_PART_12345", item_body(imageUrls=urls, autoPublishTradera=False))
    api_a.put("OTHER", item_body(imageUrls=urls[:1], title="Backspegel vänster", domain=None))
    worker()
    User.objects.create_superuser(email="staff@rheo.example", password="pw-for-staff")

    # The front page, then a search by OEM code.
    page.go("/")
    assert len(page.find_all(".market-card")) == 2
    page.screenshot("front-page")
    page.fill("#id_q", "31400452")
    page.click_text("Sök", "button")
    [card] = page.find_all(".market-card")
    assert "Volvo XC90 bromsok fram vänster — 2018" in card.text
    page.screenshot("search")

    # The part's page, with its hosted photos.
    page.click(".market-card a")
    assert page.text("h1") == "Volvo XC90 bromsok fram vänster — 2018"
    photo = page.find(".market-main-image")
    assert page.driver.execute_script("return arguments[0].naturalWidth", photo) > 0
    assert len(page.find_all(".market-thumbs img")) == 2
    page.screenshot("item")

    # The order: a mistake is shown beside its field, then corrected.
    page.fill("#id_name", "Anna Svensson").fill("#id_email", "anna@example.se")
    page.fill("#id_address_line1", "Storgatan 1").fill("#id_postal_code", "411")
    page.fill("#id_city", "Göteborg")
    page.click_text("Lägg beställning", "button")
    assert "Ange ett svenskt postnummer" in page.text(".market-order")
    page.screenshot("order-form-error")
    page.fill("#id_postal_code", "411 05")
    page.click_text("Lägg beställning", "button")
    order = Order.objects.get()
    assert page.path == f"/orders/{order.access_key}/"
    assert f"Beställning {order.reference}" in page.text("h1")
    assert "Delen är reserverad för dig" in page.text(".market-status")
    page.screenshot("order-confirmation")
    assert [m.to for m in mail.outbox] == [["anna@example.se"]]

    # Reserved: no longer on the front page.
    page.go("/")
    assert [c.text.split("\n")[0] for c in page.find_all(".market-card")] == ["Backspegel vänster"]

    # Staff take it through paid, shipped and completed in admin.
    page.go("/admin/login/")
    page.fill("#id_username", "staff@rheo.example").fill("#id_password", "pw-for-staff")
    page.click("input[type=submit]")
    page.go("/admin/items/order/")
    page.screenshot("admin-orders")
    for action, done in (
        ("mark_paid", "1 marked paid."),
        ("mark_shipped", "1 marked shipped."),
        ("mark_completed", "1 completed."),
    ):
        page.click(f"input[name=_selected_action][value='{order.pk}']", loads_page=False)
        page.find(f"select[name=action] option[value={action}]").click()
        page.click("button[name=index]")
        assert page.text(".messagelist") == done
    page.screenshot("admin-order-completed")

    item = Item.objects.get(external_id="ERP_PART_12345")
    assert (item.status, item.sold_platform, item.sale_price) == ("sold", "rheo", 950)
    page.go(f"/orders/{order.access_key}/")
    assert "Klar" in page.text(".market-status")
    page.go(f"/parts/{item.id}/")
    assert "Sidan finns inte" in page.text("h1")
