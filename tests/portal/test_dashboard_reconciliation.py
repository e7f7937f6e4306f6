"""The dashboard's reconciliation: paste or upload the ids, see the preview, apply (with
force when the guard trips), follow the progress."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from items.models import Item
from tests.items.market import listed
from tests.items.test_reconciliations import run_jobs
from tests.portal.test_dashboard import logged_in

pytestmark = pytest.mark.django_db


def test_paste_preview_force_apply_and_see_it_done(partner_a, committed, broker_messages):
    for external_id in ("P1", "P2", "P3"):
        listed(partner_a, external_id)
    browser = logged_in("ops@recopart.example")
    assert "Reconcile with your complete stock" in browser.get("/dashboard/items/").content.decode()

    answer = browser.post("/dashboard/items/reconcile/", {"ids": "P1\nP2\nNEW1\n"})
    assert answer.status_code == 302
    page = browser.get(answer["Location"]).content.decode()
    assert re.search(r'id="absent-count">1<', page)
    assert "<code>P3</code>" in page
    assert 'name="force"' in page  # 1 of 3 listed items is more than 10 %

    apply_url = answer["Location"] + "apply"
    refused = browser.post(apply_url, follow=True).content.decode()
    assert "Was your list complete?" in refused
    assert "more than the guard" in refused
    assert Item.objects.get(external_id="P3").status == "active"

    with committed():
        browser.post(apply_url, {"force": "on"})
    applying = browser.get(answer["Location"]).content.decode()
    assert '<meta http-equiv="refresh"' in applying
    assert "0 of 1 done" in applying
    run_jobs(broker_messages, committed)

    done = browser.get(answer["Location"]).content.decode()
    assert "1 of 1 done: 1 de-listed, 0 skipped" in done
    assert 'id="reconciliation-status">applied<' in done
    assert Item.objects.get(external_id="P3").status == "not_listed"
    assert {i.status for i in Item.objects.exclude(external_id="P3")} == {"active"}


def test_a_csv_file_is_read_by_its_external_id_column(partner_a):
    listed(partner_a, "P1")
    listed(partner_a, "P2")
    browser = logged_in("ops@recopart.example")
    upload = SimpleUploadedFile("stock.csv", b"externalId,title\nP1,Caliper\n", "text/csv")
    answer = browser.post("/dashboard/items/reconcile/", {"file": upload})
    page = browser.get(answer["Location"]).content.decode()
    assert re.search(r'id="absent-count">1<', page)
    assert "<code>P2</code>" in page


def test_an_empty_list_is_refused_on_the_form(partner_a):
    page = logged_in("ops@recopart.example").post("/dashboard/items/reconcile/", {"ids": "\n"})
    assert page.status_code == 200
    assert "Paste your external ids or choose a CSV file." in page.content.decode()


def test_another_partners_reconciliation_is_not_found(partner_a, partner_b):
    listed(partner_a, "P1")
    answer = logged_in("ops@recopart.example").post("/dashboard/items/reconcile/", {"ids": "P1"})
    other = logged_in("it@bildelarnorr.example")
    assert other.get(answer["Location"]).status_code == 404
    assert other.post(answer["Location"] + "apply").status_code == 404
