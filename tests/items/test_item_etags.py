"""GET's ETag, If-None-Match, and If-Match on PATCH price and status."""

import threading

import pytest
import requests
from django.db import connection, transaction

from items.models import Item
from tests.conftest import integration, item_body, needs_postgres
from tests.items.test_item_endpoints import activate
from tradera.models import TraderaListing


@pytest.fixture
def etag(api_a) -> str:
    """An active item P1 at 950 SEK, and the ETag of its GET."""
    api_a.put("P1")
    activate("P1")
    return api_a.get("P1")["ETag"]


def price_of(external_id: str) -> int:
    return int(Item.objects.get(external_id=external_id, deleted_at__isnull=True).price)


def refused(response) -> bool:
    assert response.status_code == 412, response.content
    error = response.json()["error"]
    assert error["code"] == "precondition_failed"
    return True


class TestETag:
    def test_get_gives_a_quoted_strong_etag_that_stays_while_nothing_changes(self, api_a, etag):
        assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
        assert api_a.get("P1")["ETag"] == etag

    def test_it_changes_with_what_get_shows(self, api_a, etag):
        TraderaListing.objects.create(item=Item.objects.get(), ad_id="pending-1")
        with_listing = api_a.get("P1")["ETag"]
        api_a.patch_status("P1", {"status": "not_listed"})

        assert len({etag, with_listing, api_a.get("P1")["ETag"]}) == 3

    def test_two_items_with_equal_content_have_different_etags(self, api_a, etag):
        api_a.put("P2")
        activate("P2")

        assert api_a.get("P2")["ETag"] != etag

    def test_if_none_match_the_current_etag_is_304_without_a_body(self, api_a, etag):
        response = api_a.get("P1", HTTP_IF_NONE_MATCH=etag)

        assert response.status_code == 304
        assert response.content == b""
        assert response["ETag"] == etag

    def test_if_none_match_an_old_etag_is_the_item(self, api_a, etag):
        api_a.patch_price("P1", {"price": 900})

        response = api_a.get("P1", HTTP_IF_NONE_MATCH=etag)

        assert response.status_code == 200
        assert response.json()["price"] == 900


class TestIfMatch:
    def test_patch_price_with_the_current_etag_changes_it_and_the_etag(self, api_a, etag):
        response = api_a.patch_price("P1", {"price": 900}, HTTP_IF_MATCH=etag)

        assert response.status_code == 202
        assert price_of("P1") == 900
        assert api_a.get("P1")["ETag"] != etag

    def test_patch_price_with_a_stale_etag_is_412_and_changes_nothing(self, api_a, etag):
        api_a.patch_price("P1", {"price": 900}, HTTP_IF_MATCH=etag)
        new_etag = api_a.get("P1")["ETag"]

        assert refused(api_a.patch_price("P1", {"price": 800}, HTTP_IF_MATCH=etag))
        assert price_of("P1") == 900
        assert api_a.get("P1")["ETag"] == new_etag

    def test_patch_status_with_a_stale_etag_is_412_and_changes_nothing(self, api_a, etag):
        api_a.patch_price("P1", {"price": 900})

        assert refused(api_a.patch_status("P1", {"status": "sold"}, HTTP_IF_MATCH=etag))
        assert Item.objects.get().status == Item.Status.ACTIVE

    def test_patch_status_with_the_current_etag_passes(self, api_a, etag):
        response = api_a.patch_status("P1", {"status": "sold"}, HTTP_IF_MATCH=etag)

        assert response.status_code == 202
        assert Item.objects.get().status == Item.Status.SOLD

    def test_a_put_since_the_get_makes_the_etag_stale(self, api_a, etag):
        api_a.put("P1", item_body(title="Bromsok fram vänster, nytt namn"))

        assert refused(api_a.patch_price("P1", {"price": 900}, HTTP_IF_MATCH=etag))
        assert price_of("P1") == 950

    @pytest.mark.parametrize("header", ["*", " * "])
    def test_star_is_no_condition(self, api_a, etag, header):
        api_a.patch_price("P1", {"price": 900})

        assert api_a.patch_price("P1", {"price": 800}, HTTP_IF_MATCH=header).status_code == 202
        assert price_of("P1") == 800

    def test_one_of_a_list_of_etags_matching_passes(self, api_a, etag):
        header = f'"0000", {etag}'

        assert api_a.patch_price("P1", {"price": 900}, HTTP_IF_MATCH=header).status_code == 202

    def test_a_weak_etag_never_matches(self, api_a, etag):
        assert refused(api_a.patch_price("P1", {"price": 900}, HTTP_IF_MATCH=f"W/{etag}"))
        assert price_of("P1") == 950

    def test_an_unknown_item_is_still_404(self, api_a, etag):
        response = api_a.patch_price("NOPE", {"price": 900}, HTTP_IF_MATCH=etag)

        assert response.status_code == 404


@needs_postgres
def test_a_write_committed_while_the_patch_waits_for_the_row_makes_it_412(
    transactional_db, live_server, partner_a
):
    """The comparison is made under the row lock: a change that commits after the PATCH
    arrived, but before it got the row, is seen."""
    api = integration(partner_a)
    api.put("P1")
    activate("P1")
    etag = api.get("P1")["ETag"]
    answers = []

    def patch():
        answers.append(
            requests.patch(
                f"{live_server.url}/integration/v1/items/P1/price",
                json={"price": 800},
                headers={"x-api-key": api.key, "If-Match": etag},
                timeout=30,
            )
        )

    with transaction.atomic():
        item = Item.objects.select_for_update().get(external_id="P1")
        sender = threading.Thread(target=patch)
        sender.start()
        _wait_until_a_session_waits_for_a_lock()
        item.price = 900
        item.save()
    sender.join()

    assert refused(answers[0])
    assert price_of("P1") == 900


def _wait_until_a_session_waits_for_a_lock() -> None:
    """Polls PostgreSQL until another session waits on a lock (the statistics snapshot
    is cleared each time: within a transaction it would stay as first read)."""
    with connection.cursor() as cursor:
        for _ in range(100_000):
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
    raise AssertionError("the PATCH never waited for the row")
