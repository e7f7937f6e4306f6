"""What the dashboard and the staff admin look like to a person: one money format,
grouped counts, Swedish times that say so, a delivery's request as it was sent, the retry
schedule as it really is, and the admin's names. (The layout at 1280 and 390 px is
tests/e2e/test_look.py's.)"""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.test import Client

from partners.models import User
from portal.dashboard import charts
from tests.conftest import item_body
from tests.items.imagehost import ImageHost, jpeg_bytes
from tests.portal.test_dashboard import logged_in
from tests.webhooks.conftest import Receiver
from webhooks import services as webhooks
from webhooks.models import Delivery, all_event_types

pytestmark = pytest.mark.django_db

NNBSP, NBSP = "\N{NARROW NO-BREAK SPACE}", "\N{NO-BREAK SPACE}"


@pytest.fixture
def browser(partner_a) -> Client:
    return logged_in("ops@recopart.example")


def test_prices_plan_limits_and_times_read_one_way(browser, api_a, committed, worker, clock):
    host = ImageHost()
    try:
        with committed():
            api_a.put(
                "CAL-1", item_body(imageUrls=[host.serve("/1.jpg", jpeg_bytes())], price=1100)
            )
        worker()
    finally:
        host.close()
    items = browser.get("/dashboard/items/").content.decode()
    assert f"1{NNBSP}100{NBSP}kr" in items and "1100.00" not in items
    # The clock says 12:00 UTC on 23 November: 13:00 in Stockholm, winter time.
    assert "2026-11-23 13:00 CET" in items
    plans = browser.get("/dashboard/subscription/").content.decode()
    assert f"10{NNBSP}000" in plans and "10000" not in plans
    assert f"995{NBSP}kr" in plans


def test_the_api_keeps_utc_timestamps(dashboard_a, api_a):
    keys = dashboard_a.get("/api/v1/api-keys").json()
    assert keys and all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", key["createdAt"]) for key in keys
    )


def test_an_empty_revenue_chart_invents_no_scale():
    months = [("Nov 26", {}), ("Dec 26", {})]
    series = [charts.Series("rheo", "Rheo", "#000")]
    empty = charts.stacked_columns(months, series, title="t")
    assert "No sales in these months" in empty
    assert not re.search(r'text-anchor="end"[^>]*>\d', empty)  # no axis numbers at all
    sold = charts.stacked_columns([("Nov 26", {"rheo": Decimal(1100)})], series, title="t")
    assert re.findall(r'text-anchor="end" font-size="10">([^<]+)<', sold) == [
        "0",
        "500",
        f"1{NNBSP}000",
        f"1{NNBSP}500",
        f"2{NNBSP}000",
    ]


def test_a_delivery_shows_its_body_indented_and_the_headers_it_was_sent_with(
    browser, partner_a, committed, worker
):
    receiver = Receiver()
    try:
        webhooks.configure_endpoint(
            partner=partner_a,
            livemode=True,
            url=receiver.url(),
            enabled=True,
            event_types=all_event_types(),
        )
        with committed():
            browser.post("/dashboard/integration/webhooks/test")
        worker()
        [sent] = receiver.received
    finally:
        receiver.close()
    delivery = Delivery.objects.get()
    html = browser.get(f"/dashboard/integration/deliveries/{delivery.pk}/").content.decode()
    body = json.loads(sent.body)
    assert f"  &quot;eventType&quot;: &quot;{body['eventType']}&quot;,\n" in html
    headers = html.split('id="request-headers"')[1].split("</table>")[0]
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "User-Agent"):
        assert f"<code>{sent.headers[name]}</code>" in headers


def test_the_webhook_page_quotes_the_real_retry_schedule(browser):
    html = browser.get("/dashboard/integration/webhooks/").content.decode()
    hours = round(webhooks.RETRY_SPAN / timedelta(hours=1))
    assert hours == 36  # the docs say "about 36 hours": change both together
    assert f"up to {len(webhooks.RETRY_DELAYS)} times over about {hours} hours" in html


def test_the_staff_admin_is_branded_with_plain_names_and_filters(db):
    User.objects.create_superuser(email="staff@rheo.example", password="pw-for-staff")
    staff = Client()
    staff.login(username="staff@rheo.example", password="pw-for-staff")
    index = staff.get("/admin/").content.decode()
    assert "Rheo staff admin" in index and "Django administration" not in index
    assert "API keys" in index and "Deliveries" in index and "Tradera listings" in index
    items = staff.get("/admin/items/item/").content.decode()
    titles = re.findall(r"<summary>\s*(By [^<]+?)\s*</summary>", items)
    assert titles[:3] == ["By Rheo status", "By Tradera status", "By mode: live/test"]
    assert len(set(titles)) == len(titles)


def test_every_model_has_a_proper_plural():
    for model in apps.get_models():
        plural = str(model._meta.verbose_name_plural)
        assert not re.search(r"[^aeiou]ys$", plural), model
        assert not re.search(r"\b(api|tradera)\b", plural), model
