"""POST /integration/v1/items/batch: many items in one request, one result each."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.apps import apps

from items.models import Item, ItemActivity
from partners import subscriptions
from partners.models import Plan
from tests.conftest import integration, item_body, needs_postgres
from tests.items.imagehost import ImageHost, jpeg_bytes
from tests.items.test_item_endpoints import activate, place_order

BATCH = "/integration/v1/items/batch"


def post_batch(api, items, query="", **extra):
    body = items if isinstance(items, str | bytes) else json.dumps({"items": items})
    return api.client.post(
        f"{BATCH}{query}",
        data=body,
        content_type="application/json",
        HTTP_X_API_KEY=api.key,
        **extra,
    )


def entry(external_id, **fields) -> dict:
    return {"externalId": external_id, **item_body(**fields)}


def rows() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def item_id(external_id) -> str:
    return str(Item.objects.get(external_id=external_id, deleted_at__isnull=True).id)


def test_a_mixed_batch_gets_one_exact_result_per_item_in_order(api_a):
    api_a.put("UPD")
    api_a.put("SAME")
    api_a.put("OLD", item_body(sourceVersion=5))
    Plan.objects.filter(code="free").update(max_active_items=4)  # room for one more
    timeline = ItemActivity.objects.count()

    response = post_batch(
        api_a,
        [
            entry("NEW1", price=500),
            entry("UPD", price=1100, title="Bromsok"),
            entry("SAME"),
            entry("OLD", sourceVersion=4, price=1),
            entry("BAD", price=0, shippingCost="149"),
            entry("TWICE"),
            entry("TWICE", price=700),
            entry("NEW2"),
            {"price": 5},
            "not an object",
        ],
    )

    assert response.status_code == 200
    body = response.json()
    validation = "validation_error"
    assert body["results"][:8] == [
        {"externalId": "NEW1", "outcome": "created", "itemId": item_id("NEW1"), "error": None},
        {
            "externalId": "UPD",
            "outcome": "updated",
            "itemId": item_id("UPD"),
            "changedFields": ["title", "price"],
            "error": None,
        },
        {"externalId": "SAME", "outcome": "unchanged", "itemId": item_id("SAME"), "error": None},
        {"externalId": "OLD", "outcome": "stale", "itemId": item_id("OLD"), "error": None},
        {
            "externalId": "BAD",
            "outcome": "invalid",
            "itemId": None,
            "error": {
                "code": validation,
                "message": "2 fields are invalid: price, shippingCost.",
                "fields": {
                    "price": ["Ensure this value is greater than or equal to 1."],
                    "shippingCost": ["Must be a number."],
                },
            },
        },
        *[
            {
                "externalId": "TWICE",
                "outcome": "invalid",
                "itemId": None,
                "error": {
                    "code": validation,
                    "message": "1 field is invalid: externalId.",
                    "fields": {
                        "externalId": [
                            "'TWICE' is in this batch more than once (items[5], items[6]); "
                            "send it once."
                        ]
                    },
                },
            }
        ]
        * 2,
        {
            "externalId": "NEW2",
            "outcome": "refused",
            "itemId": None,
            "error": {
                "code": "plan_limit_reached",
                "message": body["results"][7]["error"]["message"],
                "fields": None,
            },
        },
    ]
    assert body["results"][7]["error"]["message"].startswith(
        "Your plan Free allows 4 active items (in draft or active); you have 4."
    )
    missing, not_an_object = body["results"][8:]
    assert (missing["externalId"], missing["outcome"], missing["itemId"]) == (None, "invalid", None)
    assert set(missing["error"]["fields"]) == {"externalId", "title", "shippingCost", "imageUrls"}
    assert not_an_object == {
        "externalId": None,
        "outcome": "invalid",
        "itemId": None,
        "error": {
            "code": validation,
            "message": "Invalid data. Expected a dictionary, but got str.",
            "fields": None,
        },
    }
    assert body["validateOnly"] is False
    assert body["counts"] == {
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "stale": 1,
        "invalid": 5,
        "refused": 1,
    }
    # The rows: what was valid is written, nothing else.
    assert sorted(Item.objects.values_list("external_id", flat=True)) == [
        "NEW1",
        "OLD",
        "SAME",
        "UPD",
    ]
    assert Item.objects.get(external_id="NEW1").price == 500
    assert Item.objects.get(external_id="UPD").title == "Bromsok"
    assert Item.objects.get(external_id="OLD").price == 950
    assert ItemActivity.objects.count() == timeline + 1
    # The timelines name the way each write came.
    assert ItemActivity.objects.latest("at").message == "Updated by batch: title, price"
    assert Item.objects.get(external_id="NEW1").created_via == "batch"
    assert Item.objects.get(external_id="UPD").created_via == "PUT"


def test_a_retried_batch_is_idempotent(api_a):
    items = [entry("A"), entry("B", sourceVersion=2)]
    first = post_batch(api_a, items).json()

    again = post_batch(api_a, items).json()

    assert [r["outcome"] for r in first["results"]] == ["created", "created"]
    assert [r["outcome"] for r in again["results"]] == ["unchanged", "unchanged"]
    assert [r["itemId"] for r in again["results"]] == [r["itemId"] for r in first["results"]]
    assert Item.objects.count() == 2


def test_an_archived_item_in_a_batch_is_refused_as_a_conflict(api_a):
    api_a.put("P1")
    place_order(activate("P1"))
    api_a.delete("P1")

    result = post_batch(api_a, [entry("P1", price=1), entry("P2")]).json()["results"]

    assert (result[0]["outcome"], result[0]["error"]["code"]) == ("refused", "conflict")
    assert result[1]["outcome"] == "created"


def test_a_bad_external_id_is_invalid(api_a):
    results = post_batch(
        api_a, [entry("a/b"), entry("x" * 256), entry(""), entry(7), entry("x" * 255)]
    ).json()["results"]

    assert [r["outcome"] for r in results] == ["invalid"] * 4 + ["created"]
    assert [r["externalId"] for r in results[:4]] == ["a/b", "x" * 256, "", None]
    assert all(list(r["error"]["fields"]) == ["externalId"] for r in results[:4])


def test_each_entry_is_stored_as_its_own_put_would_store_it(api_a):
    # One serializer validates the whole batch: nothing of one entry may carry over to
    # the next (a nested domain, an image alias, a bad field, a default).
    bodies = [
        item_body(),
        item_body(domain=None, imageUrls=None, images=["https://cdn.example.com/1.jpg"]),
        item_body(domain={"domain": "automotive_part", "oemCode": 7}),
        item_body(weightKg=None, currency=None, useAiEnhancement=True, sourceVersion=3),
        item_body(title="Backspegel", domain={"domain": "automotive_part", "oemCode": "9"}),
    ]
    fields = ["title", "price", "weight_kg", "currency", "image_urls", "domain"]
    fields += ["use_ai_enhancement", "source_version", "auto_publish_tradera"]
    put_answers = [api_a.put(f"P{n}", body) for n, body in enumerate(bodies)]

    results = post_batch(
        api_a, [{"externalId": f"B{n}", **body} for n, body in enumerate(bodies)]
    ).json()["results"]

    assert [a.status_code for a in put_answers] == [202, 202, 400, 202, 202]
    assert [r["outcome"] for r in results] == ["created"] * 2 + ["invalid"] + ["created"] * 2
    assert results[2]["error"]["fields"] == put_answers[2].json()["error"]["fields"]
    for n in (0, 1, 3, 4):
        by_put = Item.objects.filter(external_id=f"P{n}").values(*fields).get()
        by_batch = Item.objects.filter(external_id=f"B{n}").values(*fields).get()
        assert by_batch == by_put


def test_the_items_of_a_test_key_are_test_items(api_a_test):
    post_batch(api_a_test, [entry("P1")])

    assert Item.objects.get().livemode is False


# --- Whole-request errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ("{not json", 400, "invalid_json", None),
        ("{}", 400, "validation_error", "items: This field is required."),
        ('{"items": []}', 400, "validation_error", "items: Give at least one item."),
        ('{"items": {"a": 1}}', 400, "validation_error", "items: Must be a list of items."),
        ("[]", 400, "validation_error", None),
    ],
)
def test_a_batch_that_is_not_a_list_of_items_is_refused_whole(api_a, body, status, code, message):
    response = post_batch(api_a, body)

    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    if message:
        field, _, text = message.partition(": ")
        assert error["fields"] == {field: [text]}
    assert not Item.objects.exists()


def test_more_than_a_hundred_items_are_refused_whole(api_a):
    response = post_batch(api_a, [entry(f"P{n}") for n in range(101)])

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "items": ["Give at most 100 items; send more in several batches."]
    }
    assert not Item.objects.exists()
    assert post_batch(api_a, [entry(f"P{n}") for n in range(100)]).status_code == 200
    assert Item.objects.count() == 100


def test_the_batch_takes_up_to_five_megabytes_and_other_calls_still_one(api_a):
    description = "x" * 40_000
    big = [entry(f"P{n}", description=description) for n in range(100)]  # about 4 MB
    assert 1024 * 1024 < len(json.dumps({"items": big})) < 5 * 1024 * 1024

    accepted = post_batch(api_a, big)
    too_big = post_batch(api_a, [entry(f"Q{n}", description="y" * 53_000) for n in range(100)])
    put_too_big = api_a.put("batch", item_body(description="z" * 1024 * 1024))

    assert accepted.status_code == 200
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"
    assert put_too_big.status_code == 413
    assert Item.objects.count() == 100


def test_the_batch_has_its_own_rate_limit_tier_with_the_same_headers(api_a, partner_a, settings):
    first = post_batch(api_a, [entry("P1")])
    assert first["RateLimit-Policy"] == '"item-batch";q=5;w=1'
    assert first["RateLimit-Limit"] == "5"

    settings.RHEO_RATE_LIMITS = {**settings.RHEO_RATE_LIMITS, "item-batch": "2/60s"}
    fresh = integration(partner_a)
    statuses = [post_batch(fresh, [entry("P1")]) for _ in range(3)]

    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[1]["RateLimit"] == '"item-batch";r=0;t=60'
    refused = statuses[2]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    # Single PUTs of the same key count in their own tier.
    assert fresh.put("P2").status_code == 202


# --- The item named "batch" --------------------------------------------------------------


def test_an_item_named_batch_is_an_item_like_any_other(api_a):
    created = api_a.put("batch")
    assert created.status_code == 202
    assert api_a.get("batch").json()["externalId"] == "batch"
    activate("batch")
    assert api_a.patch_price("batch", {"price": 800}).status_code == 202
    assert api_a.get("batch").json()["price"] == 800

    # The batch can write it too, and it is the same item.
    results = post_batch(api_a, [entry("batch", price=900)]).json()["results"]
    assert (results[0]["outcome"], results[0]["itemId"]) == ("updated", created.json()["itemId"])

    assert api_a.patch_status("batch", {"status": "not_listed"}).status_code == 202
    assert api_a.delete("batch").status_code == 202
    assert api_a.get("batch").status_code == 404
    assert (
        api_a.client.post("/integration/v1/items/other", HTTP_X_API_KEY=api_a.key).status_code
        == 405
    )


# --- Dry runs ----------------------------------------------------------------------------


def test_a_dry_run_batch_says_what_would_happen_and_writes_nothing(
    api_a, django_capture_on_commit_callbacks
):
    api_a.put("UPD")
    Plan.objects.filter(code="free").update(max_active_items=2)  # room for one more
    before = rows()

    with django_capture_on_commit_callbacks() as callbacks:
        response = post_batch(
            api_a,
            [entry("UPD", price=990), entry("NEW1"), entry("NEW2"), entry("BAD", price=0)],
            query="?validateOnly=true",
        )

    assert response.status_code == 200
    body = response.json()
    assert body["validateOnly"] is True
    assert [(r["outcome"], r["itemId"]) for r in body["results"]] == [
        ("updated", item_id("UPD")),
        ("created", None),
        ("refused", None),  # NEW1 would take the last place
        ("invalid", None),
    ]
    assert body["results"][0]["changedFields"] == ["price"]
    assert body["results"][2]["error"]["code"] == "plan_limit_reached"
    assert rows() == before
    assert callbacks == []


def test_a_bad_validate_only_on_the_batch_is_refused(api_a):
    response = post_batch(api_a, [entry("P1")], query="?validateOnly=maybe")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["validateOnly"]
    assert not Item.objects.exists()


# --- Hand-offs and races -----------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_created_items_wake_the_partners_tokens_and_the_worker_hosts_their_images(
    api_a, committed, worker, media
):
    host = ImageHost()
    try:
        urls = [host.serve(f"/p/{n}.jpg", jpeg_bytes(color=(30 * n, 9, 9))) for n in (1, 2)]
        with committed():
            results = post_batch(
                api_a,
                [
                    entry("P1", imageUrls=[urls[0]], autoPublishTradera=False),
                    entry("P2", imageUrls=[urls[1]], autoPublishTradera=False),
                ],
            ).json()["results"]

        # No message per item: the partner's image tokens (one per due item, up to
        # RHEO_BACKLOG_TOKENS), sent once the items committed, take them in turn (then
        # Tradera's follow-up of the now active items, which publish nothing without
        # autoPublishTradera).
        assert {task for task in worker() if task.startswith("items.")} == {"items.process_backlog"}
    finally:
        host.close()
    for result in results:
        body = api_a.get(result["externalId"]).json()
        assert body["rheoStatus"] == "active"
        assert len(body["images"]) == 1


def fire_mixed(requests_: list[tuple[str, str, str, dict]]) -> list[int]:
    """(method, url, key, body) requests sent at once, released together by a barrier."""
    barrier = threading.Barrier(len(requests_))

    def send(request):
        method, url, key, body = request
        session = requests.Session()
        barrier.wait()
        return session.request(method, url, headers={"x-api-key": key}, json=body, timeout=60)

    with ThreadPoolExecutor(len(requests_)) as pool:
        return [r.status_code for r in pool.map(send, requests_)]


@needs_postgres
def test_batches_racing_single_puts_of_the_same_ids_make_one_item_each(
    transactional_db, live_server, partner_a
):
    subscriptions.change_plan(partner=partner_a, plan_code="enterprise", staff=True)
    ids = [f"P{n}" for n in range(20)]
    batches = [
        (
            "post",
            f"{live_server.url}{BATCH}",
            integration(partner_a).key,
            {"items": [entry(i, price=100 + k, sourceVersion=k) for i in ids]},
        )
        for k in range(4)
    ]
    singles = [
        (
            "put",
            f"{live_server.url}/integration/v1/items/{i}",
            integration(partner_a).key,
            item_body(price=999, sourceVersion=9),
        )
        for i in ids[::2]
    ]

    statuses = fire_mixed(batches + singles)

    assert statuses == [200] * 4 + [202] * 10
    assert sorted(Item.objects.values_list("external_id", flat=True)) == sorted(ids)
    # The single PUTs carry the highest version: whatever the order, theirs stays.
    assert set(Item.objects.filter(external_id__in=ids[::2]).values_list("price", flat=True)) == {
        999
    }
    assert set(Item.objects.filter(external_id__in=ids[1::2]).values_list("price", flat=True)) == {
        103
    }
