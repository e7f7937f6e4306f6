"""The partner's relist rules through the Management API: read, replaced, validated,
each partner's own, and an item's GET following them."""

import pytest

from tradera.models import RelistRules

pytestmark = pytest.mark.django_db


def test_rules_start_off_and_a_put_replaces_them(dashboard_a, partner_a):
    body = dashboard_a.get("/api/v1/relist-rules").json()
    assert body == {
        "enabled": False,
        "maxRelists": 2,
        "stepPercent": 10,
        "stepAmount": None,
        "floorPrice": None,
        "floorPercent": 50,
        "waitHours": 0,
        "marketplaceOnlyAtFloor": True,
    }
    response = dashboard_a.put(
        "/api/v1/relist-rules",
        {"enabled": True, "maxRelists": 3, "stepAmount": 100, "floorPrice": 700, "waitHours": 12},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "enabled": True,
        "maxRelists": 3,
        "stepPercent": None,
        "stepAmount": 100,
        "floorPrice": 700,
        "floorPercent": None,
        "waitHours": 12,
        "marketplaceOnlyAtFloor": True,
    }
    assert dashboard_a.get("/api/v1/relist-rules").json() == response.json()
    rules = RelistRules.objects.get(partner=partner_a)
    assert (rules.enabled, rules.step_amount, rules.floor_price) == (True, 100, 700)


def test_bad_rules_are_named(dashboard_a):
    for body, named in (
        ({"maxRelists": -1, "enabled": "yes"}, {"maxRelists", "enabled"}),
        ({"stepPercent": 10, "stepAmount": 50}, {"stepAmount"}),
        ({"floorPrice": 700, "floorPercent": 50}, {"floorPercent"}),
    ):
        response = dashboard_a.put("/api/v1/relist-rules", body, format="json")
        assert response.status_code == 400
        assert set(response.json()["error"]["fields"]) == named
    assert not RelistRules.objects.exists()


def test_partners_have_rules_of_their_own(dashboard_a, dashboard_b):
    dashboard_a.put("/api/v1/relist-rules", {"enabled": True}, format="json")
    assert dashboard_b.get("/api/v1/relist-rules").json()["enabled"] is False


def test_the_rules_need_a_token(client):
    for method in ("get", "put"):
        response = getattr(client, method)("/api/v1/relist-rules")
        assert response.status_code == 401
