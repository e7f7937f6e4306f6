"""The application's call budget: exact across threads (and so processes) on Redis, a
share only the sync may spend, deferral until the window frees a call, and every client
call paid for from it."""

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from tests.conftest import needs_redis
from tests.tradera.conftest import SANDBOX_APP
from tradera.client import TraderaClient, TraderaError
from tradera.quota import CallBudget, Deferred, Spent


def redis_budget(**options) -> CallBudget:
    return CallBudget(f"test-{uuid.uuid4().hex}", redis_url=settings.REDIS_URL, **options)


def local_budget(**options) -> CallBudget:
    return CallBudget("local", **options)


BUDGETS = [
    pytest.param(redis_budget, marks=needs_redis, id="redis"),
    pytest.param(local_budget, id="in-process"),
]


@pytest.mark.parametrize("make", BUDGETS)
def test_publishing_can_never_spend_the_sync_reserve(make):
    budget = make(allowance=10, sync_reserve=0.2)

    published = [budget.spend("publish") for _ in range(9)]
    synced = [budget.spend("sync") for _ in range(3)]

    assert [isinstance(s, Spent) for s in published] == [True] * 8 + [False] * 1
    assert [isinstance(s, Spent) for s in synced] == [True, True, False]
    assert [s.remaining for s in published[:8]] == [7, 6, 5, 4, 3, 2, 1, 0]


@pytest.mark.parametrize("make", BUDGETS)
def test_spent_work_is_deferred_until_the_oldest_call_leaves_the_window(make):
    budget = make(allowance=3, sync_reserve=0, window_seconds=3600)
    before = datetime.now(UTC)
    for _ in range(3):
        budget.spend("sync")

    deferred = budget.spend("sync")

    assert isinstance(deferred, Deferred)
    expected = before + timedelta(hours=1)
    assert expected <= deferred.until <= expected + timedelta(seconds=2)
    assert 3590 < deferred.seconds <= 3600


@pytest.mark.parametrize("make", BUDGETS)
def test_calls_are_counted_per_operation_for_admin(make):
    budget = make(allowance=10)
    budget.spend("publish", operation="AddItem")
    budget.spend("publish", operation="AddItem")
    budget.spend("sync", 2, operation="GetSellerOrders")

    assert budget.usage() == {"AddItem": 2, "GetSellerOrders": 2}
    assert budget.used() == 4


@needs_redis
def test_the_budget_is_exact_under_concurrency():
    budget = redis_budget(allowance=100, sync_reserve=0.2)
    results: list = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def spend_many(purpose, attempts):
        start.wait()
        for _ in range(attempts):
            outcome = budget.spend(purpose)
            with lock:
                results.append((purpose, outcome))

    # The sync alone tries more calls than the allowance, so however the threads
    # interleave, the window ends exactly full.
    threads = [threading.Thread(target=spend_many, args=("publish", 10)) for _ in range(15)]
    threads += [threading.Thread(target=spend_many, args=("sync", 30)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    spent = [purpose for purpose, outcome in results if isinstance(outcome, Spent)]
    assert len(spent) == 100  # 300 attempts, exactly the allowance
    assert spent.count("publish") <= 80  # the reserve was the sync's, however the race went
    assert budget.used() == 100


@needs_redis
def test_two_budget_objects_of_one_name_share_the_count():
    name = f"shared-{uuid.uuid4().hex}"
    one = CallBudget(name, allowance=2, sync_reserve=0, redis_url=settings.REDIS_URL)
    other = CallBudget(name, allowance=2, sync_reserve=0, redis_url=settings.REDIS_URL)

    assert isinstance(one.spend("sync"), Spent)
    assert isinstance(other.spend("sync"), Spent)
    assert isinstance(one.spend("sync"), Deferred)


def test_the_client_defers_without_calling_tradera_once_the_budget_is_spent(sandbox, seller):
    budget = local_budget(allowance=1, sync_reserve=0)
    client = TraderaClient(sandbox.api_url, **SANDBOX_APP, timeout=1, budget=budget)
    client.end_item(seller, 1)

    with pytest.raises(TraderaError) as deferred:
        client.end_item(seller, 2)

    assert deferred.value.code == "budget_spent"
    assert deferred.value.deferred and not deferred.value.permanent
    assert deferred.value.retry_after > 86_000
    assert sandbox.calls() == {"EndItem": 1}


def test_publishing_calls_spend_the_publish_share_and_watching_calls_the_sync_share(
    sandbox, seller
):
    budget = local_budget(allowance=5, sync_reserve=0.4)  # publish 3, sync all 5
    client = TraderaClient(sandbox.api_url, **SANDBOX_APP, timeout=1, budget=budget)
    for _ in range(3):
        client.end_item(seller, 1)

    with pytest.raises(TraderaError):
        client.end_item(seller, 1)
    now = datetime.now(UTC)
    client.get_seller_items(seller, now, now)
    client.charged_to("sync").end_item(seller, 1)

    assert budget.usage() == {"EndItem": 4, "GetSellerItems": 1}


def test_traderas_429_stops_every_caller_until_its_retry_time(sandbox, seller):
    budget = local_budget(allowance=1000)
    client = TraderaClient(sandbox.api_url, **SANDBOX_APP, timeout=1, budget=budget)
    sandbox.fail("quota", operation="EndItem", seconds=600)

    with pytest.raises(TraderaError):
        client.end_item(seller, 1)

    later = budget.spend("sync")
    assert isinstance(later, Deferred) and 590 <= later.seconds <= 600


PUBLISH_CALLS = ["AddItem", "AddItemImage", "AddItemCommit", "GetRequestResults"]


@pytest.mark.parametrize("make", BUDGETS)
def test_calls_paid_ahead_count_once_each_and_unused_ones_are_given_back(make):
    budget = make(allowance=10, sync_reserve=0)

    prepaid = budget.spend_ahead("publish", PUBLISH_CALLS, ahead_seconds=60)
    assert budget.used() == 4
    budget.refund(prepaid, ["AddItemCommit", "GetRequestResults"])  # stopped half-way

    assert budget.used() == 2
    assert budget.usage() == {"AddItem": 1, "AddItemImage": 1}
    assert [isinstance(budget.spend("sync"), Spent) for _ in range(9)] == [True] * 8 + [False]


@pytest.mark.parametrize("make", BUDGETS)
def test_calls_paid_ahead_are_paid_all_together_or_not_at_all(make):
    budget = make(allowance=4, sync_reserve=0)
    budget.spend("sync")

    assert isinstance(budget.spend_ahead("publish", PUBLISH_CALLS, ahead_seconds=60), Deferred)
    assert budget.used() == 1
    # More than the share could ever hold: the caller pays them one by one instead.
    assert budget.spend_ahead("publish", [*PUBLISH_CALLS, "EndItem"], ahead_seconds=60) is None


@pytest.mark.parametrize("make", BUDGETS)
def test_calls_paid_ahead_stay_in_the_window_until_they_could_last_have_been_made(make):
    budget = make(allowance=2, sync_reserve=0, window_seconds=3600)
    before = datetime.now(UTC)
    budget.spend_ahead("publish", ["AddItem", "AddItemCommit"], ahead_seconds=60)

    deferred = budget.spend("publish")

    # Not before Tradera, counting from when the calls are made, lets one more through.
    assert isinstance(deferred, Deferred)
    assert deferred.until >= before + timedelta(hours=1, seconds=60)


def test_a_client_spends_what_it_paid_ahead_and_refunds_the_rest(sandbox, seller):
    budget = local_budget(allowance=10, sync_reserve=0)
    client = TraderaClient(sandbox.api_url, **SANDBOX_APP, timeout=1, budget=budget)
    job = client.paid_ahead(["EndItem", "EndItem", "SetPricesOnNonShopItems"])
    assert budget.used() == 3

    job.end_item(seller, 1)
    job.end_item(seller, 1)
    job.end_item(seller, 1)  # one more than paid: paid for on its own
    job.refund()

    assert budget.usage() == {"EndItem": 3} == sandbox.calls()
    assert budget.used() == 3
