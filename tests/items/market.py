"""The marketplace's test helpers: parts a partner has listed, a buyer and their hands on
the public pages, staff in admin."""

import re

from django.test import Client

from items import lifecycle, orders, services
from items.api.serializers import ItemInputSerializer
from items.models import Item, Order
from tests.conftest import item_body

BUYER = orders.Buyer(
    name="Anna Svensson",
    email="anna@example.se",
    address_line1="Storgatan 1",
    postal_code="411 05",
    city="Göteborg",
)

ORDER_FORM = {
    "name": "Anna Svensson",
    "email": "anna@example.se",
    "phone": "070-123 45 67",
    "address_line1": "Storgatan 1",
    "address_line2": "",
    "postal_code": "41105",
    "city": "Göteborg",
}


def listed(partner, external_id: str = "P1", *, livemode: bool = True, **fields) -> Item:
    """The partner pushes the part (as a PUT would) and its images are ready (what the
    image pipeline does then): it is active."""
    body = ItemInputSerializer(data=item_body(autoPublishTradera=False, **fields))
    body.is_valid(raise_exception=True)
    item = services.upsert_item(
        partner=partner,
        livemode=livemode,
        external_id=external_id,
        content=body.to_content(),
        auto_publish_tradera=False,
    ).item
    lifecycle.transition_item(item=item, status=Item.Status.ACTIVE)
    return item


def order_on_page(client: Client, item: Item, **fields):
    """A buyer fills in the item page's order form and sends it."""
    return client.post(f"/parts/{item.id}/order/", {**ORDER_FORM, **fields})


def order_placed(item: Item) -> Order:
    return orders.place_order(item_id=item.id, buyer=BUYER)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]


def titles(page: str) -> list[str]:
    """The part titles the front page lists, in order."""
    return re.findall(r'<span class="market-card-title">([^<]*)</span>', page)
