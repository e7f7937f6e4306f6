# ruff: noqa: F811 - the sandbox fixtures of tests/tradera/conftest.py, used here

"""Relisting with real processes: the worker is SIGKILLed while it makes an unsold
auction's relist, at the riskiest moment (AddItemCommit sent, its answer not back), and
the item still gets exactly one new auction, linked to the one that ended."""

import base64
import hashlib
import time

import pytest
from django.conf import settings as django_settings

from items.models import Item
from rheo import crypto
from tests.conftest import needs_postgres, needs_redis
from tests.faults.conftest import auctions_by_item
from tests.faults.test_faults import published, wait_for
from tests.tradera.conftest import rheo_on_the_sandbox  # noqa: F401 - a fixture
from tradera import sync
from tradera.models import RelistRules, TraderaAccount, TraderaListing

pytestmark = [needs_postgres, needs_redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def processes_key(settings):
    """This test process reads the seller tokens the processes wrote (encrypted with a key
    derived from their SECRET_KEY, bench.common.app_env's)."""

    def derived(secret: str) -> str:
        digest = hashlib.sha256(b"rheo-encryption-key:" + secret.encode()).digest()
        return base64.urlsafe_b64encode(digest).decode()

    settings.RHEO_ENCRYPTION_KEYS = [
        derived("bench-secret-key-not-for-production"),
        derived(django_settings.SECRET_KEY),
    ]
    crypto._fernet.cache_clear()
    yield
    crypto._fernet.cache_clear()


@pytest.mark.usefixtures("rheo_on_the_sandbox", "processes_key")
def test_a_worker_killed_mid_relist_makes_no_second_auction(rheo, erp, sandbox, partner_a):
    RelistRules.objects.create(partner=partner_a, enabled=True, max_relists=1, step_percent=10)
    erp.put("P-1")
    assert wait_for(lambda: published(["P-1"], sandbox)), rheo.logs()
    first = TraderaListing.objects.get()
    commits = sandbox.calls().get("AddItemCommit", 0)

    # The relist's commit is answered only after 20 s: the worker is inside it when killed.
    sandbox.fail("timeout", operation="AddItemCommit", count=1, seconds=20)
    sandbox.end(first.tradera_item_id)
    # The sync records the unsold end and the relist in one transaction; its nudge goes to
    # this test's broker, not the processes': beat's sweeper finds the due publish.
    sync.sync_account(account_id=TraderaAccount.objects.get().pk)
    assert wait_for(lambda: sandbox.calls().get("AddItemCommit", 0) > commits), rheo.logs()
    assert TraderaListing.objects.get().committed  # saved before the commit was sent
    rheo["worker"].kill()  # SIGKILL to its whole process group
    time.sleep(0.5)
    rheo["worker"].start()

    def relisted() -> bool:
        listing = TraderaListing.objects.get()
        return listing.status == "active" and listing.tradera_item_id != first.tradera_item_id

    assert wait_for(relisted), rheo.logs()
    listing = TraderaListing.objects.get()
    assert (listing.relist_count, listing.previous_tradera_item_id) == (1, first.tradera_item_id)
    item = Item.objects.get()
    assert item.price == 855
    auctions = auctions_by_item(sandbox)[str(item.id)]
    # The sandbox's record: two committed auctions in all, one running, at the new price.
    assert sorted((a["state"], a["startPrice"]) for a in auctions) == [
        ("active", 855),
        ("ended", 950),
    ]
