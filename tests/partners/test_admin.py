import pytest

from partners.models import ApiKey, User
from tests.conftest import integration


@pytest.fixture
def staff_client(client, db):
    staff = User.objects.create_superuser(email="staff@rheo.example", password="pw")
    client.force_login(staff)
    return client


@pytest.mark.parametrize(
    "page",
    [
        "/admin/",
        "/admin/partners/partner/",
        "/admin/partners/user/",
        "/admin/partners/apikey/",
        "/admin/items/item/",
        "/admin/items/order/",
        "/admin/tradera/traderalisting/",
        "/admin/tradera/traderaaccount/",
        "/admin/tradera/categoryrule/",
    ],
)
def test_staff_pages_open(staff_client, api_a, page):
    api_a.put("P1")
    assert staff_client.get(page).status_code == 200


def test_key_pages_never_show_the_digest_and_keys_are_revoked_through_the_action(
    staff_client, partner_a
):
    api = integration(partner_a)
    api_key = ApiKey.objects.get()

    page = staff_client.get(f"/admin/partners/apikey/{api_key.pk}/change/").content.decode()
    assert api_key.prefix in page
    assert api_key.digest not in page
    assert api.key not in page

    staff_client.post(
        "/admin/partners/apikey/",
        {"action": "revoke", "_selected_action": [str(api_key.pk)]},
    )

    assert ApiKey.objects.get().revoked_at is not None
    assert api.get("P1").status_code == 401


def test_partner_users_can_be_found_by_email(staff_client, partner_a):
    page = staff_client.get("/admin/partners/partner/?q=ops@recopart").content.decode()
    assert "Recopart AB" in page


def test_staff_can_add_a_partner_user(staff_client, partner_a):
    assert staff_client.get("/admin/partners/user/add/").status_code == 200

    response = staff_client.post(
        "/admin/partners/user/add/",
        {
            "email": "second@recopart.example",
            "partner": str(partner_a.pk),
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="second@recopart.example")
    assert user.partner == partner_a and user.check_password("a-long-Passphrase-42")
