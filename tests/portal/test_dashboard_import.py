"""The dashboard's stock import pages: upload, the guessed mapping, the check with its
errors (and their CSV), the import, its progress as JSON, the results CSV."""

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from items.imports.models import StockImport
from items.models import Item
from tests.items.test_reconciliations import run_jobs
from tests.portal.test_dashboard import logged_in

pytestmark = pytest.mark.django_db

FILE = (
    "Artikelnr;Benämning;Pris;Frakt;Bild 1;Bild 2;Skick\n"
    "P1;Bromsok fram vänster;1 250,00;149;https://cdn.example.se/1.jpg;https://cdn.example.se/2.jpg;B\n"
    "P2;Backspegel höger;450;;https://cdn.example.se/3.jpg;;A\n"
    "P3;Strålkastare;gratis;99;https://cdn.example.se/4.jpg;;Q\n"
).encode("cp1252")


def upload(browser, data: bytes = FILE, name: str = "lager.csv"):
    return browser.post("/dashboard/items/import/", {"file": SimpleUploadedFile(name, data)})


def selected(page: str, column: int) -> str:
    select = re.search(rf'<select name="column-{column}".*?</select>', page, re.S)[0]
    found = re.search(r'<option value="([^"]*)" selected>', select)
    return found[1] if found else ""


def mapping_form(page: str, **defaults) -> dict:
    columns = len(re.findall(r'<select name="column-', page))
    return {f"column-{i}": selected(page, i) for i in range(columns)} | defaults


def test_upload_map_check_import_and_download_the_results(partner_a, committed, broker_messages):
    browser = logged_in("ops@recopart.example")
    assert "Import your stock" in browser.get("/dashboard/items/").content.decode()
    answer = upload(browser)
    assert answer.status_code == 302
    url = answer["Location"]

    page = browser.get(url).content.decode()
    assert "CSV (semicolons, Windows-1252)" in page
    assert "3 rows" in page
    assert [selected(page, i) for i in range(7)] == [
        "externalId",
        "title",
        "price",
        "shippingCost",
        "imageUrls",
        "imageUrls",
        "conditionGrade",
    ]
    assert "<code>Bromsok fram vänster</code>" in page  # the first values, to map by

    with committed():
        browser.post(url + "check", mapping_form(page, shipping_cost="79"))
    progress = browser.get(url + "progress").json()
    assert progress == progress | {"status": "validating", "phase": "check", "done": 0, "total": 3}
    run_jobs(broker_messages, committed)

    checked = browser.get(url).content.decode()
    assert re.search(r'id="count-created">2<', checked)
    assert re.search(r'id="count-invalid">1<', checked)
    assert "price: Must be a number." in checked
    assert not Item.objects.exists()
    errors = list(csv.reader(io.StringIO(b"".join(browser.get(url + "errors.csv")).decode())))
    assert [row[:3] for row in errors] == [
        ["line", "externalId", "outcome"],
        ["4", "P3", "invalid"],
    ]

    with committed():
        browser.post(url + "start")
    assert browser.get(url + "progress").json()["status"] == "importing"
    run_jobs(broker_messages, committed)

    progress = browser.get(url + "progress").json()
    assert progress["status"] == "imported"
    assert (progress["accepted"], progress["processed"], progress["published"]) == (2, 0, 0)
    assert progress["settled"] is False  # the images are still to come
    items = {item.external_id: item for item in Item.objects.all()}
    assert items["P2"].shipping_cost == 79  # the default for a row without one
    assert items["P1"].image_urls == [
        "https://cdn.example.se/1.jpg",
        "https://cdn.example.se/2.jpg",
    ]

    done = browser.get(url).content.decode()
    assert 'id="results-csv"' in done
    response = browser.get(url + "results.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [line[:4] for line in lines] == [
        ["line", "externalId", "outcome", "itemId"],
        ["2", "P1", "created", str(items["P1"].pk)],
        ["3", "P2", "created", str(items["P2"].pk)],
        ["4", "P3", "invalid", ""],
    ]
    timeline = browser.get(f"/dashboard/items/{items['P1'].pk}/").content.decode()
    assert "Received by import" in timeline


def test_a_bad_file_is_refused_with_a_clear_error(partner_a):
    browser = logged_in("ops@recopart.example")
    page = upload(browser, b"\x00\x01binary", "lager.csv")
    assert page.status_code == 200
    assert "This is not a text file. Upload a CSV or an XLSX file." in page.content.decode()
    page = upload(browser, b"not a workbook", "lager.xlsx")
    assert "This is not a readable XLSX file" in page.content.decode()
    assert not StockImport.objects.exists()


def test_a_mapping_without_an_external_id_is_refused_on_the_page(partner_a):
    browser = logged_in("ops@recopart.example")
    url = upload(browser)["Location"]
    form = mapping_form(browser.get(url).content.decode()) | {"column-0": ""}
    page = browser.post(url + "check", form, follow=True).content.decode()
    assert "Choose the column that holds your external id." in page
    assert StockImport.objects.get().status == "mapping"


def test_the_import_writes_the_mode_the_dashboard_is_in(partner_a, committed, broker_messages):
    browser = logged_in("ops@recopart.example", mode="test")
    url = upload(browser)["Location"]
    with committed():
        browser.post(url + "check", mapping_form(browser.get(url).content.decode()))
    run_jobs(broker_messages, committed)
    with committed():
        browser.post(url + "start")
    run_jobs(broker_messages, committed)
    assert set(Item.objects.values_list("livemode", flat=True)) == {False}
    live = logged_in("ops@recopart.example", mode="live")
    assert live.get(url).status_code == 404  # a test import is not in live mode


def test_another_partners_import_is_not_found(partner_a, partner_b):
    url = upload(logged_in("ops@recopart.example"))["Location"]
    other = logged_in("it@bildelarnorr.example")
    for path in ("", "progress", "errors.csv", "results.csv"):
        assert other.get(url + path).status_code == 404
    assert other.post(url + "check").status_code == 404
    assert other.post(url + "start").status_code == 404
