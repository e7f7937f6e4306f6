"""The stale-write guard: sourceVersion on PUT."""

import random

import pytest

from items.models import Item, ItemActivity
from partners import subscriptions
from tests.conftest import integration, item_body, needs_postgres
from tests.rheo.test_rate_limits import fire_concurrently

NEWER = {"title": "Bromsok XC90, nytt foto", "price": 1100, "sourceVersion": 7}
NEWER_IMAGES = ["https://your-cdn.example.com/parts/12345/new.jpg"]


def test_an_old_retry_after_a_newer_write_changes_nothing(
    api_a, django_capture_on_commit_callbacks
):
    api_a.put("P1", item_body(sourceVersion=5))
    api_a.put("P1", item_body(imageUrls=NEWER_IMAGES, **NEWER))
    before = Item.objects.get()
    timeline = list(ItemActivity.objects.values_list("message", flat=True))

    with django_capture_on_commit_callbacks() as callbacks:
        response = api_a.put("P1", item_body(sourceVersion=5))

    assert response.status_code == 202
    assert response.json() == {
        "success": True,
        "itemId": str(before.id),
        "message": "Stale write ignored: sourceVersion 5 is lower than the stored 7; "
        "the item is unchanged.",
        "outcome": "stale",
    }
    assert callbacks == []  # no image job, no Tradera follow-up
    after = Item.objects.get()
    assert (after.title, after.price, after.image_urls) == (
        NEWER["title"],
        1100,
        NEWER_IMAGES,
    )
    assert after.updated_at == before.updated_at
    assert list(ItemActivity.objects.values_list("message", flat=True)) == timeline
    body = api_a.get("P1").json()
    assert (body["title"], body["price"], body["sourceVersion"]) == (NEWER["title"], 1100, 7)


def test_get_returns_the_stored_version_and_null_when_none_was_sent(api_a):
    api_a.put("P1")
    api_a.put("P2", item_body(sourceVersion=1733480000123))

    assert api_a.get("P1").json()["sourceVersion"] is None
    assert api_a.get("P2").json()["sourceVersion"] == 1733480000123


def test_the_item_list_shows_the_stored_version_too(api_a):
    api_a.put("P1")
    api_a.put("P2", item_body(sourceVersion=1733480000123))

    response = api_a.client.get("/integration/v1/items", HTTP_X_API_KEY=api_a.key)

    assert response.status_code == 200
    versions = {item["externalId"]: item["sourceVersion"] for item in response.json()["items"]}
    assert versions == {"P1": None, "P2": 1733480000123}


def test_an_equal_version_is_an_ordinary_write(api_a):
    api_a.put("P1", item_body(sourceVersion=3))

    retry = api_a.put("P1", item_body(sourceVersion=3))
    correction = api_a.put("P1", item_body(sourceVersion=3, price=990))

    assert retry.json()["outcome"] == "unchanged"
    assert correction.json()["outcome"] == "updated"
    assert correction.json()["changedFields"] == ["price"]
    assert Item.objects.get().price == 990


def test_a_newer_version_of_the_same_content_is_stored_so_older_writes_become_stale(api_a):
    api_a.put("P1", item_body(sourceVersion=1))

    same = api_a.put("P1", item_body(sourceVersion=3))
    older = api_a.put("P1", item_body(sourceVersion=2, price=1))

    assert same.json()["outcome"] == "unchanged"
    assert older.json()["outcome"] == "stale"
    assert (Item.objects.get().price, Item.objects.get().source_version) == (950, 3)


def test_a_write_without_a_version_is_not_guarded_and_keeps_the_stored_version(api_a):
    api_a.put("P1", item_body(sourceVersion=5))

    unversioned = api_a.put("P1", item_body(price=1200))
    older = api_a.put("P1", item_body(sourceVersion=4, price=1))

    assert unversioned.json()["outcome"] == "updated"
    assert older.json()["outcome"] == "stale"
    body = api_a.get("P1").json()
    assert (body["price"], body["sourceVersion"]) == (1200, 5)


def test_the_largest_version_is_kept_exactly(api_a):
    api_a.put("P1", item_body(sourceVersion=2**63 - 1))

    assert api_a.get("P1").json()["sourceVersion"] == 2**63 - 1
    assert api_a.put("P1", item_body(sourceVersion=2**63 - 2)).json()["outcome"] == "stale"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "Ensure this value is greater than or equal to 0."),
        (2**63, "Ensure this value is less than or equal to 9223372036854775807."),
        (1.5, "Must be an integer."),
        ("7", "Must be an integer."),
        (True, "Must be an integer."),
    ],
)
def test_a_version_that_is_not_a_non_negative_64_bit_integer_is_refused(api_a, value, message):
    response = api_a.put("P1", item_body(sourceVersion=value))

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"sourceVersion": [message]}
    assert not Item.objects.exists()


def test_a_version_of_null_is_no_version(api_a):
    api_a.put("P1", item_body(sourceVersion=4))

    response = api_a.put("P1", {**item_body(), "sourceVersion": None})

    assert response.status_code == 202
    assert response.json()["outcome"] == "unchanged"
    assert Item.objects.get().source_version == 4


@needs_postgres
def test_concurrent_puts_out_of_order_end_with_the_highest_version(
    transactional_db, live_server, partner_a
):
    # One key per request, so the per-key rate limit lets all through.
    subscriptions.change_plan(partner=partner_a, plan_code="enterprise", staff=True)
    versions = list(range(1, 31))
    random.Random(15).shuffle(versions)
    requests_ = [
        (integration(partner_a).key, item_body(price=100 + v, sourceVersion=v)) for v in versions
    ]

    statuses = fire_concurrently(
        f"{live_server.url}/integration/v1/items/ERP_PART_12345", requests_, method="put"
    )

    assert statuses == [202] * 30
    item = Item.objects.get(external_id="ERP_PART_12345")
    assert (item.price, item.source_version) == (130, 30)
