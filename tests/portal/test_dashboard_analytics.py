"""The dashboard's Analytics and Subscription pages, on the known data set of the
Analytics API's tests: the same figures in tables, charts drawn as inline SVG, CSV."""

import csv
import io
import re

import pytest

from partners.models import Subscription
from tests.portal.test_analytics import dataset  # noqa: F401 - the shared data set
from tests.portal.test_dashboard import logged_in, page

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_a(dataset):  # noqa: F811
    return logged_in("ops@recopart.example")


NNBSP, NBSP = "\N{NARROW NO-BREAK SPACE}", "\N{NO-BREAK SPACE}"  # 1 100 kr


def table_rows(html: str, section: str) -> list[list[str]]:
    part = html.split(f'id="{section}"')[1].split("</section>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", part, re.S)
    return [
        [
            re.sub(r"<.*?>", "", cell).strip().replace(NNBSP, " ").replace(NBSP, " ")
            for cell in re.findall(r"<td.*?</td>", row, re.S)
        ]
        for row in rows
    ]


def test_the_analytics_page_shows_each_figure_in_a_table_beside_its_chart(browser_a):
    html = page(browser_a, "/dashboard/analytics/")
    assert html.count('<svg class="chart" role="img"') == 3
    revenue = [r for r in table_rows(html, "revenue") if r and r[-1] != "0 kr"]
    assert revenue == [
        ["2026-02", "1 100 kr", "0 kr", "1 100 kr"],
        ["2026-03", "0 kr", "800 kr", "800 kr"],
        ["2026-06", "2 500,50 kr", "0 kr", "2 500,50 kr"],
        ["2026-11", "600 kr", "450 kr", "1 050 kr"],
    ]
    assert table_rows(html, "manufacturers")[1:] == [
        ["Volvo", "7", "4", "3 349 kr"],
        ["Saab", "2", "1", "2 500,50 kr"],
        ["BMW", "0", "1", "600 kr"],
        ["(not given)", "1", "0", "0 kr"],
    ]
    assert table_rows(html, "categories")[1] == ["Bromsok", "4", "3", "2 899 kr"]
    assert re.search(r'id="sell-through">67 %<', html)
    assert re.search(r'id="median-days">40.0<', html)
    # The revenue chart: November's column is two segments, Tradera's and Rheo's.
    assert "Nov 26 Tradera: 600</title>" in html and "Nov 26 Rheo: 450</title>" in html


def test_each_table_downloads_as_csv(browser_a):
    answer = browser_a.get("/dashboard/analytics/revenue.csv")
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["Content-Disposition"] == 'attachment; filename="rheo-revenue-live.csv"'
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert rows[0] == [
        "month",
        "tradera_sek",
        "rheo_sek",
        "total_sek",
        "tradera_sales",
        "rheo_sales",
    ]
    assert rows[-1] == ["2026-11-01", "600.00", "450.00", "1050.00", "1", "1"]
    assert len(rows) == 13
    manufacturers = list(
        csv.reader(
            io.StringIO(browser_a.get("/dashboard/analytics/manufacturers.csv").content.decode())
        )
    )
    assert manufacturers[1] == ["Volvo", "7", "4", "3349.00"]
    categories = list(
        csv.reader(
            io.StringIO(browser_a.get("/dashboard/analytics/categories.csv").content.decode())
        )
    )
    assert categories[1] == ["1000860", "Bromsok", "4", "3", "2899.00"]
    assert browser_a.get("/dashboard/analytics/secrets.csv").status_code == 404


def test_test_mode_shows_test_figures(browser_a):
    browser_a.post("/dashboard/mode", {"mode": "test"})
    html = page(browser_a, "/dashboard/analytics/")
    assert [r for r in table_rows(html, "revenue") if r and r[-1] != "0 kr"] == [
        ["2026-11", "5 000 kr", "0 kr", "5 000 kr"]
    ]
    rows = list(
        csv.reader(io.StringIO(browser_a.get("/dashboard/analytics/revenue.csv").content.decode()))
    )
    assert rows[-1][1] == "5000.00"


def test_another_partner_sees_only_its_own_figures(dataset):  # noqa: F811
    html = page(logged_in("it@bildelarnorr.example"), "/dashboard/analytics/")
    assert [r for r in table_rows(html, "revenue") if r and r[-1] != "0 kr"] == [
        ["2026-11", "7 000 kr", "0 kr", "7 000 kr"]
    ]


def test_the_subscription_page_shows_usage_and_changes_the_plan(partner_a):
    browser = logged_in("ops@recopart.example")
    html = page(browser, "/dashboard/subscription/")
    assert "Free plan" in html
    assert table_rows(html, "current-plan")[1:] == [
        ["Items in draft or active", "0", "100"],
        ["API keys", "0", "3"],
    ]
    browser.post("/dashboard/subscription/change", {"action": "change", "plan": "starter"})
    subscription = Subscription.objects.get(partner=partner_a)
    assert subscription.plan.code == "starter"
    assert "You are on the Starter plan." in page(browser, "/dashboard/subscription/")

    browser.post("/dashboard/subscription/change", {"action": "cancel"})
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end
    assert "Cancelled: it ends" in page(browser, "/dashboard/subscription/")
    browser.post("/dashboard/subscription/change", {"action": "resume"})
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end


def test_a_plan_partners_may_not_choose_is_refused(partner_a):
    browser = logged_in("ops@recopart.example")
    answer = browser.post(
        "/dashboard/subscription/change", {"action": "change", "plan": "enterprise"}, follow=True
    )
    assert "No plan &#x27;enterprise&#x27; to choose" in answer.content.decode()
    assert Subscription.objects.get(partner=partner_a).plan.code == "free"
