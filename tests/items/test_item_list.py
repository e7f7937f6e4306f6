"""GET /integration/v1/items: pages of the caller's items, filters, the cursor."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from items import lifecycle
from items.models import Item, ItemImage, StoredImage
from tests.conftest import item_body
from tradera.models import TraderaListing


@pytest.fixture(autouse=True)
def _many_calls(settings):
    """An ERP pushing and paging its stock here calls faster than the tiers allow; the
    limits have tests of their own."""
    settings.RHEO_RATE_LIMITS = {tier: "1000000/60s" for tier in settings.RHEO_RATE_LIMITS}


def page(api, **params):
    return api.client.get("/integration/v1/items", params, HTTP_X_API_KEY=api.key)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["externalId"] for item in response.json()["items"]]


def every_page(api, **params) -> list[str]:
    seen, cursor = [], None
    while True:
        body = page(api, **params, **({"cursor": cursor} if cursor else {})).json()
        seen += [item["externalId"] for item in body["items"]]
        cursor = body["nextCursor"]
        if cursor is None:
            return seen


def error_fields(response) -> dict:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return error["fields"]


class TestListing:
    def test_items_come_in_the_get_shape(self, api_a):
        api_a.put("P1")

        body = page(api_a).json()

        assert body == {"items": [api_a.get("P1").json()], "nextCursor": None}

    def test_only_the_keys_partner_and_mode_and_no_deleted_items(self, api_a, api_a_test, api_b):
        api_a.put("LIVE")
        api_a.put("GONE")
        api_a.delete("GONE")
        api_a_test.put("TEST")
        api_b.put("OTHER")

        assert ids(page(api_a)) == ["LIVE"]
        assert ids(page(api_a_test)) == ["TEST"]
        assert ids(page(api_b)) == ["OTHER"]

    def test_is_not_an_item_named_items(self, api_a):
        api_a.put("items")

        assert ids(page(api_a)) == ["items"]
        assert api_a.get("items").json()["externalId"] == "items"

    def test_needs_a_key(self, client, api_a):
        response = client.get("/integration/v1/items")

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "authentication_failed"

    def test_uses_the_read_tier(self, api_a):
        assert page(api_a)["RateLimit-Policy"].startswith('"read"')

    def test_queries_do_not_grow_with_the_page(self, api_a):
        stored = StoredImage.objects.create(
            digest="d" * 64, full="f.jpg", thumbnail="t.jpg", width=10, height=10
        )
        for n in range(12):
            api_a.put(f"P{n:02}")
        for item in Item.objects.all():
            ItemImage.objects.create(
                item=item,
                position=0,
                source_url="https://x.example/1.jpg",
                status="ready",
                stored=stored,
            )
            TraderaListing.objects.create(item=item, ad_id=f"7000{item.external_id[1:]}")

        def queries(limit: int) -> int:
            with CaptureQueriesContext(connection) as captured:
                assert len(ids(page(api_a, limit=limit))) == limit
            return len(captured)

        assert queries(2) == queries(12)
        assert page(api_a, limit=1).json()["items"][0]["images"][0]["width"] == 10


class TestFilters:
    @pytest.fixture
    def stock(self, api_a):
        api_a.put("CALIPER", item_body(title="Bromsok fram vänster"))
        api_a.put(
            "MIRROR",
            item_body(
                title="Backspegel höger", domain={"domain": "automotive_part", "oemCode": "8K0-857"}
            ),
        )
        api_a.put("LAMP", item_body(title="Strålkastare"))
        lifecycle.transition_item(
            item=Item.objects.get(external_id="LAMP"), status=Item.Status.ACTIVE
        )
        TraderaListing.objects.create(
            item=Item.objects.get(external_id="LAMP"), status=TraderaListing.Status.ACTIVE
        )

    def test_by_rheo_status(self, api_a, stock):
        assert ids(page(api_a, rheoStatus="active")) == ["LAMP"]
        assert ids(page(api_a, rheoStatus="draft")) == ["CALIPER", "MIRROR"]

    def test_by_tradera_status_or_none(self, api_a, stock):
        assert ids(page(api_a, traderaStatus="active")) == ["LAMP"]
        assert ids(page(api_a, traderaStatus="none")) == ["CALIPER", "MIRROR"]

    def test_by_text_in_title_or_oem_code(self, api_a, stock):
        assert ids(page(api_a, q="bromsok")) == ["CALIPER"]
        assert ids(page(api_a, q="8k0-857")) == ["MIRROR"]

    def test_by_external_ids(self, api_a, stock):
        assert ids(page(api_a, externalIds="MIRROR,LAMP,NOPE")) == ["LAMP", "MIRROR"]

    def test_by_updated_since(self, api_a, stock):
        since = Item.objects.get(external_id="LAMP").updated_at
        Item.objects.filter(external_id="CALIPER").update(updated_at=since.replace(year=2020))
        Item.objects.filter(external_id="MIRROR").update(updated_at=since.replace(year=2020))

        assert ids(page(api_a, updatedSince=since.isoformat())) == ["LAMP"]
        assert ids(page(api_a, updatedSince="2021-01-01T00:00:00Z")) == ["LAMP"]
        assert ids(page(api_a, updatedSince="2019-12-31T23:00:00+01:00")) == [
            "CALIPER",
            "LAMP",
            "MIRROR",
        ]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"rheoStatus": "gone"}, "rheoStatus"),
            ({"traderaStatus": "live"}, "traderaStatus"),
            ({"updatedSince": "yesterday"}, "updatedSince"),
            ({"updatedSince": ""}, "updatedSince"),
            ({"updatedSince": "2026-02-30T00:00:00Z"}, "updatedSince"),
            ({"externalIds": ",".join(f"P{n}" for n in range(101))}, "externalIds"),
            ({"limit": "0"}, "limit"),
            ({"limit": "201"}, "limit"),
            ({"limit": "ten"}, "limit"),
            ({"cursor": "garbage"}, "cursor"),
            ({"q": "a\x00b"}, "q"),
        ],
    )
    def test_bad_values_are_400_naming_the_parameter(self, api_a, params, field):
        assert field in error_fields(page(api_a, **params))

    def test_100_external_ids_pass(self, api_a):
        assert ids(page(api_a, externalIds=",".join(f"P{n}" for n in range(100)))) == []


class TestCursor:
    def test_pages_follow_the_cursor_to_a_null_one(self, api_a):
        for n in range(5):
            api_a.put(f"P{n}")

        first = page(api_a, limit=2).json()
        second = page(api_a, limit=2, cursor=first["nextCursor"]).json()
        third = page(api_a, limit=2, cursor=second["nextCursor"]).json()

        assert [i["externalId"] for i in first["items"]] == ["P0", "P1"]
        assert [i["externalId"] for i in second["items"]] == ["P2", "P3"]
        assert [i["externalId"] for i in third["items"]] == ["P4"]
        assert third["nextCursor"] is None

    def test_a_full_last_page_has_a_null_cursor(self, api_a):
        api_a.put("P1")
        api_a.put("P2")

        assert page(api_a, limit=2).json()["nextCursor"] is None

    def test_default_page_is_50(self, api_a):
        for n in range(51):
            api_a.put(f"P{n:02}")
        body = page(api_a).json()
        assert len(body["items"]) == 50
        assert body["nextCursor"] is not None

    def test_a_crafted_cursor_is_refused(self, api_a):
        api_a.put("P1")
        api_a.put("P2")
        cursor = page(api_a, limit=1).json()["nextCursor"]
        # The first part is the position ("P1"); another position with the same signature:
        signature = cursor.split(":", 1)[1]

        assert "cursor" in error_fields(page(api_a, cursor="IlAwIg:" + signature))
        assert ids(page(api_a, cursor=cursor)) == ["P2"]

    def test_no_item_skipped_or_repeated_while_items_change(self, api_a):
        for n in range(10):
            api_a.put(f"P{n}")
        seen = []

        body = page(api_a, limit=3).json()
        seen += [i["externalId"] for i in body["items"]]
        # Between pages: items already seen and not yet seen change, one is created.
        api_a.put("P0", item_body(title="Changed after its page"))
        api_a.put("P8", item_body(title="Changed before its page"))
        api_a.patch_status("P5", {"status": "not_listed"})
        api_a.put("P45")
        api_a.put("A-NEW")  # before the cursor: not shown, and nothing else is lost
        while body["nextCursor"]:
            body = page(api_a, limit=3, cursor=body["nextCursor"]).json()
            seen += [i["externalId"] for i in body["items"]]
            api_a.put(seen[-1], item_body(title=f"Changed {len(seen)}"))

        assert seen == ["P0", "P1", "P2", "P3", "P4", "P45", "P5", "P6", "P7", "P8", "P9"]
