"""The sandbox for people and for Rheo's wiring: the token login, the auctions page and
its buttons, the control endpoints, the command line, and `for_mode`."""

import socket
import subprocess
import sys
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings

from tests.tradera.conftest import auction
from tests.tradera.test_client_against_sandbox import publish
from tradera import client as tradera_client
from tradera.client import Seller, TraderaError


def test_a_seller_connects_through_the_token_login_and_fetch_token(sandbox, client):
    secret = str(uuid.uuid4())
    login = f"{sandbox.url}tokenlogin.aspx?appId=1&pkey=rheo-sandbox-public-key&skey={secret}"
    page = requests.get(login + "&redirect=http://rheo.test/tradera/accept", timeout=5)
    assert page.status_code == 200 and "Accept" in page.text

    accepted = requests.post(
        f"{sandbox.url}tokenlogin.aspx",
        data={"skey": secret, "name": "Recopart AB", "redirect": "http://rheo.test/tradera/accept"},
        allow_redirects=False,
        timeout=5,
    )

    assert accepted.status_code == 302
    target = urlsplit(accepted.headers["Location"])
    assert (target.netloc, target.path) == ("rheo.test", "/tradera/accept")
    user_id = int(parse_qs(target.query)["userId"][0])
    token = client.fetch_token(user_id, secret)
    assert token.hard_expiration.year >= 2026
    assert client.add_item(Seller(user_id, token.token), auction()).item_id


def test_fetch_token_with_another_secret_is_refused(sandbox, client, seller):
    with pytest.raises(TraderaError) as refused:
        client.fetch_token(seller.user_id, str(uuid.uuid4()))

    assert refused.value.code == "refused"


def test_the_token_login_refuses_an_unknown_application(sandbox):
    page = requests.get(
        f"{sandbox.url}tokenlogin.aspx?appId=9&pkey=x&skey={uuid.uuid4()}", timeout=5
    )

    assert "Unknown application" in page.text


def test_each_partner_gets_a_sandbox_seller_of_its_own_on_first_use(client):
    seller = client.sandbox_seller("partner-17")

    assert client.sandbox_seller("partner-17") == seller
    assert client.sandbox_seller("partner-18") != seller
    assert client.add_item(seller, auction()).item_id


def test_a_seller_per_name_created_on_first_use(sandbox):
    first = sandbox.seller("Partner 17 test")

    assert sandbox.seller("Partner 17 test") == first
    assert sandbox.seller("Partner 18 test") != first


def test_the_page_lists_auctions_and_its_buttons_bid_buy_and_end(sandbox, client, seller):
    bidding = publish(client, seller, auction(title="Strålkastare V70"))
    buying = publish(client, seller, auction(title="Backspegel XC60", buy_now_price=900))
    ending = publish(client, seller, auction(title="Turbo 850"))

    page = requests.get(sandbox.url, timeout=5).text
    assert all(t in page for t in ("Strålkastare V70", "Backspegel XC60", "Turbo 850"))

    for item_id, action, form in [
        (bidding.item_id, "bid", {"amount": "700"}),
        (buying.item_id, "buy-now", {}),
        (ending.item_id, "end", {}),
    ]:
        pressed = requests.post(
            f"{sandbox.url}page/auctions/{item_id}/{action}",
            data=form,
            allow_redirects=False,
            timeout=5,
        )
        assert pressed.status_code == 303

    assert sandbox.auction(bidding.item_id)["maxBid"] == 700
    assert sandbox.auction(buying.item_id)["sold"] is True
    assert sandbox.auction(ending.item_id)["state"] == "ended"


def test_reset_forgets_everything(sandbox, client, seller):
    queued = publish(client, seller)

    sandbox.reset()

    assert requests.get(f"{sandbox.url}control/auctions", timeout=5).json() == {"auctions": []}
    assert sandbox.calls() == {}
    assert (
        requests.get(f"{sandbox.url}control/auctions/{queued.item_id}", timeout=5).status_code
        == 404
    )


def test_bulk_seeding_makes_running_auctions_of_a_seller_at_once(sandbox, client, seller):
    seeded = requests.post(
        f"{sandbox.url}control/sellers/{seller.user_id}/auctions",
        json={"count": 500, "title": "Bromsok", "startPrice": 250},
        timeout=10,
    )

    assert seeded.status_code == 200
    ids = seeded.json()["itemIds"]
    assert len(ids) == len(set(ids)) == 500
    first = sandbox.auction(ids[0])
    assert (first["state"], first["title"], first["startPrice"]) == ("active", "Bromsok 1", 250)
    sandbox.end(ids[-1])
    assert client.add_item(seller, auction()).item_id not in ids  # ids go on after them
    stranger = requests.post(
        f"{sandbox.url}control/sellers/999999/auctions", json={"count": 1}, timeout=5
    )
    assert stranger.status_code == 409


def test_the_command_line_starts_a_sandbox_with_its_own_sqlite_file(tmp_path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    db = tmp_path / "sandbox.sqlite3"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tradera.sandbox",
            "--port",
            str(port),
            "--db",
            str(db),
            "--quota",
            "7",
        ],
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
    )
    try:
        answer = None
        for _ in range(50):
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/control/settings", timeout=1).json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert answer == {
            "speed": 1440.0,
            "processingSeconds": 2.0,
            "orderSeconds": 0.0,
            "quota": 7,
            "quotaWindowSeconds": 86400,
        }
        assert db.exists()
    finally:
        process.terminate()
        process.wait(5)


def test_test_keys_use_the_sandbox_and_live_keys_the_configured_tradera():
    tradera_client.for_mode.cache_clear()
    try:
        test_mode, live = tradera_client.for_mode(False), tradera_client.for_mode(True)
    finally:
        tradera_client.for_mode.cache_clear()

    assert test_mode.base_url == settings.TRADERA_SANDBOX_URL
    assert test_mode.credentials.sandbox is True
    assert test_mode.budget.allowance == settings.TRADERA_SANDBOX_DAILY_CALLS
    assert live.base_url == settings.TRADERA_API_URL == "https://api.tradera.com/v3/"
    assert live.credentials.sandbox is False
    assert live.budget.allowance == settings.TRADERA_DAILY_CALLS == 100
    assert live.budget.reserve == 20
