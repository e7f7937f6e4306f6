"""Dry runs: PUT ?validateOnly=true says what the PUT would do and writes nothing."""

import pytest
from django.apps import apps

from items.models import Item
from partners.models import Plan
from tests.conftest import item_body
from tests.items.test_item_endpoints import activate, place_order


def rows() -> dict[str, int]:
    """How many rows every table holds: a dry run changes none of them."""
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def dry_put(api, external_id, body=None, flag="true"):
    return api.put(f"{external_id}?validateOnly={flag}", body)


def test_a_dry_run_of_a_create_says_created_and_writes_nothing(
    api_a, broker_messages, django_capture_on_commit_callbacks
):
    before = rows()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = dry_put(api_a, "P1")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "itemId": None,
        "message": "The item would be created.",
        "outcome": "created",
        "validateOnly": True,
    }
    assert rows() == before
    assert callbacks == []
    assert broker_messages("images") == []
    assert api_a.get("P1").status_code == 404


def test_a_dry_run_of_an_update_names_the_changed_fields_and_changes_nothing(
    api_a, django_capture_on_commit_callbacks
):
    item_id = api_a.put("P1").json()["itemId"]
    item = Item.objects.get()
    before = rows()
    new_images = ["https://your-cdn.example.com/parts/12345/9.jpg"]

    with django_capture_on_commit_callbacks() as callbacks:
        response = dry_put(api_a, "P1", item_body(price=1100, imageUrls=new_images))

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "itemId": item_id,
        "message": "The item would be updated: price, imageUrls.",
        "outcome": "updated",
        "changedFields": ["price", "imageUrls"],
        "validateOnly": True,
    }
    assert rows() == before
    assert callbacks == []
    after = Item.objects.get()
    assert (after.price, after.image_urls, after.updated_at) == (
        950,
        item.image_urls,
        item.updated_at,
    )


def test_a_dry_run_says_unchanged_and_stale(api_a):
    item_id = api_a.put("P1", item_body(sourceVersion=8)).json()["itemId"]

    unchanged = dry_put(api_a, "P1", item_body(sourceVersion=8)).json()
    stale = dry_put(api_a, "P1", item_body(sourceVersion=7, price=1)).json()

    assert (unchanged["outcome"], unchanged["itemId"]) == ("unchanged", item_id)
    assert unchanged["message"] == "The item is unchanged; nothing would be written."
    assert (stale["outcome"], stale["itemId"]) == ("stale", item_id)
    assert stale["message"] == (
        "The write would be stale: sourceVersion 7 is lower than the stored 8; "
        "nothing would change."
    )
    # A newer version of the same content is not stored by a dry run either.
    dry_put(api_a, "P1", item_body(sourceVersion=9))
    assert Item.objects.get().source_version == 8


def test_an_invalid_dry_run_is_refused_as_the_put_would_be(api_a):
    body = item_body(price="950", domain={"domain": "automotive_part", "conditionGrade": "Q"})

    dry = dry_put(api_a, "P1", body)
    real = api_a.put("P1", body)

    assert dry.status_code == real.status_code == 400
    assert {**dry.json()["error"], "requestId": None} == {**real.json()["error"], "requestId": None}
    assert set(dry.json()["error"]["fields"]) == {"price", "domain.conditionGrade"}


def test_a_dry_run_checks_the_plan_limit_for_creates_only(api_a):
    Plan.objects.filter(code="free").update(max_active_items=1)
    api_a.put("P1")

    create = dry_put(api_a, "P2")
    update = dry_put(api_a, "P1", item_body(price=990))

    assert create.status_code == 402
    assert create.json()["error"]["code"] == "plan_limit_reached"
    assert create.json()["error"]["message"].startswith(
        "Your plan Free allows 1 active items (in draft or active); you have 1."
    )
    assert (update.status_code, update.json()["outcome"]) == (200, "updated")


def test_a_dry_run_of_an_archived_item_is_a_conflict_as_the_put_would_be(api_a):
    api_a.put("P1")
    place_order(activate("P1"))
    api_a.delete("P1")

    response = dry_put(api_a, "P1", item_body(price=1))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_validate_only_false_is_an_ordinary_put(api_a):
    response = dry_put(api_a, "P1", flag="false")

    assert response.status_code == 202
    assert response.json()["outcome"] == "created"
    assert "validateOnly" not in response.json()
    assert Item.objects.count() == 1


@pytest.mark.parametrize(
    "query",
    [
        "validateOnly=yes",
        "validateOnly=1",
        "validateOnly=True",
        "validateOnly=",
        "validateOnly=true&validateOnly=false",
    ],
)
def test_a_bad_validate_only_is_refused_and_nothing_is_written(api_a, query):
    response = api_a.put(f"P1?{query}")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == ["validateOnly"]
    assert not Item.objects.exists()


def test_test_mode_dry_runs_see_test_items_only(api_a, api_a_test):
    api_a.put("P1")

    assert dry_put(api_a_test, "P1").json()["outcome"] == "created"
    assert dry_put(api_a, "P1").json()["outcome"] == "unchanged"
