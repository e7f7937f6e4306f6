"""A partner connects its live Tradera account through the token login, here the
sandbox's consent page standing in for Tradera's, over real HTTP."""

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.tradera.conftest import SANDBOX_APP, push
from tradera import client as tradera_client
from tradera.models import TraderaAccount, TraderaListing
from tradera.sandbox import __main__ as sandbox_main
from tradera.sandbox import server as sandbox_server_module

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rheo_on_the_sandbox")]

ACCEPT = "http://testserver/dashboard/integration/tradera/accept"


@pytest.fixture
def live_tradera_is_the_sandbox(settings, sandbox):
    """Live keys' Tradera pointed at the sandbox, with the sandbox's application. Its
    call budget is kept in this process: in Redis it would outlive the test and spend
    the live allowance (100 a day) of the runs that follow."""
    settings.REDIS_URL = ""
    settings.TRADERA_API_URL = sandbox.api_url
    settings.TRADERA_APP_ID = SANDBOX_APP["app_id"]
    settings.TRADERA_APP_KEY = SANDBOX_APP["app_key"]
    settings.TRADERA_PUBLIC_KEY = "rheo-sandbox-public-key"
    tradera_client.for_mode.cache_clear()
    yield
    tradera_client.for_mode.cache_clear()


@pytest.fixture
def browser(partner_a) -> Client:
    """partner_a's user on the dashboard, viewing live mode (partner_a has no live data
    yet, so the dashboard would open in test mode)."""
    browser = Client()
    browser.login(username="ops@recopart.example", password="pw-for-tests")  # noqa: S106
    browser.post("/dashboard/mode", {"mode": "live"})
    return browser


def consent_at_tradera(login_url: str, seller_name: str = "Recopart AB") -> str:
    """What the partner does on Tradera's page: log in and accept. Returns where
    Tradera sends the browser back to."""
    page = requests.get(login_url, timeout=5)
    assert page.status_code == 200
    assert "Accept" in page.text
    skey = parse_qs(urlsplit(login_url).query)["skey"][0]
    accepted = requests.post(
        urlsplit(login_url)._replace(query="").geturl(),
        data={"skey": skey, "name": seller_name, "redirect": ACCEPT},
        allow_redirects=False,
        timeout=5,
    )
    assert accepted.status_code == 302
    return accepted.headers["Location"]


def connect(browser) -> TraderaAccount:
    started = browser.post("/dashboard/integration/tradera/connect")
    assert started.status_code == 302
    back = consent_at_tradera(started["Location"])
    finished = browser.get(back.removeprefix("http://testserver"))
    assert finished.status_code == 302
    return TraderaAccount.objects.get(livemode=True)


def test_connecting_sends_the_partner_to_the_consent_page_with_our_application(
    live_tradera_is_the_sandbox, browser, sandbox
):
    started = browser.post("/dashboard/integration/tradera/connect")
    url = urlsplit(started["Location"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}/" == sandbox.url
    assert url.path == "/tokenlogin.aspx"
    assert query["appId"] == ["1"]
    assert query["pkey"] == ["rheo-sandbox-public-key"]
    assert 32 <= len(query["skey"][0]) <= 255


def test_after_consent_the_token_is_fetched_and_kept_encrypted_with_its_expiry(
    live_tradera_is_the_sandbox, browser, partner_a, sandbox
):
    account = connect(browser)
    assert account.partner == partner_a
    assert account.token_expires_at > timezone.now() + timedelta(days=300)
    assert account.token  # decrypted by the field
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM tradera_traderaaccount WHERE id = %s", [account.pk])
        stored = cursor.fetchone()[0]
    assert account.token not in stored
    page = browser.get("/dashboard/integration/")
    assert (
        f"Connected as Tradera seller <strong>{account.user_id}</strong>" in page.content.decode()
    )
    assert sandbox.calls()["FetchToken"] == 1


def test_a_connected_live_account_publishes_live_items(
    live_tradera_is_the_sandbox, browser, api_a, committed, worker, photo, sandbox
):
    account = connect(browser)
    push(api_a, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert listing.status == "active"
    assert sandbox.auction(listing.tradera_item_id)["sellerId"] == account.user_id


def test_an_accept_url_not_started_by_this_browser_connects_nothing(
    live_tradera_is_the_sandbox, browser, sandbox
):
    started = Client()
    started.login(username="ops@recopart.example", password="pw-for-tests")  # noqa: S106
    started.post("/dashboard/mode", {"mode": "live"})
    back = consent_at_tradera(started.post("/dashboard/integration/tradera/connect")["Location"])
    answer = browser.get(back.removeprefix("http://testserver"), follow=True)
    assert "was not started here" in answer.content.decode()
    assert not TraderaAccount.objects.filter(livemode=True).exists()


def test_a_login_tradera_does_not_know_connects_nothing(live_tradera_is_the_sandbox, browser):
    browser.post("/dashboard/integration/tradera/connect")
    answer = browser.get("/dashboard/integration/tradera/accept?userId=999999", follow=True)
    assert "Tradera did not hand over the login" in answer.content.decode()
    assert not TraderaAccount.objects.filter(livemode=True).exists()


def test_a_token_near_its_expiry_needs_attention_and_an_expired_one_fails_publishing(
    live_tradera_is_the_sandbox, browser, api_a, committed, worker, photo, sandbox, settings
):
    account = connect(browser)
    account.token_expires_at = timezone.now() + timedelta(days=settings.TRADERA_TOKEN_WARN_DAYS - 1)
    account.save()
    overview = browser.get("/dashboard/").content.decode()
    assert "The Tradera login expires on" in overview
    account.token_expires_at = timezone.now() - timedelta(minutes=1)
    account.save()
    assert "The Tradera login has expired" in browser.get("/dashboard/").content.decode()
    push(api_a, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert (listing.status, listing.error_code, listing.attempts) == (
        "sync_error",
        "tradera_token_expired",
        0,
    )
    assert sandbox.calls().get("AddItem") is None


def test_connecting_again_replaces_the_expired_token(live_tradera_is_the_sandbox, browser, sandbox):
    first = connect(browser)
    TraderaAccount.objects.filter(pk=first.pk).update(
        token_expires_at=timezone.now() - timedelta(days=1)
    )
    again = connect(browser)
    assert again.pk == first.pk
    assert again.token_expires_at > timezone.now()


# --- Test mode: the sandbox's own consent page, and back ------------------------------


def login_form(page_html: str) -> dict:
    """The hidden fields of the consent page's form, as a browser would send them."""
    return dict(re.findall(r"<input type=hidden name=(\w+) value='([^']*)'>", page_html))


def consent_in_browser(login_url: str, seller_name: str) -> str:
    """The partner's browser on the sandbox's login page: it accepts as `seller_name`,
    sending what the page's form holds. Returns where the sandbox sends it back to."""
    page = requests.get(login_url, timeout=5)
    assert page.status_code == 200
    form = {**login_form(html.unescape(page.text)), "name": seller_name}
    accepted = requests.post(
        urlsplit(login_url)._replace(query="").geturl(), data=form, allow_redirects=False, timeout=5
    )
    assert accepted.status_code == 302
    return accepted.headers["Location"]


def test_in_test_mode_a_sandbox_seller_is_connected_through_the_sandboxs_page_and_back(
    browser, sandbox, partner_a, api_a_test, committed, worker, photo, settings
):
    assert settings.TRADERA_APP_ID == 0  # as under make run: no live Tradera application
    browser.post("/dashboard/mode", {"mode": "test"})
    page = browser.get("/dashboard/integration/").content.decode()
    assert "Connect a sandbox Tradera account" in page

    started = browser.post("/dashboard/integration/tradera/connect", HTTP_HOST="localhost:9000")
    url = urlsplit(started["Location"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}/" == sandbox.url
    assert url.path == "/tokenlogin.aspx"
    assert (query["appId"], query["pkey"]) == (["1"], ["rheo-sandbox-public-key"])
    # The way back is built from the request: whatever host and port Rheo answers on.
    assert query["redirect"] == ["http://localhost:9000/dashboard/integration/tradera/accept"]

    back = urlsplit(consent_in_browser(started["Location"], "Recopart sandbox"))
    assert (back.scheme, back.netloc, back.path) == (
        "http",
        "localhost:9000",
        "/dashboard/integration/tradera/accept",
    )
    seller = sandbox.seller("Recopart sandbox")  # the one consented as (same name, same id)
    assert parse_qs(back.query) == {"userId": [str(seller.user_id)]}

    done = browser.get(f"{back.path}?{back.query}", HTTP_HOST="localhost:9000", follow=True)
    text = done.content.decode()
    assert f"Sandbox Tradera seller {seller.user_id} is connected" in text
    assert "connected through the sandbox's login page" in text
    account = TraderaAccount.objects.get(partner=partner_a, livemode=False)
    assert account.user_id == seller.user_id
    assert account.token_expires_at > timezone.now()
    assert not TraderaAccount.objects.filter(livemode=True).exists()
    assert sandbox.calls()["FetchToken"] == 1

    # Test items now publish as the connected sandbox seller.
    push(api_a_test, committed, photo)
    worker()
    listing = TraderaListing.objects.get()
    assert sandbox.auction(listing.tradera_item_id)["sellerId"] == seller.user_id


def test_connecting_a_sandbox_seller_replaces_the_one_made_for_the_partner(
    browser, sandbox, partner_a, api_a_test, committed, worker, photo
):
    push(api_a_test, committed, photo)
    worker()
    made = TraderaAccount.objects.get(partner=partner_a, livemode=False)
    browser.post("/dashboard/mode", {"mode": "test"})
    assert (
        f"as sandbox seller <strong>{made.user_id}</strong>, made for you on the first publish"
        in browser.get("/dashboard/integration/").content.decode()
    )
    started = browser.post("/dashboard/integration/tradera/connect")
    back = consent_in_browser(started["Location"], "Recopart sandbox")
    browser.get(back.removeprefix("http://testserver"))
    account = TraderaAccount.objects.get(partner=partner_a, livemode=False)
    assert account.pk == made.pk
    assert account.user_id == sandbox.seller("Recopart sandbox").user_id != made.user_id
    assert account.synced_until is None


def test_live_mode_without_a_tradera_application_says_so_instead_of_a_dead_link(browser, settings):
    assert settings.TRADERA_APP_ID == 0
    page = browser.get("/dashboard/integration/").content.decode()
    assert "Live Tradera is not configured on this server." in page
    assert "TRADERA_APP_ID" in page
    assert "http://testserver/dashboard/integration/tradera/accept" in page
    assert "switch to test data" in page
    assert "dashboard/integration/tradera/connect" not in page  # no button to a dead end
    answer = browser.post("/dashboard/integration/tradera/connect")
    assert answer["Location"] == "/dashboard/integration/"
    followed = browser.get("/dashboard/integration/").content.decode()
    assert "Live Tradera is not configured on this server: set TRADERA_APP_ID" in followed
    assert "tokenlogin.aspx" not in followed


def test_the_accept_url_the_docs_state_is_the_dashboards_and_the_sandboxs_default():
    assert reverse("dashboard:tradera-accept") == "/dashboard/integration/tradera/accept"
    assert sandbox_server_module.ACCEPT_PATH == "/dashboard/integration/tradera/accept"
    assert sandbox_main.default_accept_url({}) == (
        "http://127.0.0.1:8000/dashboard/integration/tradera/accept"
    )
    assert sandbox_main.default_accept_url({"RHEO_PUBLIC_URL": "http://127.0.0.1:9000/"}) == (
        "http://127.0.0.1:9000/dashboard/integration/tradera/accept"
    )


def test_the_sandbox_login_without_a_redirect_goes_back_to_its_default_accept_url(sandbox):
    skey = "k" * 40
    page = requests.get(
        f"{sandbox.url}tokenlogin.aspx?appId=1&pkey=rheo-sandbox-public-key&skey={skey}", timeout=5
    )
    form = {**login_form(html.unescape(page.text)), "name": "Someone"}
    accepted = requests.post(
        f"{sandbox.url}tokenlogin.aspx", data=form, allow_redirects=False, timeout=5
    )
    seller = sandbox.seller("Someone")
    assert accepted.headers["Location"] == (
        f"http://127.0.0.1:8000/dashboard/integration/tradera/accept?userId={seller.user_id}"
    )
