"""A partner connects its live Tradera account through the token login, here the
sandbox's consent page standing in for Tradera's, over real HTTP."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.utils import timezone

from tests.tradera.conftest import SANDBOX_APP, push
from tradera import client as tradera_client
from tradera.models import TraderaAccount, TraderaListing

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
    browser = Client()
    browser.login(username="ops@recopart.example", password="pw-for-tests")  # noqa: S106
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
