"""Price guidance on a known data set: the figures at each level and their fallbacks,
the privacy thresholds, the nightly refresh, the update a sale queues, and where the
figures show (the item's GET, the Management API's guidance endpoint)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from items import grades, lifecycle, services
from items.guidance import GuidanceUpdate, PriceGuidance
from items.models import Item
from items.services import ItemContent
from tests.conftest import login, make_partner
from tests.portal.test_dashboard import logged_in
from tradera import guidance
from tradera.models import CategoryRule


def at(clock, day):
    """Noon on the `day`th day from 1 March 2026 (1: 1 March)."""
    clock.move_to(datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(days=day - 1), tick=False)


def domain(oem="31400452", grade="B", model="XC90", year=2018):
    return {
        "domain": "automotive_part",
        "oemCode": oem,
        "manufacturer": "Volvo",
        "compatibleModels": [model],
        "donorVehicleYear": year,
        "conditionGrade": grade,
    }


def create(partner, external_id, price=900, *, livemode=True, title="Bromsok fram vänster", **part):
    content = ItemContent(
        title=title,
        description="",
        price=Decimal(price),
        shipping_cost=Decimal(0),
        weight_kg=None,
        currency="SEK",
        image_urls=("https://cdn.example.com/1.jpg",),
        domain=domain(**part),
        use_ai_enhancement=False,
    )
    item = services.upsert_item(
        partner=partner,
        livemode=livemode,
        external_id=external_id,
        content=content,
        auto_publish_tradera=False,
    ).item
    lifecycle.transition_item(item=item, status=Item.Status.ACTIVE)
    return item


def sold(clock, partner, external_id, price, days, *, livemode=True, **part):
    """An item created on 1 March and sold on Tradera `days` later."""
    at(clock, 1)
    item = create(partner, external_id, livemode=livemode, **part)
    at(clock, 1 + days)
    with transaction.atomic():  # as the sync sells: in its transaction
        lifecycle.mark_item_sold(item=item, platform="tradera", price=Decimal(price))
    return item


@pytest.fixture
def thresholds(settings):
    settings.RHEO_GUIDANCE_MIN_SALES = 4
    settings.RHEO_GUIDANCE_MIN_SELLERS = 3
    settings.RHEO_GUIDANCE_YEAR_BAND = 5


@pytest.fixture
def browser_a(partner_a):
    return logged_in("ops@recopart.example")


@pytest.fixture
def partner_c(db):
    return make_partner("Bildemontering Norr AB", "ops@norr.example")


@pytest.fixture
def dataset(thresholds, clock, partner_a, partner_b, partner_c):
    """OEM 31400452 grade B: 1000 (a, 10 days), 1200 (b, 20), 1400 (a, 30), 2000 (c, 40),
    and one de-listed unsold. Grade C: 600 (b, 5). A test-mode sale and a sale of another
    OEM by partner_a alone (four times) that must not count where they do not belong."""
    sold(clock, partner_a, "A1", 1000, 10)
    sold(clock, partner_b, "B1", 1200, 20)
    sold(clock, partner_a, "A2", 1400, 30)
    sold(clock, partner_c, "C1", 2000, 40)
    sold(clock, partner_b, "B2", 600, 5, grade="C")
    unsold = create(partner_c, "C2")
    lifecycle.transition_item(item=unsold, status=Item.Status.NOT_LISTED)
    sold(clock, partner_a, "T1", 99999, 1, livemode=False)  # test mode: no evidence
    for n in range(4):  # one seller only, another model: never shown
        sold(clock, partner_a, f"S{n}", 500 + n, 3, oem="LONELY-1", model="V70")
    at(clock, 60)
    guidance.refresh_all()
    for pending in GuidanceUpdate.objects.all():  # what the workers do with the sales' nudges
        guidance.update_for_item(item_id=pending.item_id)


def row(level, key):
    return PriceGuidance.objects.get(level=level, key=key)


def test_refresh_computes_exact_figures_per_level(dataset):
    oem_b = row(1, "31400452|B")
    assert (oem_b.sales, oem_b.sellers, oem_b.unsold) == (4, 3, 1)
    assert (oem_b.median_price, oem_b.p25_price, oem_b.p75_price) == (
        Decimal("1300.00"),
        Decimal("1150.00"),
        Decimal("1550.00"),
    )
    assert oem_b.median_days == pytest.approx(25.0)
    assert oem_b.sell_through == 0.8

    oem = row(2, "31400452")
    assert (oem.sales, oem.sellers, oem.unsold) == (5, 3, 1)
    assert (oem.median_price, oem.p25_price, oem.p75_price) == (
        Decimal("1200.00"),
        Decimal("1000.00"),
        Decimal("1400.00"),
    )
    assert oem.median_days == pytest.approx(20.0)
    assert oem.sell_through == 0.8333


def test_an_item_gets_the_most_specific_level_with_enough_sales(dataset, partner_a):
    at_oem_grade = create(partner_a, "N1", oem="31400452", grade="B")
    oem_only = create(partner_a, "N2", oem="314-004 52", grade="C")  # one grade C sale only
    vehicle_grade = create(partner_a, "N3", oem="NEW-1", grade="B")
    vehicle = create(partner_a, "N4", oem="NEW-1", grade="D")
    nothing = create(partner_a, "N5", oem="NEW-1", model="XC60")
    found = guidance.for_items([at_oem_grade, oem_only, vehicle_grade, vehicle, nothing])
    assert found[at_oem_grade.pk].get_level_display() == "oem_grade"
    assert found[oem_only.pk].get_level_display() == "oem"
    assert found[vehicle_grade.pk].get_level_display() == "vehicle_grade"
    assert found[vehicle_grade.pk].median_price == Decimal("1300.00")
    assert found[vehicle.pk].get_level_display() == "vehicle"
    assert found[vehicle.pk].sales == 5
    assert found[nothing.pk] is None


def test_privacy_thresholds_hide_small_or_single_seller_aggregates(dataset, settings):
    # Four sales by one seller: the row exists but is never shown.
    assert row(2, "LONELY1").sales == 4
    assert guidance.for_oem("LONELY-1") is None
    settings.RHEO_GUIDANCE_MIN_SELLERS = 1
    assert guidance.for_oem("LONELY-1").sales == 4
    # Grade C alone has one sale: below the minimum sample it falls back to the OEM.
    assert guidance.for_oem("31400452", "C").get_level_display() == "oem"
    settings.RHEO_GUIDANCE_MIN_SALES = 6
    assert guidance.for_oem("31400452") is None
    assert guidance.as_json(None) == {
        "available": False,
        "reason": "not_enough_sales",
        "minSales": 6,
        "minSellers": 1,
    }


def test_a_sale_updates_its_keys_after_commit(
    dataset, clock, partner_b, broker_messages, committed
):
    with committed():
        item = sold(clock, partner_b, "B3", 1300, 15)
    assert GuidanceUpdate.objects.filter(item=item).exists()  # the hand-off, with the sale
    nudges = broker_messages("default")
    assert ("tradera.update_price_guidance", [str(item.pk)]) in nudges
    assert guidance.update_for_item(item_id=str(item.pk)) == 4
    oem_b = row(1, "31400452|B")
    assert (oem_b.sales, oem_b.median_price) == (5, Decimal("1300.00"))
    assert (oem_b.p25_price, oem_b.p75_price) == (Decimal("1200.00"), Decimal("1400.00"))
    assert row(2, "31400452").sales == 6
    assert not GuidanceUpdate.objects.filter(item=item).exists()
    assert guidance.update_for_item(item_id=str(item.pk)) == 0  # a duplicate does nothing


def test_a_lost_nudge_is_sent_again_by_the_sweeper(
    dataset, clock, partner_b, broker_messages, committed
):
    with committed():
        item = sold(clock, partner_b, "B3", 1300, 15)
    broker_messages("default")  # the nudge is lost
    clock.shift(120)
    with committed():
        assert guidance.sweep_updates() == 1
    assert ("tradera.update_price_guidance", [str(item.pk)]) in broker_messages("default")


def test_category_rules_split_level_three(dataset, partner_a):
    CategoryRule.objects.create(keyword="strålkastare", category_id=999001, category_name="Ljus")
    lamp = create(partner_a, "L1", oem="NEW-2", title="Strålkastare vänster")
    assert guidance.for_items([lamp])[lamp.pk] is None


def test_item_get_has_a_guidance_block(dataset, partner_a, api_a):
    create(partner_a, "N1", price=1600, oem="31400452", grade="B")
    body = api_a.get("N1").json()
    assert body["guidance"] == {
        "available": True,
        "level": "oem_grade",
        "sampleSize": 4,
        "sellers": 3,
        "medianPrice": 1300.0,
        "interquartileRange": {"low": 1150.0, "high": 1550.0},
        "sellThroughRate": 0.8,
        "medianDaysToSale": 25.0,
        "refreshedAt": body["guidance"]["refreshedAt"],
        "pricePosition": "top_quarter",
    }
    create(partner_a, "N5", oem="NEW-1", model="XC60")
    assert api_a.get("N5").json()["guidance"]["available"] is False


def test_management_api_gives_guidance_for_an_oem_code_and_grade(dataset, partner_a):
    client = login("ops@recopart.example")
    answer = client.get("/api/v1/guidance", {"oemCode": "31400452", "grade": "b"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["level"] == "oem_grade"
    assert answer.json()["medianPrice"] == 1300.0
    assert client.get("/api/v1/guidance", {"oemCode": "NOPE"}).json()["available"] is False
    assert client.get("/api/v1/guidance").status_code == 400


def test_dashboard_item_page_says_where_the_price_stands(dataset, partner_a, browser_a):
    high = create(partner_a, "N1", price=1600, oem="31400452", grade="B")
    page = browser_a.get(f"/dashboard/items/{high.pk}/").content.decode()
    assert "Your price is in the top quarter of sales for this part" in page
    figures = " ".join(page[page.index('id="guidance"') :].split()[:120])
    assert 'Median sale price</th><td class="num">1' in figures
    assert "300 kr" in figures and "4 from 3 sellers" in figures and ">80 %<" in figures
    unknown = create(partner_a, "N5", oem="NEW-1", model="XC60")
    page = browser_a.get(f"/dashboard/items/{unknown.pk}/").content.decode()
    assert "Not enough sales of this part yet" in page


def test_analytics_lists_parts_priced_far_from_guidance(dataset, partner_a, browser_a):
    create(partner_a, "HIGH", price=1600, oem="31400452", grade="B")
    create(partner_a, "LOW", price=700, oem="31400452", grade="B")
    create(partner_a, "FAIR", price=1300, oem="31400452", grade="B")
    page = browser_a.get("/dashboard/analytics/").content.decode()
    section = page[page.index('id="far-from-guidance"') :]
    assert "HIGH" in section and "LOW" in section and "FAIR" not in section
    assert section.index("LOW") < section.index("HIGH")  # 600 below beats 50 above


def test_item_list_reads_guidance_in_one_query_per_page(
    dataset, partner_a, api_a, django_assert_max_num_queries
):
    for n in range(5):
        create(partner_a, f"P{n}", oem="31400452", grade="B")
    with django_assert_max_num_queries(12) as queries:
        body = api_a.client.get("/integration/v1/items", HTTP_X_API_KEY=api_a.key).json()
    assert {i["guidance"]["level"] for i in body["items"] if i["externalId"].startswith("P")} == {
        "oem_grade"
    }
    guidance_reads = [q for q in queries.captured_queries if "priceguidance" in q["sql"]]
    assert len(guidance_reads) == 1


def test_a_title_no_category_rule_matches_is_grouped_as_other_parts(
    thresholds, clock, partner_a, partner_b, partner_c
):
    for n, partner in enumerate([partner_a, partner_b, partner_c, partner_a]):
        sold(clock, partner, f"H{n}", 400 + 100 * n, 10, oem="", title="Handskfack svart")
    guidance.refresh_all()
    hood = create(partner_a, "H9", oem="", grade="B", title="Handskfack grå")
    found = guidance.for_items([hood])[hood.pk]
    assert found.get_level_display() == "vehicle_grade"
    assert found.key == "343434|volvo|xc90|2015|B"
    assert found.median_price == Decimal("550.00")


def test_the_nightly_refresh_queues_again_the_sales_made_while_it_ran(
    dataset, clock, partner_b, committed
):
    at(clock, 70)
    with committed():
        item = sold(clock, partner_b, "B3", 1300, 69)  # sold on day 70
    guidance.update_for_item(item_id=str(item.pk))
    assert not GuidanceUpdate.objects.filter(item=item).exists()
    guidance.refresh_all()  # its snapshot might predate the sale: the sale is queued again
    assert GuidanceUpdate.objects.filter(item=item).exists()
    assert row(1, "31400452|B").sales == 5


def test_management_api_takes_the_partners_own_grade_code(dataset, partner_a):
    grades.replace_grade_scale(
        partner=partner_a,
        grades=[
            grades.GradeSpec("Bra", "B", "Gott skick", "Normalt slitage, fungerar."),
            grades.GradeSpec("M", "D", "Defekt", "Defekt; säljs som den är."),
        ],
    )
    client = login("ops@recopart.example")
    answer = client.get("/api/v1/guidance", {"oemCode": "31400452", "grade": "bra"})
    assert answer.status_code == 200, answer.content
    assert (answer.json()["level"], answer.json()["medianPrice"]) == ("oem_grade", 1300.0)
    refused = client.get("/api/v1/guidance", {"oemCode": "31400452", "grade": "B"})
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {
        "grade": ["Unknown grade 'B'; your grade scale's codes are: Bra, M."]
    }
