"""A partner imports its stock in a real browser: uploads its ERP's CSV, checks the guessed
column mapping, sees the check's counts and errors, imports, and watches the progress bars
move (polled by the page's script, no reload) until every item is accepted and processed.

The job's steps run here, one chunk at a time, between the page's polls (what a worker
would run), and the images through the test worker; the test waits on the page."""

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import Select, WebDriverWait

from items.imports import services as imports
from items.imports.models import StockImport
from items.models import Item
from partners import subscriptions
from tests.e2e.test_dashboard_flow import log_in
from tests.items.imagehost import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 150  # two chunks of the batch service's 100


def stock_file(path, photo: str) -> str:
    lines = ["Artikelnr;Benämning;Pris;Frakt;Bild;Skick"]
    lines += [f"ERP-{n:04};Bromsok {n};{400 + n},50;149;{photo};B" for n in range(1, ROWS + 1)]
    lines.append("ERP-BAD;Spegel;gratis;149;;Q")
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))  # as a Windows ERP writes it
    return str(path)


def bar(page, name: str) -> int:
    return int(page.find(f"#bar-{name}").get_attribute("value"))


def wait_for(page, condition, timeout: float = 15):
    # The page reloads itself once a phase ends: an element read as it goes is read again.
    return WebDriverWait(
        page.driver,
        timeout,
        poll_frequency=0.2,
        ignored_exceptions=[StaleElementReferenceException],
    ).until(lambda _d: condition())


def test_import_a_stock_file_and_watch_it_go_live(
    page, partner_a, worker, photos, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path / "media"
    subscriptions.change_plan(partner=partner_a, plan_code="enterprise", staff=True)  # > 100
    photo = photos.serve("/part.jpg", jpeg_bytes(size=(400, 300)))
    log_in(page)
    page.click_text("Items", "a")
    page.click_text("Import your stock", "a")
    page.screenshot("upload")
    page.find("#id_file").send_keys(stock_file(tmp_path / "lager.csv", photo))
    page.click_text("Upload", "button")

    # The mapping, guessed from the Swedish headers.
    assert "CSV (semicolons, Windows-1252)" in page.text()
    guessed = [
        Select(s).first_selected_option.get_attribute("value") for s in page.find_all("select")
    ]
    assert guessed == [
        "externalId",
        "title",
        "price",
        "shippingCost",
        "imageUrls",
        "conditionGrade",
    ]
    page.screenshot("mapping")
    page.click("#check-button")
    stock_import = StockImport.objects.get()
    assert page.find("#import-status").text == "validating"
    assert bar(page, "done") == 0

    # The check, a chunk at a time: the bar follows without a reload.
    checking = page.find("#progress")
    imports.run_job(import_id=stock_import.pk, chunks=1)
    wait_for(page, lambda: bar(page, "done") == 100)
    assert checking.is_displayed()  # the same page: not reloaded
    imports.run_job(import_id=stock_import.pk, chunks=1)
    imports.run_job(import_id=stock_import.pk, chunks=1)  # nothing left: validated
    wait_for(page, lambda: page.find("#import-status").text == "validated")
    assert page.text("#count-created") == str(ROWS)
    assert page.text("#count-invalid") == "1"
    assert "ERP-BAD" in page.text(".import-errors")
    assert "price: Must be a number." in page.text(".import-errors")
    assert not Item.objects.exists()  # the check wrote nothing
    page.screenshot("checked")

    page.click("#import-button")
    assert page.find("#import-status").text == "importing"
    importing = page.find("#progress")
    imports.run_job(import_id=stock_import.pk, chunks=1)
    wait_for(page, lambda: bar(page, "accepted") == 100)
    assert importing.is_displayed()
    page.screenshot("importing")
    imports.run_job(import_id=stock_import.pk, chunks=1)
    imports.run_job(import_id=stock_import.pk, chunks=1)
    wait_for(page, lambda: page.find("#import-status").text == "imported")
    assert bar(page, "accepted") == ROWS
    assert page.text("#failed") == "1"

    # The images: the processed bar fills as the image worker makes items active.
    assert page.text("#progress-note") != "Done."
    worker()
    wait_for(page, lambda: bar(page, "processed") == ROWS)
    wait_for(page, lambda: page.text("#progress-note") == "Done.")
    page.screenshot("imported")
    assert Item.objects.filter(status="active", livemode=False).count() == ROWS  # test mode
    link = page.find("#results-csv").get_attribute("href")
    assert link.endswith(f"/dashboard/items/import/{stock_import.pk}/results.csv")
