"""A dismantler's grade scale in a real browser: it defines its codes on the dashboard,
its ERP sends them, the item list filters by Rheo's grade, and a changed mapping shows on
the item's timeline."""

import pytest
from selenium.webdriver.support.ui import Select

from items.models import GradeCode, Item
from tests.conftest import item_body
from tests.e2e.test_dashboard_flow import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def fill_row(page, index: int, code: str, grade: str, text: str, wording: str) -> None:
    page.fill(f"#id_form-{index}-code", code)
    Select(page.find(f"#id_form-{index}-canonical")).select_by_value(grade)
    page.fill(f"#id_form-{index}-buyer_text", text)
    page.fill(f"#id_form-{index}-tradera_wording", wording)


def test_a_partner_defines_its_grade_scale_and_changes_a_mapping(page, partner_a, api_a_test):
    log_in(page)
    page.click_text("Items", "a")
    page.click_text("Your grade scale", "a")
    assert "Your Grade Scale" in page.text("h1")
    fill_row(page, 0, "A*", "A", "Som ny", "Som ny, inga spår av användning.")
    fill_row(page, 1, "M", "D", "Defekt", "Defekt, för renovering.")
    page.screenshot("grade-scale-filled")
    page.click_text("Save grade scale", "button")

    assert "Grade scale saved." in page.text(".messages")
    assert list(GradeCode.objects.values_list("code", "canonical")) == [("A*", "A"), ("M", "D")]

    # The ERP sends the partner's codes; an unknown one is refused with the valid ones.
    for external_id, code in (("P1", "A*"), ("P2", "M")):
        domain = {"domain": "automotive_part", "conditionGrade": code}
        assert api_a_test.put(external_id, item_body(domain=domain)).status_code == 202
    refused = api_a_test.put(
        "P3", item_body(domain={"domain": "automotive_part", "conditionGrade": "B"})
    )
    assert "your grade scale's codes are: A*, M" in refused.content.decode()

    # The item list filters by Rheo's grade, whatever the partner's code.
    page.click_text("Items", "a")
    Select(page.find("#id_grade")).select_by_value("D")
    page.click_text("Filter", "button")
    assert "P2" in page.text("table.items") and "P1" not in page.text("table.items")

    # M now means C: the item is re-described, with a line on its timeline.
    page.go("/dashboard/items/grades/")
    Select(page.find("#id_form-1-canonical")).select_by_value("C")
    page.fill("#id_form-1-buyer_text", "Slitage")
    page.click_text("Save grade scale", "button")
    assert "1 item re-described (M)" in page.text(".messages")
    page.screenshot("grade-scale-changed")

    page.go(f"/dashboard/items/{Item.objects.get(external_id='P2').pk}/")
    assert "Grade M now means C: «Slitage»" in page.text("#timeline")
    page.screenshot("item-timeline")
