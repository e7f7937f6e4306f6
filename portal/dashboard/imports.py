"""The stock import pages: upload a CSV or XLSX file, map its columns, check it (validate
only), import it, follow its progress (a small JSON endpoint the page polls), download
the check's errors and the import's results as CSV. The services are items.imports."""

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from items.imports import services as imports
from items.imports.files import MAX_FILE_BYTES, MAX_ROWS
from items.imports.mapping import BY_NAME, FIELDS
from items.imports.models import ImportRow, StockImport
from items.models import Item
from portal.dashboard.base import partner_page
from portal.dashboard.forms import ImportDefaultsForm, ImportUploadForm
from rheo.errors import ServiceError
from tradera.models import TraderaListing

SAMPLE_ROWS = 3
RECENT_IMPORTS = 10


@partner_page
def new_import(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            stock_import = imports.create_import(
                partner=request.partner,
                livemode=request.livemode,
                name=upload.name,
                data=upload.read(),
            )
        except ServiceError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("dashboard:stock-import", stock_import.pk)
    recent = StockImport.objects.filter(
        partner=request.partner, livemode=request.livemode
    ).order_by("-created_at")[:RECENT_IMPORTS]
    context = {
        "form": form,
        "recent": recent,
        "max_mb": MAX_FILE_BYTES // 2**20,
        "max_rows": MAX_ROWS,
        "fields": FIELDS,
    }
    return render(request, "dashboard/import.html", context)


def _of_request(request, import_id) -> StockImport:
    try:
        return imports.get_import(
            partner=request.partner, livemode=request.livemode, import_id=import_id
        )
    except ServiceError:
        raise Http404("No such import.") from None


@partner_page
def import_detail(request, import_id):
    stock_import = _of_request(request, import_id)
    samples = list(
        ImportRow.objects.filter(stock_import=stock_import)
        .order_by("number")
        .values_list("cells", flat=True)[:SAMPLE_ROWS]
    )
    columns = [
        {
            "index": index,
            "name": name,
            "field": stock_import.mapping[index] if index < len(stock_import.mapping) else "",
            "samples": [cells[index] for cells in samples if index < len(cells) and cells[index]],
        }
        for index, name in enumerate(stock_import.header)
    ]
    status = stock_import.status
    context = {
        "stock_import": stock_import,
        "columns": columns,
        "fields": FIELDS,
        "defaults_form": ImportDefaultsForm.of(stock_import.defaults),
        "editable": status in (StockImport.Status.MAPPING, StockImport.Status.VALIDATED),
        "check_counts": imports.counts_of(stock_import.check_counts),
        "check_errors": _errors(stock_import, checked=True),
        "result_errors": _errors(stock_import, checked=False),
        "progress": progress(stock_import),
    }
    return render(request, "dashboard/stock_import.html", context)


def _errors(stock_import: StockImport, *, checked: bool) -> list[dict]:
    return [
        {
            "line": row.number,
            "external_id": row.external_id,
            "outcome": row.check_outcome if checked else row.outcome,
            "text": imports.error_text(row.check_error if checked else row.error),
        }
        for row in imports.first_errors(stock_import, checked=checked)
    ]


@require_POST
@partner_page
def check_import(request, import_id):
    stock_import = _of_request(request, import_id)
    mapping = [request.POST.get(f"column-{i}", "") for i in range(len(stock_import.header))]
    mapping = [field if field in BY_NAME else "" for field in mapping]
    defaults_form = ImportDefaultsForm(request.POST)
    if not defaults_form.is_valid():
        for errors in defaults_form.errors.values():
            messages.error(request, " ".join(str(error) for error in errors))
        return redirect("dashboard:stock-import", stock_import.pk)
    try:
        imports.start_check(
            partner=request.partner,
            livemode=request.livemode,
            import_id=stock_import.pk,
            mapping=mapping,
            defaults=defaults_form.defaults(),
        )
    except ServiceError as exc:
        problems = [m for ms in (exc.fields or {}).values() for m in ms] or [exc.message]
        for problem in problems:
            messages.error(request, problem)
    return redirect("dashboard:stock-import", stock_import.pk)


@require_POST
@partner_page
def start_import(request, import_id):
    stock_import = _of_request(request, import_id)
    try:
        imports.start_import(
            partner=request.partner, livemode=request.livemode, import_id=stock_import.pk
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("dashboard:stock-import", stock_import.pk)


def progress(stock_import: StockImport) -> dict:
    """Where the import stands, for the page and its JSON endpoint. In the check phase:
    rows checked. In the import phase and after: rows done, and of the items written or
    confirmed (accepted), those whose images are done (processed: the image job has
    nothing left, so they are active unless an image failed) and those live on Tradera
    (published: the auction is active, or sold since)."""
    checking = stock_import.status in (StockImport.Status.MAPPING, StockImport.Status.VALIDATING)
    counts = stock_import.check_counts if checking else stock_import.result_counts
    total = stock_import.row_count
    done = sum(counts.values())
    body = {
        "status": stock_import.status,
        "phase": "check" if checking or stock_import.status == "validated" else "import",
        "total": total,
        "done": done,
        "counts": imports.counts_of(counts),
        "accepted": 0,
        "processed": 0,
        "published": 0,
        "publishing": 0,
        "settled": not stock_import.is_running,
    }
    if body["phase"] == "import":
        accepted_ids = ImportRow.objects.filter(
            stock_import=stock_import, outcome__in=imports.ACCEPTED
        ).values("item_id")
        items = Item.objects.filter(pk__in=accepted_ids)
        body["accepted"] = sum(imports.counts_of(counts)[o] for o in imports.ACCEPTED)
        body["processed"] = items.filter(processing_due_at__isnull=True).count()
        listings = TraderaListing.objects.filter(item__in=items)
        body["published"] = listings.filter(
            status__in=(TraderaListing.Status.ACTIVE, TraderaListing.Status.SOLD)
        ).count()
        # Still on the way to Tradera: a listing waiting for its publish, or an item that
        # will get one once its images are done.
        body["publishing"] = listings.filter(status=TraderaListing.Status.PENDING_SYNC).count() + (
            items.filter(
                Q(processing_due_at__isnull=False),
                auto_publish_tradera=True,
                tradera_listing__isnull=True,
            ).count()
        )
        body["settled"] = (
            stock_import.status == StockImport.Status.IMPORTED
            and body["processed"] == body["accepted"]
            and body["publishing"] == 0
        )
    return body


@partner_page
def import_progress(request, import_id):
    stock_import = _of_request(request, import_id)
    return JsonResponse(progress(stock_import))


def _csv_response(rows, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@partner_page
def import_errors_csv(request, import_id):
    """Every row the check found invalid or refused."""
    stock_import = _of_request(request, import_id)
    rows = imports.results_csv(stock_import, checked=True, errors_only=True)
    return _csv_response(rows, f"import-{stock_import.pk}-errors.csv")


@partner_page
def import_results_csv(request, import_id):
    """One line per row of the file: what the import did with it."""
    stock_import = _of_request(request, import_id)
    if stock_import.status != StockImport.Status.IMPORTED:
        raise Http404("The import has not finished.")
    rows = imports.results_csv(stock_import, checked=False, errors_only=False)
    return _csv_response(rows, f"import-{stock_import.pk}-results.csv")
