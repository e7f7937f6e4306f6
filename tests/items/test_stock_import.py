"""The stock import's services and job: rows stored at upload, the mapping remembered per
partner, a check that writes nothing, the import in chunks of 100 through the batch
service, resumed after a worker dies, and the results as CSV."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone
from openpyxl import Workbook

from items.imports import services as imports
from items.imports.models import ImportMapping, ImportRow, StockImport
from items.models import Item, ItemActivity
from partners import subscriptions
from rheo.celery import app as celery_app
from rheo.errors import ServiceError
from tests.conftest import item_body
from tests.items.test_reconciliations import run_jobs

pytestmark = pytest.mark.django_db

HEADER = "Artikelnr;Benämning;Pris;Frakt;Bild;Skick\n"


def stock_csv(count: int, *, start: int = 1, price: int = 450, extra: str = "") -> bytes:
    rows = "".join(
        f"P{n:04};Bromsok {n};{price};149;https://cdn.example.se/{n}.jpg;B\n"
        for n in range(start, start + count)
    )
    return (HEADER + rows + extra).encode("cp1252")


def uploaded(partner, data: bytes, *, livemode: bool = True) -> StockImport:
    return imports.create_import(partner=partner, livemode=livemode, name="lager.csv", data=data)


def check(partner, stock_import: StockImport, mapping=None, defaults=None) -> StockImport:
    return imports.start_check(
        partner=partner,
        livemode=stock_import.livemode,
        import_id=stock_import.pk,
        mapping=mapping or stock_import.mapping,
        defaults=defaults or {},
    )


def start(partner, stock_import: StockImport) -> StockImport:
    return imports.start_import(
        partner=partner, livemode=stock_import.livemode, import_id=stock_import.pk
    )


def fresh(stock_import: StockImport) -> StockImport:
    return StockImport.objects.get(pk=stock_import.pk)


def test_the_upload_stores_every_row_and_guesses_the_mapping(partner_a):
    stock_import = uploaded(partner_a, stock_csv(3))
    assert stock_import.status == "mapping"
    assert stock_import.file_format == "CSV (semicolons, Windows-1252)"
    assert stock_import.row_count == 3
    assert stock_import.mapping == [
        "externalId",
        "title",
        "price",
        "shippingCost",
        "imageUrls",
        "conditionGrade",
    ]
    rows = ImportRow.objects.filter(stock_import=stock_import).order_by("number")
    assert [(r.number, r.cells[0]) for r in rows] == [(2, "P0001"), (3, "P0002"), (4, "P0003")]
    assert not Item.objects.exists()


def test_the_mapping_is_remembered_for_the_partners_next_upload(partner_a, partner_b, committed):
    first = uploaded(partner_a, stock_csv(1))
    mapping = ["externalId", "description", "price", "shippingCost", "imageUrls", ""]
    with committed():
        check(partner_a, first, mapping)
    assert ImportMapping.objects.get(partner=partner_a).columns["benämning"] == "description"

    second = uploaded(partner_a, stock_csv(1))
    assert second.mapping == mapping  # "Skick" stays left out, "Benämning" is a description
    assert uploaded(partner_b, stock_csv(1)).mapping[1] == "title"  # another partner's guess


def test_a_mapping_without_the_external_id_is_refused(partner_a):
    stock_import = uploaded(partner_a, stock_csv(1))
    with pytest.raises(ServiceError) as raised:
        check(partner_a, stock_import, ["", "title", "price", "shippingCost", "imageUrls", ""])
    assert raised.value.fields == {"mapping": ["Choose the column that holds your external id."]}


def test_the_check_writes_nothing_but_says_what_would_happen(
    partner_a, api_a, committed, broker_messages
):
    api_a.put("P0001")  # the file's price differs: it would be updated
    broker_messages("images")
    activities = ItemActivity.objects.count()
    bad = "P0900;Spegel;gratis;149;http://insecure.example/1.jpg;Q\n;Utan id;100;0;https://x.example/1.jpg;A\n"
    stock_import = uploaded(partner_a, stock_csv(3, extra=bad))

    with committed():
        check(partner_a, stock_import)
    assert run_jobs(broker_messages, committed) == ["items.run_stock_import"]

    stock_import = fresh(stock_import)
    assert stock_import.status == "validated"
    assert imports.counts_of(stock_import.check_counts) == {
        "created": 2,
        "updated": 1,
        "unchanged": 0,
        "stale": 0,
        "invalid": 2,
        "refused": 0,
    }
    assert Item.objects.count() == 1
    assert Item.objects.get().price == 950  # not updated
    assert ItemActivity.objects.count() == activities
    assert broker_messages("images") == []
    errors = imports.first_errors(stock_import, checked=True)
    assert [(e.number, e.external_id) for e in errors] == [(5, "P0900"), (6, "")]
    text = imports.error_text(errors[0].check_error)
    assert "price: Must be a number." in text
    assert "domain.conditionGrade: Unknown grade 'Q'; use A, B, C or D." in text


def test_duplicate_external_ids_in_the_file_are_invalid_every_time(
    partner_a, committed, broker_messages
):
    stock_import = uploaded(
        partner_a, stock_csv(2, extra="P0001;Igen;100;0;https://x.example/1.jpg;A\n")
    )
    with committed():
        check(partner_a, stock_import)
    run_jobs(broker_messages, committed)
    rows = ImportRow.objects.filter(stock_import=stock_import).order_by("number")
    assert [r.check_outcome for r in rows] == ["invalid", "created", "invalid"]
    assert (
        "on more than one row of the file (lines 2, 4)"
        in rows[0].check_error["fields"]["externalId"][0]
    )


def test_the_check_counts_the_plan_limit_across_chunks(partner_a, committed, broker_messages):
    """The Free plan holds 100 items: 98 are there, so of 120 new rows in two chunks the
    first 2 would be created and the rest refused, as the import would find."""
    subscriptions.change_plan(partner=partner_a, plan_code="free", staff=True)
    limit = subscriptions.plan_of(partner_a).max_active_items
    existing = uploaded(partner_a, stock_csv(limit - 2, start=5000))
    with committed():
        check(partner_a, existing)
    run_jobs(broker_messages, committed)
    with committed():
        start(partner_a, existing)
    run_jobs(broker_messages, committed)
    assert Item.objects.count() == limit - 2

    stock_import = uploaded(partner_a, stock_csv(120))
    with committed():
        check(partner_a, stock_import)
    run_jobs(broker_messages, committed)
    counts = imports.counts_of(fresh(stock_import).check_counts)
    assert (counts["created"], counts["refused"]) == (2, 118)


def test_the_import_runs_in_chunks_of_100_through_the_batch_service(
    partner_a, api_a, committed, broker_messages, clock
):
    subscriptions.change_plan(partner=partner_a, plan_code="enterprise", staff=True)
    api_a.put("P0002", item_body(price=450, shippingCost=149))
    stock_import = uploaded(partner_a, stock_csv(250))
    with committed():
        check(partner_a, stock_import)
    run_jobs(broker_messages, committed)
    broker_messages("images")
    with committed():
        start(partner_a, stock_import)

    # One chunk: 100 rows written with their outcomes in one transaction.
    with committed():
        assert imports._step(stock_import.pk)
    stock_import = fresh(stock_import)
    assert stock_import.position == 101  # the line of the chunk's last row
    assert sum(stock_import.result_counts.values()) == 100
    assert Item.objects.filter(livemode=True).count() == 100

    clock.shift(timedelta(seconds=61))  # the step's lease runs out: the job may be claimed
    with committed():
        imports.run_job(import_id=stock_import.pk)
    stock_import = fresh(stock_import)
    assert stock_import.status == "imported"
    assert imports.counts_of(stock_import.result_counts) == {
        "created": 249,
        "updated": 1,
        "unchanged": 0,
        "stale": 0,
        "invalid": 0,
        "refused": 0,
    }
    assert Item.objects.count() == 250
    updated = Item.objects.get(external_id="P0002")
    assert updated.created_via == "PUT"
    assert updated.activities.filter(message__startswith="Updated by import").exists()
    assert Item.objects.filter(created_via="import").count() == 249
    # The items' image jobs are due, and the partner's tokens were woken (no message per
    # item: partners take turns, see partners.backlog).
    assert Item.objects.filter(processing_due_at__isnull=False).count() == 250
    woken = broker_messages("images")
    assert {name for name, _args in woken} == {"items.process_backlog"}
    # (the clock shift past the grace made the first chunk's tokens count as lost: the
    # second chunk's wake sent them again, under new numbers)
    assert (
        1
        <= len({slot for _name, (_partner, slot, _number) in woken})
        <= (settings.RHEO_BACKLOG_TOKENS)
    )


def test_a_job_whose_worker_died_is_resumed_after_its_lease(
    partner_a, django_capture_on_commit_callbacks, broker_messages, clock
):
    """A worker claimed the import, committed its first chunk and was killed: its nudge is
    gone and its lease runs on. Once the lease and the grace are over, one sweeper pass
    sends the job again; it finishes the rest without redoing the first chunk."""
    committed = lambda: django_capture_on_commit_callbacks(execute=True)  # noqa: E731
    subscriptions.change_plan(partner=partner_a, plan_code="enterprise", staff=True)
    stock_import = uploaded(partner_a, stock_csv(230))
    with committed():
        check(partner_a, stock_import)
    run_jobs(broker_messages, committed)
    with django_capture_on_commit_callbacks(execute=False):  # the nudge is lost
        start(partner_a, stock_import)
    StockImport.objects.update(job_locked_until=timezone.now() + timedelta(seconds=60))
    imports._step(stock_import.pk)  # the dead worker's first chunk, committed

    with committed():
        assert imports.sweep_imports() == 0  # held by the dead worker
    clock.shift(timedelta(seconds=61))
    with committed():
        assert imports.sweep_imports() == 1
    celery_app.loader.import_default_modules()
    assert run_jobs(broker_messages, committed) == ["items.run_stock_import"]

    stock_import = fresh(stock_import)
    assert stock_import.status == "imported"
    assert stock_import.result_counts == {"created": 230}
    assert Item.objects.count() == 230
    assert ItemActivity.objects.filter(message__startswith="Updated").count() == 0


def test_starting_twice_imports_once(partner_a, committed, broker_messages):
    stock_import = uploaded(partner_a, stock_csv(3))
    with committed():
        check(partner_a, stock_import)
    run_jobs(broker_messages, committed)
    with committed():
        start(partner_a, stock_import)
        start(partner_a, stock_import)
    run_jobs(broker_messages, committed)
    with committed():
        assert start(partner_a, stock_import).status == "imported"
    assert run_jobs(broker_messages, committed) == []
    assert fresh(stock_import).result_counts == {"created": 3}


def test_an_unchecked_import_cannot_start(partner_a):
    stock_import = uploaded(partner_a, stock_csv(1))
    with pytest.raises(Exception, match="Check the file before importing it."):
        start(partner_a, stock_import)


def test_the_results_csv_has_one_line_per_row(partner_a, committed, broker_messages):
    stock_import = uploaded(
        partner_a, stock_csv(2, extra="P0003;Spegel;0;0;https://x.example/1.jpg;A\n")
    )
    with committed():
        check(partner_a, stock_import)
    run_jobs(broker_messages, committed)
    with committed():
        start(partner_a, stock_import)
    run_jobs(broker_messages, committed)

    lines = list(
        csv.reader(
            io.StringIO(
                "".join(imports.results_csv(fresh(stock_import), checked=False, errors_only=False))
            )
        )
    )
    items = {item.external_id: str(item.pk) for item in Item.objects.all()}
    assert lines == [
        ["line", "externalId", "outcome", "itemId", "error"],
        ["2", "P0001", "created", items["P0001"], ""],
        ["3", "P0002", "created", items["P0002"], ""],
        [
            "4",
            "P0003",
            "invalid",
            "",
            "1 field is invalid: price. price: Ensure this value is greater than or equal to 1.",
        ],
    ]


def test_another_partners_or_the_other_modes_import_is_not_found(partner_a, partner_b):
    stock_import = uploaded(partner_a, stock_csv(1), livemode=False)
    for partner, livemode in ((partner_b, False), (partner_a, True)):
        with pytest.raises(Exception, match="No import"):
            imports.get_import(partner=partner, livemode=livemode, import_id=stock_import.pk)


def test_a_test_mode_import_writes_test_items(partner_a, committed, broker_messages):
    stock_import = uploaded(partner_a, stock_csv(2), livemode=False)
    with committed():
        check(partner_a, stock_import)
    run_jobs(broker_messages, committed)
    with committed():
        start(partner_a, stock_import)
    run_jobs(broker_messages, committed)
    assert set(Item.objects.values_list("livemode", flat=True)) == {False}


def test_an_xlsx_file_imports_like_its_csv(partner_a, committed, broker_messages):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["SKU", "Name", "Price", "Shipping", "Image 1", "Image 2"])
    sheet.append([1001, "Bromsok", 950, 149, "https://cdn.example.se/1.jpg", None])
    sheet.append(
        [1002, "Spegel", 120.5, 0, "https://cdn.example.se/2.jpg", "https://cdn.example.se/3.jpg"]
    )
    out = io.BytesIO()
    workbook.save(out)
    stock_import = imports.create_import(
        partner=partner_a, livemode=True, name="stock.xlsx", data=out.getvalue()
    )
    assert stock_import.file_format == "XLSX"
    with committed():
        check(partner_a, stock_import)
    run_jobs(broker_messages, committed)
    with committed():
        start(partner_a, stock_import)
    run_jobs(broker_messages, committed)
    items = {item.external_id: item for item in Item.objects.all()}
    assert sorted(items) == ["1001", "1002"]
    assert items["1002"].price == Decimal("120.50")
    assert len(items["1002"].image_urls) == 2


def test_a_cell_that_would_run_as_a_formula_opens_as_text(partner_a, committed, broker_messages):
    stock_import = uploaded(
        partner_a, stock_csv(1, extra='=HYPERLINK("http://evil.example");Spegel;0;0;;A\n')
    )
    with committed():
        check(partner_a, stock_import)
    run_jobs(broker_messages, committed)

    lines = list(
        csv.reader(
            io.StringIO(
                "".join(imports.results_csv(fresh(stock_import), checked=True, errors_only=True))
            )
        )
    )
    assert [line[:3] for line in lines[1:]] == [
        ["3", '\'=HYPERLINK("http://evil.example")', "invalid"]
    ]
