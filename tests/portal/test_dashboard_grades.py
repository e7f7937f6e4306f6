"""The dashboard's grade scale page: a formset of the partner's codes."""

import pytest

from items.models import GradeCode, Item, ItemActivity
from tests.items.test_grade_scale import graded
from tests.portal.test_dashboard import logged_in

pytestmark = pytest.mark.django_db


def rows(*grades, extra=0, initial=0):
    """The formset's POST data for `grades` (code, canonical, buyer text, wording)."""
    data = {
        "form-TOTAL_FORMS": str(len(grades) + extra),
        "form-INITIAL_FORMS": str(initial),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for i, (code, canonical, text, wording, *delete) in enumerate(grades):
        data |= {
            f"form-{i}-code": code,
            f"form-{i}-canonical": canonical,
            f"form-{i}-buyer_text": text,
            f"form-{i}-tradera_wording": wording,
        }
        if delete:
            data[f"form-{i}-DELETE"] = "on"
    for i in range(len(grades), len(grades) + extra):
        data[f"form-{i}-canonical"] = "A"  # an empty row's select still posts its first choice
    return data


def test_a_partner_defines_its_scale_and_sees_it_again(partner_a):
    browser = logged_in("ops@recopart.example")
    assert browser.get("/dashboard/items/grades/").status_code == 200

    answer = browser.post(
        "/dashboard/items/grades/",
        rows(("A*", "A", "Som ny", "Som ny, oanvänd."), ("M", "D", "Defekt", "Defekt."), extra=1),
        follow=True,
    )

    assert answer.status_code == 200
    assert "Grade scale saved." in answer.content.decode()
    assert list(GradeCode.objects.values_list("code", "canonical", "position")) == [
        ("A*", "A", 0),
        ("M", "D", 1),
    ]
    page = browser.get("/dashboard/items/grades/").content.decode()
    assert 'value="A*"' in page and 'value="Defekt."' in page


def test_changing_a_code_re_describes_the_items_and_says_how_many(partner_a, api_a):
    browser = logged_in("ops@recopart.example")
    browser.post("/dashboard/items/grades/", rows(("A*", "A", "Som ny", "Som ny.")))
    api_a.put("p1", graded("A*"))

    answer = browser.post(
        "/dashboard/items/grades/",
        rows(("A*", "B", "Nästan ny", "Nästan ny."), initial=1),
        follow=True,
    )

    assert "1 item re-described (A*)" in answer.content.decode()
    assert Item.objects.get().grade == "B"
    item_page = browser.get(f"/dashboard/items/{Item.objects.get().pk}/").content.decode()
    assert "Grade A* now means B" in item_page
    assert ItemActivity.objects.filter(kind="grade").count() == 1


def test_a_code_given_twice_is_shown_on_its_row(partner_a):
    browser = logged_in("ops@recopart.example")

    answer = browser.post(
        "/dashboard/items/grades/", rows(("A", "A", "Bra", "Bra."), ("A", "B", "Ok", "Ok."))
    )

    assert answer.status_code == 200
    assert "Code &#x27;A&#x27; is given twice." in answer.content.decode()
    assert not GradeCode.objects.exists()


def test_removing_a_row_removes_the_code(partner_a):
    browser = logged_in("ops@recopart.example")
    browser.post("/dashboard/items/grades/", rows(("A", "A", "Bra", "Bra."), ("M", "D", "x", "y")))

    browser.post(
        "/dashboard/items/grades/",
        rows(("A", "A", "Bra", "Bra."), ("M", "D", "x", "y", "delete"), initial=2),
    )

    assert list(GradeCode.objects.values_list("code", flat=True)) == ["A"]
