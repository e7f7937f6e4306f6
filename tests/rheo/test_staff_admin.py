"""Staff run Rheo from Django admin: every model has pages that open, lists staff can
search and filter, actions that do what they say through the services (and say what
became of each row), and never a secret, key, digest or token on any page."""

import html

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from items import lifecycle as items
from items.models import Item
from partners.models import ApiKey, User
from tests.conftest import integration, item_body
from tests.tradera.conftest import push
from tradera.models import TraderaAccount, TraderaListing
from webhooks import services as webhooks
from webhooks.models import Delivery, WebhookEndpoint, all_event_types

pytestmark = pytest.mark.django_db

PARTNERS = "/admin/partners/partner/"
API_KEYS = "/admin/partners/apikey/"
ITEMS = "/admin/items/item/"
LISTINGS = "/admin/tradera/traderalisting/"
ACCOUNTS = "/admin/tradera/traderaaccount/"
ENDPOINTS = "/admin/webhooks/webhookendpoint/"
DELIVERIES = "/admin/webhooks/delivery/"


@pytest.fixture
def staff(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser(email="staff@rheo.example", password="pw"))
    return client


def act(staff: Client, changelist: str, action: str, rows) -> list[str]:
    """Posts the changelist's action form as a staff member's browser does; returns the
    messages shown on the page it leads back to."""
    response = staff.post(
        changelist,
        {"action": action, "_selected_action": [str(row.pk) for row in rows]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


def listed(staff: Client, changelist: str, query: str) -> list:
    response = staff.get(f"{changelist}?{query}")
    assert response.status_code == 200, query  # an unknown filter would redirect (?e=1)
    return list(response.context["cl"].result_list)


# --- Every page, and never a secret -----------------------------------------------------


def test_every_model_of_rheo_has_an_admin_or_shows_inside_one():
    ours = [
        model
        for app in ("partners", "items", "tradera", "webhooks")
        for model in apps.get_app_config(app).get_models()
    ]
    inline = {i.model for model_admin in admin.site._registry.values() for i in model_admin.inlines}
    assert [m.__name__ for m in ours if not (admin.site.is_registered(m) or m in inline)] == []


@pytest.fixture
def everything(
    rheo_on_the_sandbox, partner_a, partner_b, api_a, api_a_test, committed, worker, photo, receiver
) -> list[str]:
    """Rows in every table: a partner whose test item became a sandbox auction and told
    its webhook endpoint (whose secret has been rotated), another with a draft item.
    Returns every secret Rheo holds, as it is and as it is stored."""
    endpoint = webhooks.configure_endpoint(
        partner=partner_a,
        livemode=False,
        url=receiver.url(),
        enabled=True,
        event_types=all_event_types(),
    )
    first_secret = endpoint.secret
    current_secret = webhooks.rotate_secret(endpoint=endpoint)
    push(api_a_test, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert listing.status == "active"
    assert Delivery.objects.get().status == "succeeded"
    items.record_activity(item=listing.item, kind="note", message="Checked by staff")
    api_b = integration(partner_b)
    assert api_b.put("B1").status_code == 202

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, previous_secret FROM webhooks_webhookendpoint")
        stored = [value for row in cursor.fetchall() for value in row]
        cursor.execute("SELECT token FROM tradera_traderaaccount")
        stored += [row[0] for row in cursor.fetchall()]
    return [
        api_a.key,
        api_a_test.key,
        api_b.key,
        *ApiKey.objects.values_list("digest", flat=True),
        first_secret,
        current_secret,
        first_secret.removeprefix("whsec_"),
        current_secret.removeprefix("whsec_"),
        TraderaAccount.objects.get().token,
        *User.objects.values_list("password", flat=True),
        *stored,
    ]


def test_every_page_opens_and_shows_no_secret_key_digest_or_token(staff, everything):
    pages = ["/admin/"]
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        pages.append(changelist)
        # Sorted by each column, so annotated and related columns are exercised too.
        pages += [f"{changelist}?o={n}" for n in range(1, len(model_admin.list_display) + 1)]
        if model_admin.search_fields:  # words and numbers, against text, id and number fields
            pages += [f"{changelist}?q=ERP_PART_12345", f"{changelist}?q=31400452"]
        for pk in model.objects.values_list("pk", flat=True)[:3]:
            pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk]))
    user = User.objects.get(email="ops@recopart.example")
    pages.append(f"/admin/partners/user/{user.pk}/password/")

    for page in pages:
        response = staff.get(page)
        assert response.status_code == 200, page
        content = response.content.decode()
        for secret in everything:
            assert secret not in content, page
    assert len(pages) > 60


def test_a_user_who_is_not_staff_is_sent_to_the_admin_login(client, partner_a):
    client.force_login(User.objects.get(email="ops@recopart.example"))
    for page in ("/admin/", ITEMS, PARTNERS, f"{PARTNERS}{partner_a.pk}/change/"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith("/admin/login/")
    assert Client().get("/admin/").status_code == 302


# --- Lists staff search and filter ------------------------------------------------------


def part(title: str, oem_code: str) -> dict:
    domain = {**item_body()["domain"], "oemCode": oem_code}
    return item_body(title=title, domain=domain)


def test_items_are_found_by_external_id_title_and_oem_code_and_filtered(
    staff, partner_b, api_a, api_a_test
):
    api_a.put("ERP_1", part("Volvo XC90 bromsok fram vänster", "31400452"))
    api_a.put("ERP_2", part("Saab 9-5 strålkastare höger", "5142233"))
    api_a_test.put("ERP_T", part("Volvo V70 vindruta", "30753511"))
    integration(partner_b).put("B_1", part("Volvo XC90 bromsok fram höger", "31400453"))

    def ids(query):
        return sorted(item.external_id for item in listed(staff, ITEMS, query))

    assert ids("q=5142233") == ["ERP_2"]
    assert ids("q=ERP_1") == ["ERP_1"]
    assert ids("q=strålkastare") == ["ERP_2"]
    assert ids("q=bromsok") == ["B_1", "ERP_1"]
    assert ids("livemode__exact=0") == ["ERP_T"]
    assert ids(f"partner__id__exact={partner_b.pk}") == ["B_1"]
    assert ids("status__exact=draft") == ["B_1", "ERP_1", "ERP_2", "ERP_T"]
    assert ids("status__exact=active") == []

    assert api_a.delete("ERP_1").status_code == 202
    assert ids("deleted=yes") == ["ERP_1"]
    assert ids("deleted=no") == ["B_1", "ERP_2", "ERP_T"]

    page = staff.get(ITEMS).content.decode()
    assert "Saab 9-5 strålkastare höger" in page and "Recopart AB" in page


def test_partners_show_their_users_and_items_and_are_found_by_a_users_email(
    staff, partner_a, partner_b, api_a, api_a_test
):
    api_a.put("ERP_1")
    api_a.put("ERP_2")
    api_a_test.put("ERP_T")
    assert api_a.delete("ERP_2").status_code == 202

    [found] = listed(staff, PARTNERS, "q=it@bildelarnorr")
    assert found == partner_b
    recopart = listed(staff, PARTNERS, "q=Recopart")[0]
    assert (recopart.user_count, recopart.live_item_count, recopart.test_item_count) == (1, 1, 1)
    assert [p.name for p in listed(staff, PARTNERS, "o=-4")] == ["Recopart AB", "Bildelar Norr AB"]


# --- Partners, users and keys -----------------------------------------------------------


def token_login(email: str, password: str = "pw-for-tests"):  # noqa: S107
    return Client().post(
        "/api/v1/auth/token",
        {"email": email, "password": password},
        content_type="application/json",
    )


def dashboard_login(email: str):
    return Client().post("/dashboard/login/", {"username": email, "password": "pw-for-tests"})


def test_disabling_a_partner_refuses_its_keys_and_users_at_once_and_enabling_lets_them_in(
    staff, partner_a, partner_b, api_a, api_b, dashboard_a
):
    email = "ops@recopart.example"
    refresh = token_login(email).json()["refresh"]
    browser = Client()
    browser.force_login(User.objects.get(email=email))
    assert browser.get("/healthz").wsgi_request.user.is_authenticated
    assert api_a.get("P1").status_code == 404  # the key works: there is just no such item

    assert act(staff, PARTNERS, "disable", [partner_a]) == ["1 disabled."]

    assert api_a.get("P1").status_code == 401
    assert api_a.get("P1").json()["error"]["code"] == "authentication_failed"
    assert dashboard_a.get("/api/v1/api-keys").status_code == 401  # its bearer token
    assert token_login(email).status_code == 401
    refreshed = Client().post(
        "/api/v1/auth/token/refresh", {"refresh": refresh}, content_type="application/json"
    )
    assert refreshed.status_code == 401
    assert not browser.get("/healthz").wsgi_request.user.is_authenticated  # its session
    assert "account is disabled" in dashboard_login(email).content.decode()
    assert api_b.get("P1").status_code == 404  # the other partner is not touched

    assert act(staff, PARTNERS, "disable", [partner_a, partner_b]) == [
        "1 disabled; 1 skipped (already disabled): Recopart AB."
    ]
    assert act(staff, PARTNERS, "enable", [partner_a, partner_b]) == [
        "2 enabled.",
    ]
    assert api_a.get("P1").status_code == 404
    assert token_login(email).status_code == 200
    assert dashboard_login(email).status_code == 302


def test_revoking_a_key_refuses_it_at_once_and_twice_is_harmless(staff, partner_a, api_a):
    other = integration(partner_a)
    api_key = ApiKey.objects.get(prefix=api_a.key[:14])

    assert act(staff, API_KEYS, "revoke", [api_key]) == ["1 revoked."]
    assert api_a.get("P1").status_code == 401
    assert other.get("P1").status_code == 404
    assert listed(staff, API_KEYS, "state=revoked") == [api_key]

    assert act(staff, API_KEYS, "revoke", [api_key]) == [
        f"0 revoked; 1 skipped (already revoked): {api_key}."
    ]


def test_staff_set_a_users_password_through_djangos_form(staff, partner_a):
    user = User.objects.get(email="ops@recopart.example")
    page = staff.get(f"/admin/partners/user/{user.pk}/change/").content.decode()
    assert "ops@recopart.example" in page and user.password not in page

    response = staff.post(
        f"/admin/partners/user/{user.pk}/password/",
        {"password1": "a-New-passphrase-77", "password2": "a-New-passphrase-77"},
    )

    assert response.status_code == 302
    assert token_login("ops@recopart.example", "a-New-passphrase-77").status_code == 200


# --- Tradera listings and accounts (over real HTTP to the sandbox) ----------------------


def auctions(sandbox) -> list[dict]:
    """The auctions Tradera ever made live (running or ended)."""
    return [a for a in sandbox._get("auctions")["auctions"] if a["state"] != "uncommitted"]


@pytest.mark.usefixtures("rheo_on_the_sandbox")
def test_retrying_a_refused_publish_makes_the_auction(
    staff, api_a_test, committed, worker, photo, sandbox
):
    sandbox.fail("refuse", operation="AddItem", reason="Kategorin är stängd.")
    push(api_a_test, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert (listing.status, listing.error_code) == ("sync_error", "tradera_refused")
    assert listed(staff, LISTINGS, "status__exact=sync_error") == [listing]

    with committed():
        assert act(staff, LISTINGS, "retry_publish", [listing]) == [
            "1 queued for publishing again."
        ]
    worker()

    listing.refresh_from_db()
    [auction] = auctions(sandbox)
    assert (listing.status, listing.tradera_item_id) == ("active", auction["itemId"])
    body = api_a_test.get("ERP_PART_12345").json()
    assert (body["traderaStatus"], body["traderaAdId"]) == ("active", str(auction["itemId"]))
    assert listed(staff, ITEMS, "tradera_listing__status__exact=active")[0].pk == listing.item_id

    with committed():
        assert act(staff, LISTINGS, "retry_publish", [listing]) == [
            "0 queued for publishing again; 1 skipped (The listing is active; only a failed "
            f"publish is retried): {listing}."
        ]
    worker()
    assert len(auctions(sandbox)) == 1


@pytest.mark.usefixtures("rheo_on_the_sandbox")
def test_retrying_after_the_commit_asks_about_the_same_request_and_makes_no_second_auction(
    staff, api_a_test, committed, worker, photo, sandbox
):
    sandbox.settings(speed=1)  # the auction runs in real time, whatever the test's clock does
    sandbox.fail("refuse", operation="GetRequestResults", count=1)  # after the commit
    push(api_a_test, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert (listing.status, listing.error_code, listing.committed) == (
        "sync_error",
        "tradera_refused",
        True,
    )

    with committed():
        act(staff, LISTINGS, "retry_publish", [listing])
    worker()

    listing.refresh_from_db()
    [auction] = auctions(sandbox)
    assert (listing.status, listing.tradera_item_id) == ("active", auction["itemId"])
    assert sandbox.calls()["AddItem"] == 1


@pytest.fixture
def running(rheo_on_the_sandbox, api_a_test, committed, worker, photo, sandbox) -> TraderaListing:
    push(api_a_test, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert listing.status == "active"
    return listing


def test_ending_a_listing_ends_the_sandbox_auction_and_the_item_stays_for_sale(
    staff, running, committed, worker, sandbox, api_a_test
):
    with committed():
        assert act(staff, LISTINGS, "end_listing", [running]) == ["1 being ended."]
    worker()

    assert sandbox.auction(running.tradera_item_id)["state"] == "ended"
    body = api_a_test.get("ERP_PART_12345").json()
    assert (body["rheoStatus"], body["traderaStatus"], body["issues"]) == ("active", "ended", [])
    timeline = staff.get(f"{ITEMS}{running.item_id}/change/").content.decode()
    assert "Tradera auction ended by Rheo" in timeline

    with committed():
        assert act(staff, LISTINGS, "end_listing", [running]) == [
            f"0 being ended; 1 skipped (The listing is ended; no auction runs): {running}."
        ]


def test_ending_an_auction_with_bids_lets_it_run_and_shows_an_issue(
    staff, running, committed, worker, sandbox, api_a_test
):
    sandbox.bid(running.tradera_item_id, 1000)

    with committed():
        act(staff, LISTINGS, "end_listing", [running])
    worker()

    assert sandbox.auction(running.tradera_item_id)["state"] == "active"
    body = api_a_test.get("ERP_PART_12345").json()
    assert body["traderaStatus"] == "active"
    assert [i["code"] for i in body["issues"]] == ["tradera_end_refused_has_bids"]
    assert listed(staff, LISTINGS, "status__exact=active")[0].issues


def test_sync_now_runs_a_pass_for_the_account(staff, running, committed, worker):
    account = TraderaAccount.objects.get()
    assert account.last_synced_at is None

    with committed():
        assert act(staff, ACCOUNTS, "sync_now", [account]) == ["1 queued for a sync pass."]
    worker()

    account.refresh_from_db()
    assert account.last_synced_at is not None and account.last_sync_error == ""


# --- Webhooks ---------------------------------------------------------------------------


@pytest.fixture
def endpoint(partner_a, receiver) -> WebhookEndpoint:
    return webhooks.configure_endpoint(
        partner=partner_a,
        livemode=True,
        url=receiver.url(),
        enabled=True,
        event_types=all_event_types(),
    )


def test_redelivering_sends_the_event_again_as_a_new_delivery(
    staff, partner_a, endpoint, receiver, committed, worker
):
    with committed():
        event, delivery = webhooks.send_test_event(partner=partner_a, livemode=True)
    worker()
    assert len(receiver.received) == 1
    delivery.refresh_from_db()

    with committed():
        assert act(staff, DELIVERIES, "redeliver", [delivery]) == ["1 redelivered."]
        assert act(staff, DELIVERIES, "redeliver", [delivery]) == [
            "0 redelivered; 1 skipped (This event is already on its way to the endpoint): "
            f"{delivery}."
        ]
    worker()

    assert len(receiver.received) == 2
    again = receiver.received[1]
    assert again.headers["webhook-id"] == event.id
    assert Webhook(endpoint.secret).verify(again.body, again.headers)["eventId"] == event.id
    assert sorted(Delivery.objects.values_list("status", flat=True)) == ["succeeded"] * 2
    assert listed(staff, DELIVERIES, "status__exact=succeeded") != []


def test_a_disabled_endpoint_is_re_enabled_and_its_health_reset(staff, endpoint, committed):
    with committed():
        assert act(staff, ENDPOINTS, "disable", [endpoint]) == ["1 disabled."]
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "Disabled by Rheo staff.")
    assert listed(staff, ENDPOINTS, "enabled__exact=0") == [endpoint]

    assert act(staff, ENDPOINTS, "enable", [endpoint]) == ["1 re-enabled."]
    assert act(staff, ENDPOINTS, "enable", [endpoint]) == [
        f"0 re-enabled; 1 skipped (already enabled): {endpoint}."
    ]
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since) == (True, "", None)


def test_an_events_page_shows_its_payload_pretty_printed_and_its_deliveries(
    staff, partner_a, endpoint, committed, worker
):
    with committed():
        event, delivery = webhooks.send_test_event(partner=partner_a, livemode=True)
    worker()

    page = html.unescape(staff.get(f"/admin/webhooks/event/{event.pk}/change/").content.decode())

    assert f'\n  "eventId": "{event.id}",\n  "eventType": "webhook.test",' in page
    assert f"/admin/webhooks/delivery/{delivery.pk}/change/" in page


def test_item_pages_show_the_items_timeline_oldest_first(staff, api_a):
    api_a.put("ERP_1")
    item = Item.objects.get()
    items.record_activity(item=item, kind="note", message="First thing")
    items.record_activity(item=item, kind="note", message="Second thing")

    page = staff.get(f"{ITEMS}{item.pk}/change/").content.decode()

    assert page.index("First thing") < page.index("Second thing")
