"""The partner dashboard through Django's test client: session login, the overview, the
items and their timelines, and the Integration pages, each scoped to the user's partner."""

import re

import pytest
from django.core import mail
from django.test import Client

from items.models import Item
from partners import services as partner_services
from partners.models import ApiKey
from tests.conftest import item_body
from tests.items.imagehost import ImageHost, jpeg_bytes
from tests.webhooks.conftest import Receiver
from webhooks import services as webhooks
from webhooks.models import Delivery, WebhookEndpoint, all_event_types

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"  # noqa: S105


def logged_in(email: str, mode: str | None = "live") -> Client:
    """A user logged in to the dashboard, viewing `mode` (None: the one it opens in)."""
    browser = Client()
    answer = browser.post("/dashboard/login/", {"username": email, "password": PASSWORD})
    assert answer.status_code == 302, answer.content.decode()
    if mode:
        browser.post("/dashboard/mode", {"mode": mode})
    return browser


@pytest.fixture
def browser_a(partner_a) -> Client:
    return logged_in("ops@recopart.example")


@pytest.fixture
def browser_b(partner_b) -> Client:
    return logged_in("it@bildelarnorr.example")


@pytest.fixture
def photos():
    host = ImageHost()
    yield host
    host.close()


def page(browser, path: str) -> str:
    answer = browser.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    return answer.content.decode()


def push_active(api, committed, worker, photos, external_id: str, **fields) -> Item:
    url = photos.serve(f"/{external_id}.jpg", jpeg_bytes())
    with committed():
        answer = api.put(
            external_id, item_body(imageUrls=[url], autoPublishTradera=False, **fields)
        )
    assert answer.status_code == 202
    worker()
    return Item.objects.get(external_id=external_id, livemode=api.key.startswith("rheo_live_"))


# --- Logging in and out ---------------------------------------------------------------


def test_pages_ask_for_a_login_first(partner_a):
    answer = Client().get("/dashboard/items/")
    assert answer.status_code == 302
    assert answer["Location"] == "/dashboard/login/?next=/dashboard/items/"


def test_a_wrong_password_is_refused_with_a_message(partner_a):
    answer = Client().post(
        "/dashboard/login/", {"username": "ops@recopart.example", "password": "nope"}
    )
    assert answer.status_code == 200
    assert "Please enter a correct email and password" in answer.content.decode()


def test_login_opens_the_overview_and_logout_ends_the_session(browser_a):
    assert "Overview" in page(browser_a, "/dashboard/")
    assert browser_a.post("/dashboard/logout/").status_code == 302
    assert browser_a.get("/dashboard/").status_code == 302


def test_users_of_a_disabled_partner_cannot_log_in_and_are_logged_out(partner_a, browser_a):
    partner_a.is_active = False
    partner_a.save()
    assert browser_a.get("/dashboard/").status_code == 302
    answer = Client().post(
        "/dashboard/login/", {"username": "ops@recopart.example", "password": PASSWORD}
    )
    assert "account is disabled" in answer.content.decode()


def test_staff_without_a_partner_are_sent_to_admin(db):
    from partners.models import User

    User.objects.create_user(email="staff@rheo.se", password=PASSWORD, is_staff=True)
    answer = Client().post("/dashboard/login/", {"username": "staff@rheo.se", "password": PASSWORD})
    assert "Rheo staff sign in at /admin/" in answer.content.decode()


def test_a_forgotten_password_is_reset_by_email(partner_a):
    browser = Client()
    answer = browser.post("/dashboard/password-reset/", {"email": "ops@recopart.example"})
    assert answer.status_code == 302
    [message] = mail.outbox
    assert message.to == ["ops@recopart.example"]
    link = re.search(r"http://testserver(/dashboard/password-reset/\S+/)", message.body)[1]
    form = browser.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-new-long-pass-2026", "new_password2": "a-new-long-pass-2026"},
    )
    assert done.status_code == 302
    assert Client().login(username="ops@recopart.example", password="a-new-long-pass-2026")


def test_forms_need_the_csrf_token(partner_a):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(partner_a.users.get())
    assert (
        browser.post("/dashboard/integration/keys", {"name": "x", "mode": "live"}).status_code
        == 403
    )
    assert not ApiKey.objects.filter(name="x").exists()


# --- Items ----------------------------------------------------------------------------


def test_items_are_searchable_and_filterable_and_only_the_partners_own(
    browser_a, api_a, api_a_test, api_b, committed, worker, photos
):
    push_active(api_a, committed, worker, photos, "CAL-1")
    push_active(
        api_a,
        committed,
        worker,
        photos,
        "LAMP-2",
        title="Saab 9-3 strålkastare",
        domain={"domain": "automotive_part", "oemCode": "12785925"},
    )
    with committed():
        api_a.put(
            "DRAFT-3", item_body(imageUrls=["http://127.0.0.1:9/x.jpg"], autoPublishTradera=False)
        )
    push_active(api_a_test, committed, worker, photos, "TEST-4")
    push_active(api_b, committed, worker, photos, "OTHER-5")

    listed = page(browser_a, "/dashboard/items/")
    assert "CAL-1" in listed and "LAMP-2" in listed and "DRAFT-3" in listed
    assert "TEST-4" not in listed and "OTHER-5" not in listed
    by_oem = page(browser_a, "/dashboard/items/?q=127859")
    assert "LAMP-2" in by_oem and "CAL-1" not in by_oem
    by_title = page(browser_a, "/dashboard/items/?q=strålkastare")
    assert "LAMP-2" in by_title and "CAL-1" not in by_title
    by_id = page(browser_a, "/dashboard/items/?q=cal-")
    assert "CAL-1" in by_id and "LAMP-2" not in by_id
    drafts = page(browser_a, "/dashboard/items/?status=draft")
    assert "DRAFT-3" in drafts and "CAL-1" not in drafts
    assert "CAL-1" in page(browser_a, "/dashboard/items/?tradera=none")
    assert "CAL-1" not in page(browser_a, "/dashboard/items/?tradera=active")

    browser_a.post("/dashboard/mode", {"mode": "test"})
    in_test = page(browser_a, "/dashboard/items/")
    assert "TEST-4" in in_test and "CAL-1" not in in_test
    assert "Test mode:</strong> you are viewing what your test keys" in in_test


def test_the_item_list_is_paginated(browser_a, partner_a):
    Item.objects.bulk_create(
        Item(
            partner=partner_a,
            livemode=True,
            external_id=f"P-{n:03}",
            title=f"Part {n}",
            price=100,
            shipping_cost=0,
        )
        for n in range(30)
    )
    first = page(browser_a, "/dashboard/items/?q=P-")
    second = page(browser_a, "/dashboard/items/?q=P-&page=2")
    assert "Page 1 of 2" in first and "30 items" in first and "Page 2 of 2" in second
    on_first, on_second = (set(re.findall(r">(P-\d{3})</a>", html)) for html in (first, second))
    assert (len(on_first), len(on_second)) == (25, 5)
    assert on_first | on_second == {f"P-{n:03}" for n in range(30)}
    assert 'href="?q=P-&amp;page=2"' in first  # the filter survives paging


def test_the_item_page_shows_images_texts_and_a_timeline_of_its_changes(
    browser_a, api_a, committed, worker, photos
):
    item = push_active(api_a, committed, worker, photos, "CAL-1", useAiEnhancement=True)
    with committed():
        api_a.patch_price("CAL-1", {"price": 900})
        api_a.patch_status("CAL-1", {"status": "sold"})
    worker()
    html = page(browser_a, f"/dashboard/items/{item.pk}/")
    image = item.images.get()
    assert image.stored.thumbnail_url in html
    assert "Volvo XC90 bromsok fram vänster — 2018" in html  # the partner's text
    assert item.enhanced_title and item.enhanced_title in html  # and the enhanced one
    timeline = html.split('id="timeline"')[1]
    expected_order = [
        "Received by PUT",
        "Images: 1 of 1 ready",
        "Status draft → active",
        "Price 950\N{NO-BREAK SPACE}kr → 900\N{NO-BREAK SPACE}kr",
        "Status active → sold",
    ]
    positions = [timeline.index(text) for text in expected_order]
    assert positions == sorted(positions)


@pytest.fixture
def receiver_a(partner_a):
    """A receiver for partner_a's live events, every type."""
    receiver = Receiver()
    webhooks.configure_endpoint(
        partner=partner_a,
        livemode=True,
        url=receiver.url(),
        enabled=True,
        event_types=all_event_types(),
    )
    yield receiver
    receiver.close()


def test_the_timeline_shows_events_and_their_delivery_attempts(
    browser_a, receiver_a, api_a, committed, worker, photos
):
    with committed():
        api_a.put(
            "BAD-2", item_body(imageUrls=[photos.url("/missing.jpg")], autoPublishTradera=False)
        )
    worker()
    item = Item.objects.get(external_id="BAD-2")
    html = page(browser_a, f"/dashboard/items/{item.pk}/")
    assert "listing.failed" in html
    assert "attempt 1" in html and "HTTP 200" in html
    assert "Images: 0 of 1 ready" in html


def test_another_partners_item_page_is_not_found(browser_b, api_a, committed, worker, photos):
    item = push_active(api_a, committed, worker, photos, "CAL-1")
    assert browser_b.get(f"/dashboard/items/{item.pk}/").status_code == 404


# --- Overview -------------------------------------------------------------------------


def test_the_overview_counts_items_and_lists_what_needs_attention(
    browser_a, api_a, committed, worker, photos
):
    push_active(api_a, committed, worker, photos, "CAL-1")
    push_active(api_a, committed, worker, photos, "CAL-2")
    with committed():
        api_a.put(
            "BAD-3", item_body(imageUrls=[photos.url("/missing.jpg")], autoPublishTradera=False)
        )
    worker()
    html = page(browser_a, "/dashboard/")
    counts = html.split('id="rheo-status-counts"')[1].split("</table>")[0]
    assert re.search(r">active</span></a></td><td class=\"num\">2<", counts)
    assert re.search(r">draft</span></a></td><td class=\"num\">1<", counts)
    attention = html.split('id="attention"')[1].split("</section>")[0]
    assert "BAD-3" in attention and "CAL-1" not in attention


# --- Integration ----------------------------------------------------------------------


def test_a_generated_key_is_shown_once_and_works_with_the_api(browser_a, partner_a):
    answer = browser_a.post(
        "/dashboard/integration/keys", {"name": "Recopart Production", "mode": "live"}, follow=True
    )
    html = answer.content.decode()
    key = re.search(r'id="new-api-key">(rheo_live_\w+)<', html)[1]
    assert "shown only this once" in html
    assert key not in page(browser_a, "/dashboard/integration/")  # never again
    from rest_framework.test import APIClient

    api = APIClient()
    put = api.put(
        "/integration/v1/items/ERP_PART_12345", item_body(), format="json", HTTP_X_API_KEY=key
    )
    assert put.status_code == 202
    listing = page(browser_a, "/dashboard/integration/")
    stored = ApiKey.objects.get(name="Recopart Production")
    row = re.search(rf"<tr>(?:(?!</tr>).)*{stored.prefix}(?:(?!</tr>).)*</tr>", listing, re.S)[0]
    assert "never" not in row and re.search(
        r"<td>\d{4}-\d\d-\d\d \d\d:\d\d CES?T</td>", row
    )  # used
    browser_a.post(f"/dashboard/integration/keys/{stored.pk}/revoke")
    again = api.get("/integration/v1/items/ERP_PART_12345", HTTP_X_API_KEY=key)
    assert again.status_code == 401


def test_a_key_of_another_partner_cannot_be_revoked(browser_b, partner_a):
    issued = partner_services.create_api_key(partner=partner_a, name="A's key", mode="live")
    assert (
        browser_b.post(f"/dashboard/integration/keys/{issued.api_key.pk}/revoke").status_code == 404
    )
    issued.api_key.refresh_from_db()
    assert issued.api_key.revoked_at is None


def test_webhook_settings_save_reveal_rotate_and_send_a_test_event(
    browser_a, partner_a, worker, committed
):
    receiver = Receiver()
    try:
        bad = browser_a.post(
            "/dashboard/integration/webhooks/",
            {"url": "http://169.254.169.254/latest", "event_types": ["item.sold"], "enabled": "on"},
        )
        assert bad.status_code == 200
        assert not WebhookEndpoint.objects.exists()
        saved = browser_a.post(
            "/dashboard/integration/webhooks/",
            {
                "url": receiver.url(),
                "event_types": ["item.sold", "listing.created"],
                "enabled": "on",
            },
        )
        assert saved.status_code == 302
        endpoint = WebhookEndpoint.objects.get(partner=partner_a, livemode=True)
        assert endpoint.event_types == ["listing.created", "item.sold"]
        hidden = page(browser_a, "/dashboard/integration/webhooks/")
        assert endpoint.secret not in hidden and "Reveal secret" in hidden
        assert endpoint.secret in page(browser_a, "/dashboard/integration/webhooks/?reveal=1")
        browser_a.post("/dashboard/integration/webhooks/rotate")
        endpoint.refresh_from_db()
        assert endpoint.previous_secret and endpoint.secret != endpoint.previous_secret
        with committed():
            sent = browser_a.post("/dashboard/integration/webhooks/test", follow=True)
        assert "Test event" in sent.content.decode()
        worker()
        assert receiver.received and '"webhook.test"' in receiver.received[0].body
        log = page(browser_a, "/dashboard/integration/deliveries/")
        delivery = Delivery.objects.get()
        assert (
            "<code>webhook.test</code>" in log
            and f"/dashboard/integration/deliveries/{delivery.pk}/" in log
        )
        detail = page(browser_a, f"/dashboard/integration/deliveries/{delivery.pk}/")
        assert "HTTP 200" in detail and "succeeded" in detail
        with committed():
            again = browser_a.post(f"/dashboard/integration/deliveries/{delivery.pk}/redeliver")
        assert again.status_code == 302 and Delivery.objects.count() == 2
        worker()
        assert len(receiver.received) == 2
    finally:
        receiver.close()


def test_the_delivery_log_filters_and_hides_other_partners(
    browser_a, browser_b, partner_a, receiver_a, worker, committed
):
    with committed():
        webhooks.send_test_event(partner=partner_a, livemode=True)
    worker()
    delivery = Delivery.objects.get()
    assert "<code>webhook.test</code>" in page(
        browser_a, "/dashboard/integration/deliveries/?status=succeeded"
    )
    assert "<code>webhook.test</code>" not in page(
        browser_a, "/dashboard/integration/deliveries/?status=failed"
    )
    assert "<code>webhook.test</code>" not in page(browser_b, "/dashboard/integration/deliveries/")
    assert browser_b.get(f"/dashboard/integration/deliveries/{delivery.pk}/").status_code == 404
    assert (
        browser_b.post(f"/dashboard/integration/deliveries/{delivery.pk}/redeliver").status_code
        == 404
    )


def test_switching_mode_only_follows_dashboard_links(browser_a):
    answer = browser_a.post("/dashboard/mode", {"mode": "test", "next": "https://evil.example/"})
    assert answer["Location"] == "/dashboard/"


def test_the_dashboard_opens_in_test_mode_until_the_partner_has_live_keys_or_items(
    partner_a, partner_b
):
    partner_services.create_api_key(partner=partner_a, name="Sandbox", mode="test")
    overview = page(logged_in("ops@recopart.example", mode=None), "/dashboard/")
    assert "Test mode:" in overview
    assert "Nothing is listed on the real Tradera and nothing is really sold." in overview

    # A live key, even revoked, is a live partner's: it opens in live mode.
    issued = partner_services.create_api_key(partner=partner_a, name="Production", mode="live")
    partner_services.revoke_api_key(api_key=issued.api_key)
    assert "Test mode:" not in page(logged_in("ops@recopart.example", mode=None), "/dashboard/")

    # So does a live item, whatever keys are left.
    Item.objects.create(
        partner=partner_b, livemode=True, external_id="P1", title="x", price=1, shipping_cost=0
    )
    assert "Test mode:" not in page(logged_in("it@bildelarnorr.example", mode=None), "/dashboard/")


def test_a_chosen_mode_is_kept_for_the_session(partner_a):
    browser = logged_in("ops@recopart.example", mode=None)
    assert "Test mode:" in page(browser, "/dashboard/")
    switched = browser.post("/dashboard/mode", {"mode": "live"}, follow=True)
    assert "Now viewing live data" in switched.content.decode()
    partner_services.create_api_key(partner=partner_a, name="Sandbox", mode="test")
    assert "Test mode:" not in page(browser, "/dashboard/items/")
