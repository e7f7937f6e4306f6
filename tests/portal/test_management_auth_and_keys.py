"""The Management API's login and API keys, as a partner's dashboard user uses them."""

import uuid
from datetime import timedelta

import jwt
import pytest
import time_machine
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from partners import services
from partners.models import User
from tests.conftest import login

pytestmark = pytest.mark.django_db


def token_for(email, password="pw-for-tests", client_address="127.0.0.1"):  # noqa: S107
    return APIClient(REMOTE_ADDR=client_address).post(
        "/api/v1/auth/token", {"email": email, "password": password}, format="json"
    )


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_login_returns_tokens_that_open_the_management_api(partner_a):
    response = token_for("ops@recopart.example")
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    assert jwt.get_unverified_header(tokens["access"])["alg"] == "HS256"
    assert bearer(tokens["access"]).get("/api/v1/api-keys").status_code == 200


def test_a_wrong_password_is_refused_in_the_error_format(partner_a):
    response = token_for("ops@recopart.example", "wrong")
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "authentication_failed"
    assert "credentials" in body["error"]["message"]


def test_missing_login_fields_are_named(partner_a):
    response = APIClient().post("/api/v1/auth/token", {"email": "x@y.z"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"password"}


@override_settings(RHEO_RATE_LIMITS={**settings.RHEO_RATE_LIMITS, "auth-token": "10/60s"})
def test_login_attempts_are_rate_limited_per_client(partner_a):
    guesser = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"  # unseen before
    codes = [token_for("ops@recopart.example", "guess", guesser).status_code for _ in range(11)]
    assert codes == [401] * 10 + [429]
    refused = token_for("ops@recopart.example", client_address=guesser)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "rate_limited"
    assert token_for("ops@recopart.example").status_code == 200  # another client


def test_staff_without_a_partner_get_no_management_token(db):
    User.objects.create_user(email="staff@rheo.se", password="pw-for-tests", is_staff=True)
    response = token_for("staff@rheo.se")
    assert response.status_code == 401
    assert "partner" in response.json()["error"]["message"]


def test_a_disabled_partners_tokens_stop_working(partner_a):
    client = login("ops@recopart.example")
    partner_a.is_active = False
    partner_a.save()
    response = client.get("/api/v1/api-keys")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The partner account is disabled."
    assert token_for("ops@recopart.example").status_code == 401


def test_refresh_gives_a_new_access_token(partner_a):
    refresh = token_for("ops@recopart.example").json()["refresh"]
    response = APIClient().post("/api/v1/auth/token/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 200
    assert bearer(response.json()["access"]).get("/api/v1/api-keys").status_code == 200
    forged = APIClient().post(
        "/api/v1/auth/token/refresh", {"refresh": refresh[:-4] + "AAAA"}, format="json"
    )
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "authentication_failed"


def test_an_expired_access_token_is_refused(partner_a):
    access = token_for("ops@recopart.example").json()["access"]
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = bearer(access).get("/api/v1/api-keys")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_forged_token_is_refused(partner_a):
    user = User.objects.get(email="ops@recopart.example")
    claims = {
        "token_type": "access",
        "user_id": str(user.pk),
        "exp": int((timezone.now() + timedelta(minutes=5)).timestamp()),
        "jti": "x",
    }
    forged = jwt.encode(claims, "not-rheos-signing-key-but-just-as-long-as-one", algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    for token in (forged, unsigned, "not-a-jwt"):
        response = bearer(token).get("/api/v1/api-keys")
        assert response.status_code == 401, token
        assert response.json()["error"]["code"] == "authentication_failed"


def test_no_token_is_a_401_that_says_how_to_authenticate(partner_a):
    response = APIClient().get("/api/v1/api-keys")
    assert response.status_code == 401
    assert "Bearer" in response.json()["error"]["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_api_key_does_not_open_the_management_api(api_a):
    response = APIClient().get("/api/v1/api-keys", HTTP_X_API_KEY=api_a.key)
    assert response.status_code == 401


# --- API keys ------------------------------------------------------------------------


def test_a_generated_key_is_shown_once_and_works_at_once(dashboard_a, api_a):
    response = dashboard_a.post(
        "/api/v1/api-keys", {"name": "Recopart Production", "mode": "live"}, format="json"
    )
    assert response.status_code == 201
    issued = response.json()
    assert issued["key"].startswith("rheo_live_") and len(issued["key"]) == 42
    assert issued["key"].startswith(issued["prefix"])
    assert issued["name"] == "Recopart Production"
    assert issued["revokedAt"] is None

    erp = APIClient()
    put = erp.put(
        "/integration/v1/items/X1",
        data='{"title": "t", "price": 10, "shippingCost": 0, "imageUrls": ["https://a.example/1.jpg"]}',
        content_type="application/json",
        HTTP_X_API_KEY=issued["key"],
    )
    assert put.status_code == 202

    listed = dashboard_a.get("/api/v1/api-keys").json()
    mine = next(k for k in listed if k["id"] == issued["id"])
    assert "key" not in mine
    assert mine["lastUsedAt"] is not None


def test_a_test_key_can_be_generated(dashboard_a):
    response = dashboard_a.post("/api/v1/api-keys", {"name": "Staging"}, format="json")
    assert response.json()["mode"] == "live"  # the default
    response = dashboard_a.post("/api/v1/api-keys", {"name": "CI", "mode": "test"}, format="json")
    assert response.json()["key"].startswith("rheo_test_")


def test_bad_key_input_is_named(dashboard_a):
    response = dashboard_a.post("/api/v1/api-keys", {"name": 5, "mode": "prod"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"name", "mode"}


def test_revoking_a_key_refuses_it_at_once(dashboard_a, api_a):
    [key] = dashboard_a.get("/api/v1/api-keys").json()
    response = dashboard_a.delete(f"/api/v1/api-keys/{key['id']}")
    assert response.status_code == 200
    assert response.json()["revokedAt"] is not None
    refused = api_a.get("ERP_PART_12345")
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "The API key has been revoked."


def test_partners_see_and_revoke_only_their_own_keys(dashboard_a, dashboard_b, api_a, api_b):
    a_keys = dashboard_a.get("/api/v1/api-keys").json()
    b_keys = dashboard_b.get("/api/v1/api-keys").json()
    assert {k["prefix"] for k in a_keys} == {api_a.key[:14]}
    assert {k["prefix"] for k in b_keys} == {api_b.key[:14]}
    response = dashboard_b.delete(f"/api/v1/api-keys/{a_keys[0]['id']}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api_a.get("anything").status_code == 404  # still a working key


def test_keys_issued_by_script_are_listed_too(partner_a, dashboard_a):
    services.create_api_key(partner=partner_a, name="from the shell", mode="test")
    names = [k["name"] for k in dashboard_a.get("/api/v1/api-keys").json()]
    assert names == ["from the shell"]
