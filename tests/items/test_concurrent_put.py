from items.models import Item
from partners import subscriptions
from tests.conftest import integration, item_body, needs_postgres
from tests.rheo.test_rate_limits import fire_concurrently


@needs_postgres
def test_fifty_concurrent_puts_of_one_id_make_exactly_one_item(
    transactional_db, live_server, partner_a
):
    # One key per request, so the per-key rate limit lets all fifty through (a plan with
    # room for fifty keys).
    subscriptions.change_plan(partner=partner_a, plan_code="enterprise", staff=True)
    requests_ = [(integration(partner_a).key, item_body(price=100 + i)) for i in range(50)]

    statuses = fire_concurrently(
        f"{live_server.url}/integration/v1/items/ERP_PART_12345", requests_, method="put"
    )

    assert statuses == [202] * 50
    assert Item.objects.filter(external_id="ERP_PART_12345").count() == 1
    assert 100 <= Item.objects.get().price < 150
