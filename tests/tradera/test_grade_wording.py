"""The partner's grade scale in its Tradera auctions: the code's wording goes into the
auction's text sent to the sandbox; a changed wording reaches the next auction, while a
running one keeps the text it was published with."""

import pytest

from items.models import Item, ItemActivity
from tests.conftest import item_body
from tests.tradera.conftest import publish_all
from tradera import mapping
from tradera.models import TraderaListing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rheo_on_the_sandbox")]

FIRST = "Som ny: inga spår av användning, testad."
SECOND = "Nästan som ny: små bruksspår, testad."


def scale(wording: str) -> dict:
    return {
        "grades": [
            {"code": "A*", "canonicalGrade": "A", "buyerText": "Som ny", "traderaWording": wording},
            {
                "code": "M",
                "canonicalGrade": "D",
                "buyerText": "Defekt",
                "traderaWording": "Defekt.",
            },
        ]
    }


def push_graded(api, committed, photo, external_id):
    domain = {"domain": "automotive_part", "oemCode": "31400452", "conditionGrade": "A*"}
    with committed():
        response = api.put(external_id, item_body(imageUrls=[photo], domain=domain))
    assert response.status_code == 202, response.content


def auction_of(sandbox, external_id) -> dict:
    listing = TraderaListing.objects.get(item__external_id=external_id)
    return sandbox.auction(listing.tradera_item_id)


def test_the_auction_text_carries_the_codes_wording_and_a_change_waits_for_the_next(
    clock, api_a_test, dashboard_a, committed, worker, photo, sandbox
):
    assert dashboard_a.put("/api/v1/grade-scale", scale(FIRST), format="json").status_code == 200
    push_graded(api_a_test, committed, photo, "P1")
    publish_all(worker, clock)

    first = auction_of(sandbox, "P1")
    assert first["state"] == "active"
    assert f"Skick A*: {FIRST}" in first["description"]
    assert "mycket bra skick" not in first["description"]  # not Rheo's own wording

    changed = dashboard_a.put("/api/v1/grade-scale", scale(SECOND), format="json").json()
    push_graded(api_a_test, committed, photo, "P2")
    publish_all(worker, clock)

    assert (changed["changedCodes"], changed["affectedItems"]) == (["A*"], 1)
    # The running auction is not touched…
    assert auction_of(sandbox, "P1")["description"] == first["description"]
    # …the next one says the new wording, and P1's next auction would too.
    assert f"Skick A*: {SECOND}" in auction_of(sandbox, "P2")["description"]
    p1 = Item.objects.get(external_id="P1")
    assert f"Skick A*: {SECOND}" in mapping.auction_for(p1).description
    [line] = ItemActivity.objects.filter(item=p1, kind="grade")
    assert "Running auctions keep their text." in line.message


def test_without_a_scale_the_auction_explains_rheos_grade_as_before(
    api_a_test, committed, worker, clock, photo, sandbox
):
    with committed():
        api_a_test.put("P1", item_body(imageUrls=[photo]))
    publish_all(worker, clock)

    description = auction_of(sandbox, "P1")["description"]
    assert "Skick B: bra skick, normalt slitage för åldern, fullt fungerande." in description


def test_an_enhanced_text_gets_the_scales_wording_as_its_last_line(
    clock, api_a_test, dashboard_a, committed, photo
):
    dashboard_a.put("/api/v1/grade-scale", scale(FIRST), format="json")
    push_graded(api_a_test, committed, photo, "P1")
    item = Item.objects.get()
    item.enhanced_description = "Bromsok i fint skick."

    assert mapping.description_for(item) == f"Bromsok i fint skick.\n\nSkick A*: {FIRST}"
