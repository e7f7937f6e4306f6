"""A partner's own grade scale: validation of conditionGrade against it, the canonical
grade items carry for search and filters, and a mapping change re-describing items."""

import pytest
from django.test import Client

from items.models import Item, ItemActivity
from tests.conftest import item_body
from tests.portal.test_dashboard import logged_in

pytestmark = pytest.mark.django_db

SCALE = [
    {
        "code": "A*",
        "canonicalGrade": "A",
        "buyerText": "Som ny",
        "traderaWording": "Som ny, inga spår av användning.",
    },
    {
        "code": "B",
        "canonicalGrade": "B",
        "buyerText": "Gott skick",
        "traderaWording": "Normalt slitage, fungerar.",
    },
    {
        "code": "Bra",
        "canonicalGrade": "B",
        "buyerText": "Bra begagnad",
        "traderaWording": "Bra begagnat skick.",
    },
    {
        "code": "3",
        "canonicalGrade": "C",
        "buyerText": "Slitage",
        "traderaWording": "Synligt slitage.",
    },
    {
        "code": "M",
        "canonicalGrade": "D",
        "buyerText": "Defekt",
        "traderaWording": "Defekt, för renovering.",
    },
]


def graded(code, **overrides):
    domain = {"domain": "automotive_part", "oemCode": "31400452", "conditionGrade": code}
    return item_body(domain=domain, **overrides)


def put_scale(client, grades):
    return client.put("/api/v1/grade-scale", {"grades": grades}, format="json")


@pytest.fixture
def scale_a(dashboard_a):
    response = put_scale(dashboard_a, SCALE)
    assert response.status_code == 200, response.content
    return response


class TestValidation:
    def test_without_a_scale_rheos_grades_pass_and_others_are_refused_as_before(self, api_a):
        assert api_a.put("p1", graded("C")).status_code == 202
        refused = api_a.put("p2", graded("A*"))

        assert refused.status_code == 400
        assert refused.json()["error"]["fields"]["domain.conditionGrade"] == [
            "Unknown grade 'A*'; use A, B, C or D."
        ]
        assert Item.objects.get(external_id="p1").grade == "C"

    def test_with_a_scale_its_codes_pass_and_carry_their_canonical_grade(self, api_a, scale_a):
        for external_id, code in [("p1", "A*"), ("p2", "Bra"), ("p3", "M")]:
            assert api_a.put(external_id, graded(code)).status_code == 202

        items = {i.external_id: (i.domain["conditionGrade"], i.grade) for i in Item.objects.all()}
        assert items == {"p1": ("A*", "A"), "p2": ("Bra", "B"), "p3": ("M", "D")}

    def test_an_unknown_code_is_refused_with_the_valid_codes(self, api_a, scale_a):
        response = api_a.put("p1", graded("C"))

        assert response.status_code == 400
        assert response.json()["error"]["fields"]["domain.conditionGrade"] == [
            "Unknown grade 'C'; your grade scale's codes are: A*, B, Bra, 3, M."
        ]
        assert not Item.objects.exists()

    def test_a_number_names_a_numbered_code_and_case_is_forgiven(self, api_a, scale_a):
        assert api_a.put("p1", graded(3)).status_code == 202
        assert api_a.put("p2", graded("bra")).status_code == 202

        assert Item.objects.get(external_id="p1").domain["conditionGrade"] == "3"
        assert Item.objects.get(external_id="p1").grade == "C"
        assert Item.objects.get(external_id="p2").domain["conditionGrade"] == "Bra"

    def test_the_batch_validates_against_the_scale(self, api_a, scale_a):
        entries = [
            {**graded("A*"), "externalId": "p1"},
            {**graded("Q"), "externalId": "p2"},
        ]
        response = api_a.client.post(
            "/integration/v1/items/batch",
            {"items": entries},
            format="json",
            HTTP_X_API_KEY=api_a.key,
        )

        assert response.status_code == 200
        [ok, refused] = response.json()["results"]
        assert ok["outcome"] == "created"
        assert refused["error"]["fields"]["domain.conditionGrade"] == [
            "Unknown grade 'Q'; your grade scale's codes are: A*, B, Bra, 3, M."
        ]
        assert Item.objects.get().grade == "A"

    def test_another_partners_scale_does_not_apply(self, api_b, scale_a):
        assert api_b.put("p1", graded("A*")).status_code == 400
        assert api_b.put("p1", graded("A")).status_code == 202


class TestReading:
    def test_get_shows_the_code_as_sent_the_canonical_grade_and_the_buyer_text(
        self, api_a, scale_a
    ):
        api_a.put("p1", graded("A*"))

        body = api_a.get("p1").json()
        assert (body["conditionGrade"], body["canonicalGrade"], body["gradeText"]) == (
            "A*",
            "A",
            "Som ny",
        )

    def test_without_a_scale_get_shows_rheos_grade_and_text(self, api_a):
        api_a.put("p1", graded("B"))
        api_a.put("p2", item_body(domain=None))

        first, second = api_a.get("p1").json(), api_a.get("p2").json()
        assert (first["conditionGrade"], first["canonicalGrade"]) == ("B", "B")
        assert first["gradeText"] == "Gott skick"
        assert (second["conditionGrade"], second["canonicalGrade"], second["gradeText"]) == (
            None,
            None,
            None,
        )

    def test_the_item_list_filters_by_canonical_grade(self, api_a, scale_a):
        api_a.put("p1", graded("B"))
        api_a.put("p2", graded("Bra"))
        api_a.put("p3", graded("A*"))

        response = api_a.client.get("/integration/v1/items?grade=B", HTTP_X_API_KEY=api_a.key)
        assert response.status_code == 200
        assert [i["externalId"] for i in response.json()["items"]] == ["p1", "p2"]
        refused = api_a.client.get("/integration/v1/items?grade=A*", HTTP_X_API_KEY=api_a.key)
        assert refused.status_code == 400

    def test_the_dashboard_list_filters_by_canonical_grade(self, api_a, scale_a, partner_a):
        api_a.put("p1", graded("M"))
        api_a.put("p2", graded("A*"))

        page = logged_in("ops@recopart.example").get("/dashboard/items/?grade=D")
        text = page.content.decode()
        assert ">p1<" in text and ">p2<" not in text
        assert 'M <span class="muted">(D)</span>' in text

    def test_the_marketplace_finds_a_scale_code_by_its_canonical_grade(
        self, api_a, scale_a, partner_a
    ):
        api_a.put("p1", graded("A*"))
        Item.objects.update(status="active")

        front = Client().get("/?grade=A").content.decode()
        assert "Volvo XC90 bromsok" in front
        assert "Volvo XC90 bromsok" not in Client().get("/?grade=B").content.decode()
        page = Client().get(f"/parts/{Item.objects.get().pk}/").content.decode()
        assert "Som ny" in page


class TestMappingChange:
    def test_a_changed_mapping_regrades_the_items_with_one_timeline_line_each(
        self, api_a, scale_a, dashboard_a
    ):
        for external_id in ("p1", "p2", "p3"):
            api_a.put(external_id, graded("Bra"))
        api_a.put("p4", graded("B"))
        changed = [dict(g) for g in SCALE]
        changed[2] |= {"canonicalGrade": "C", "buyerText": "Okej", "traderaWording": "Okej."}

        response = put_scale(dashboard_a, changed)

        assert response.status_code == 200
        assert response.json()["changedCodes"] == ["Bra"]
        assert response.json()["affectedItems"] == 3
        grades = dict(Item.objects.values_list("external_id", "grade"))
        assert grades == {"p1": "C", "p2": "C", "p3": "C", "p4": "B"}
        lines = ItemActivity.objects.filter(kind="grade")
        assert sorted(a.item.external_id for a in lines) == ["p1", "p2", "p3"]
        assert "Grade Bra now means C: «Okej»" in lines[0].message
        assert api_a.get("p1").json()["gradeText"] == "Okej"
        # The content is unchanged: the same PUT is still a no-op.
        assert api_a.put("p1", graded("Bra")).json()["outcome"] == "unchanged"

    def test_the_first_scale_regrades_items_sent_with_rheos_grades(self, api_a, dashboard_a):
        api_a.put("p1", graded("B"))
        api_a.put("p2", graded("C"))

        response = put_scale(
            dashboard_a,
            [{"code": "B", "canonicalGrade": "C", "buyerText": "Bra", "traderaWording": "B."}],
        )

        assert response.json()["affectedItems"] == 1
        assert dict(Item.objects.values_list("external_id", "grade")) == {"p1": "C", "p2": "C"}

    def test_removing_the_scale_restores_rheos_grades(self, api_a, dashboard_a, scale_a):
        api_a.put("p1", graded("A*"))

        assert put_scale(dashboard_a, []).json() == {
            "grades": [],
            "changedCodes": ["B"],  # its texts were the scale's; Rheo's B has its own
            "affectedItems": 0,
        }
        assert api_a.put("p2", graded("A*")).status_code == 400
        assert api_a.put("p2", graded("A")).status_code == 202
        # An item whose code left the scale keeps its grade.
        assert Item.objects.get(external_id="p1").grade == "A"


class TestManagementAPI:
    def test_get_is_empty_without_a_scale_then_the_scale_in_order(self, dashboard_a):
        assert dashboard_a.get("/api/v1/grade-scale").json() == {"grades": []}
        put_scale(dashboard_a, SCALE)

        assert dashboard_a.get("/api/v1/grade-scale").json() == {"grades": SCALE}

    def test_a_partners_scale_is_its_own(self, dashboard_a, dashboard_b):
        put_scale(dashboard_a, SCALE)

        assert dashboard_b.get("/api/v1/grade-scale").json() == {"grades": []}

    def test_duplicate_codes_and_unknown_canonical_grades_are_refused(self, dashboard_a):
        twice = put_scale(dashboard_a, [SCALE[0], SCALE[0]])
        wrong = put_scale(dashboard_a, [{**SCALE[0], "canonicalGrade": "E"}])

        assert twice.status_code == 400
        assert twice.json()["error"]["fields"] == {"grades[1].code": ["Code 'A*' is given twice."]}
        assert wrong.status_code == 400
        assert "canonicalGrade" in str(wrong.json()["error"]["fields"])
        assert dashboard_a.get("/api/v1/grade-scale").json() == {"grades": []}

    def test_without_a_token_it_is_refused(self):
        assert Client().get("/api/v1/grade-scale").status_code == 401
