"""A Tradera sale on the dashboard's item page and in analytics: one line, one money
format (from an auction that really ran on the sandbox)."""

import pytest
from django.test import Client

from items.models import Item
from tests.tradera.conftest import push

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rheo_on_the_sandbox")]

NNBSP, NBSP = "\N{NARROW NO-BREAK SPACE}", "\N{NO-BREAK SPACE}"


def test_a_tradera_sale_reads_as_one_line_and_one_money_format(
    api_a_test, partner_a, committed, worker, photo
):
    push(api_a_test, committed, photo)
    worker()
    with committed():
        api_a_test._call("post", "ERP_PART_12345/simulate", {"event": "sold", "salePrice": 1100})
    worker()
    item = Item.objects.get()
    browser = Client()
    browser.post(
        "/dashboard/login/", {"username": "ops@recopart.example", "password": "pw-for-tests"}
    )
    browser.post("/dashboard/mode", {"mode": "test"})

    html = browser.get(f"/dashboard/items/{item.pk}/").content.decode()
    tradera = html.split('id="tradera"')[1].split("</section>")[0]
    assert tradera.count("Sold") == 1
    assert f"on Tradera for 1{NNBSP}100{NBSP}kr to simulerad." in tradera
    # The timeline: one dot an entry; its message in the same format.
    assert f"Sold on Tradera for 1{NNBSP}100{NBSP}kr" in html

    analytics = browser.get("/dashboard/analytics/").content.decode()
    assert f"1{NNBSP}100{NBSP}kr" in analytics
    assert not any(raw in analytics for raw in (">1100<", "1100.00", "0.00"))
