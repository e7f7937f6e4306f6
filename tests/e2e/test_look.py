"""Every page of the dashboard, the marketplace and the staff admin, in one pass at a
desktop's width (1280 px) and at a phone's (390 px): none is wider than the window (wide
tables scroll inside their own box), the navigation is there, and a screenshot of each
goes to var/screenshots/<width>/ for a person to look at."""

import pytest

from items import grades, orders
from items.imports import services as imports
from items.imports.models import StockImport
from items.models import Item, Order, PriceGuidance
from partners.models import User
from tests.conftest import item_body
from tests.e2e.conftest import SCREENSHOTS
from tests.items.imagehost import ImageHost, jpeg_bytes
from tests.webhooks.conftest import Receiver
from webhooks import replays
from webhooks import services as webhooks
from webhooks.models import Delivery, all_event_types

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("_window_restored")]

LONG_ID = "ERP_PART_2026_11_VOLVO_XC90_BROMSOK_FRAM_VANSTER_0001234567"
LONG_TITLE = "Volvo XC90 / XC60 / S90 / V90 bromsok fram vänster med hållare och klossar — 2018"


@pytest.fixture
def shop(api_a, partner_a, committed, worker, settings, tmp_path):
    """A partner with a few items (one with a long id and title, one sold, one ordered),
    a webhook receiver with deliveries, and a staff user."""
    settings.MEDIA_ROOT = tmp_path / "media"
    host, receiver = ImageHost(), Receiver()
    webhooks.configure_endpoint(
        partner=partner_a,
        livemode=True,
        url=receiver.url(),
        enabled=True,
        event_types=all_event_types(),
    )
    photos = [host.serve(f"/{n}.jpg", jpeg_bytes(color=(40 * n, 60, 90))) for n in range(1, 4)]
    with committed():
        api_a.put(LONG_ID, item_body(imageUrls=photos, title=LONG_TITLE, price=12500))
        api_a.put("ERP-2", item_body(imageUrls=photos[:1], autoPublishTradera=False))
        api_a.put("ERP-3", item_body(imageUrls=photos[1:2], autoPublishTradera=False))
    worker()
    with committed():
        api_a.patch_price("ERP-2", {"price": 1100})
        api_a.patch_status("ERP-2", {"status": "sold"})
    worker()
    ordered = Item.objects.get(external_id="ERP-3")
    orders.place_order(
        item_id=ordered.pk,
        buyer=orders.Buyer(
            name="Anna Svensson",
            email="anna@example.se",
            address_line1="Storgatan 1",
            postal_code="411 05",
            city="Göteborg",
        ),
    )
    worker()
    stock_imports(partner_a, photos[0])
    grades.replace_grade_scale(
        partner=partner_a,
        grades=[
            grades.GradeSpec("A*", "A", "Som ny", "Som ny, inga spår av användning, testad."),
            grades.GradeSpec("B", "B", "Gott skick", "Normalt slitage för åldern, fungerar."),
            grades.GradeSpec("M", "D", "Defekt", "Defekt eller otestad; säljs som den är."),
        ],
    )
    # Guidance for the items' part (OEM 31400452, grade B), as the nightly refresh writes
    # it: the item pages show it, and analytics lists the long item as priced far above.
    PriceGuidance.objects.create(
        level=PriceGuidance.Level.OEM_GRADE,
        key="31400452|B",
        sales=24,
        sellers=5,
        unsold=6,
        median_price=1300,
        p25_price=1150,
        p75_price=1550,
        median_days=25.0,
    )
    User.objects.create_superuser(email="staff@rheo.example", password="pw-for-staff")
    yield
    receiver.close()
    host.close()


def stock_imports(partner, photo: str) -> None:
    """Three imports of one file with a long id, a long title and a bad row: one to map,
    one checked, one imported (its job run here, as a worker would)."""
    rows = [
        f"{LONG_ID};{LONG_TITLE};12 500;149;{photo};B",
        f"ERP-10;Backspegel höger;450;149;{photo} {photo};A",
        f"ERP-11;Strålkastare;gratis;99;{photo};Q",
    ]
    data = ("Artikelnr;Benämning;Pris;Frakt;Bilder;Skick\n" + "\n".join(rows) + "\n").encode()
    name = "lagerexport-2026-11-23-alla-artiklar-med-bilder-och-priser.csv"
    made = [
        imports.create_import(partner=partner, livemode=True, name=name, data=data)
        for _ in range(3)
    ]
    for stock_import in made[1:]:
        imports.start_check(
            partner=partner,
            livemode=True,
            import_id=stock_import.pk,
            mapping=stock_import.mapping,
            defaults={},
        )
        imports.run_job(import_id=stock_import.pk)
    imports.start_import(partner=partner, livemode=True, import_id=made[2].pk)
    imports.run_job(import_id=made[2].pk)


def test_every_page_fits_a_desktop_and_a_phone(page, shop):
    item = Item.objects.get(external_id=LONG_ID)
    sold = Item.objects.get(external_id="ERP-2")
    order = Order.objects.get()
    delivery = Delivery.objects.order_by("created_at").first()
    to_map, checked, imported = StockImport.objects.order_by("created_at")
    replay = replays.start_replay(
        partner=item.partner, livemode=True, created_after=delivery.created_at
    )
    market = [
        ("market-front", "/"),
        ("market-item", f"/parts/{item.pk}/"),
        ("market-order", f"/orders/{order.access_key}/"),
        ("market-not-found", f"/parts/{sold.pk}/"),
    ]
    dashboard = [
        ("dashboard-overview", "/dashboard/"),
        ("dashboard-items", "/dashboard/items/"),
        ("dashboard-item", f"/dashboard/items/{item.pk}/"),
        ("dashboard-item-sold", f"/dashboard/items/{sold.pk}/"),
        ("dashboard-grade-scale", "/dashboard/items/grades/"),
        ("dashboard-import", "/dashboard/items/import/"),
        ("dashboard-import-mapping", f"/dashboard/items/import/{to_map.pk}/"),
        ("dashboard-import-checked", f"/dashboard/items/import/{checked.pk}/"),
        ("dashboard-import-done", f"/dashboard/items/import/{imported.pk}/"),
        ("dashboard-integration", "/dashboard/integration/"),
        ("dashboard-webhooks", "/dashboard/integration/webhooks/?reveal=1"),
        ("dashboard-relisting", "/dashboard/integration/relisting/"),
        ("dashboard-deliveries", "/dashboard/integration/deliveries/"),
        ("dashboard-delivery", f"/dashboard/integration/deliveries/{delivery.pk}/"),
        ("dashboard-events", "/dashboard/integration/events/"),
        ("dashboard-event", f"/dashboard/integration/events/{delivery.event_id}/"),
        ("dashboard-replay", f"/dashboard/integration/replays/{replay.pk}/"),
        ("dashboard-analytics", "/dashboard/analytics/"),
        ("dashboard-subscription", "/dashboard/subscription/"),
    ]
    admin = [
        ("admin-index", "/admin/"),
        ("admin-items", "/admin/items/item/"),
        ("admin-item", f"/admin/items/item/{item.pk}/change/"),
        ("admin-orders", "/admin/items/order/"),
        ("admin-order", f"/admin/items/order/{order.pk}/change/"),
        ("admin-partners", "/admin/partners/partner/"),
        ("admin-partner", f"/admin/partners/partner/{item.partner_id}/change/"),
        ("admin-api-keys", "/admin/partners/apikey/"),
        ("admin-deliveries", "/admin/webhooks/delivery/"),
        ("admin-delivery", f"/admin/webhooks/delivery/{delivery.pk}/change/"),
    ]
    too_wide = []

    def visit(name, path, width):
        page.go(path)
        assert page.driver.execute_script("return window.innerWidth") == width
        assert page.path == path, (name, page.path)  # no redirect to a login
        page.screenshot(name)
        if page.overflow() > 0:
            too_wide.append(f"{name} at {width} px: {page.overflow()} px too wide")
        # At a desktop's width an admin list shows all its columns without scrolling.
        hidden = page.driver.execute_script(
            "const box = document.querySelector('#changelist .results');"
            "return box ? box.scrollWidth - box.clientWidth : 0"
        )
        if width == 1280 and hidden > 0:
            too_wide.append(f"{name}'s list at {width} px: {hidden} px hidden")

    for width in (1280, 390):
        page.driver.delete_all_cookies()
        page.resize(width)
        page.shots = SCREENSHOTS / str(width)
        page.shots.mkdir(parents=True, exist_ok=True)
        for name, path in market:
            visit(name, path, width)

        page.go("/dashboard/login/")
        page.screenshot("dashboard-login")
        page.fill("#id_username", "ops@recopart.example").fill("#id_password", "pw-for-tests")
        page.click("button[type=submit]")
        for name, path in dashboard:
            visit(name, path, width)
            if name == "dashboard-item":
                # One marker an entry: the timeline's dot, or a nested list's own bullet.
                markers = page.driver.execute_script(
                    "return [...document.querySelectorAll('#timeline li')].map(li => ["
                    "li.parentElement.id === 'timeline',"
                    "getComputedStyle(li, '::before').content !== 'none',"
                    "getComputedStyle(li).listStyleType !== 'none'])"
                )
                assert len(markers) > 5 and any(not top for top, _, _ in markers)
                assert all(dot + bullet == 1 for _, dot, bullet in markers), markers
            # Every section is a tap away, whatever the width: on screen, not cut off.
            links = page.driver.execute_script(
                "return [...document.querySelectorAll('.mainnav a')].map(a => {"
                "const box = a.getBoundingClientRect();"
                "return [a.textContent.trim(), box.height > 0 && box.right <= innerWidth]})"
            )
            assert links == [
                [section, True]
                for section in ("Overview", "Items", "Integration", "Analytics", "Subscription")
            ]

        page.driver.delete_all_cookies()
        page.go("/admin/login/")
        page.fill("#id_username", "staff@rheo.example").fill("#id_password", "pw-for-staff")
        page.click("input[type=submit]")
        for name, path in admin:
            visit(name, path, width)
        assert "Rheo staff admin" in page.text("#site-name")
    page.go("/admin/items/item/")
    filters = [title.text for title in page.find_all("#changelist-filter details summary")]
    assert filters[:3] == ["By Rheo status", "By Tradera status", "By mode: live/test"]

    assert too_wide == [], "\n".join(too_wide)
