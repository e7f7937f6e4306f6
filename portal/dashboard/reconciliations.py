"""The reconciliation pages: send the complete set of external ids (pasted or a CSV
file), see the preview, apply it (with force when the guard trips), follow its progress.
The same services as POST /integration/v1/reconciliations and …/apply."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from items import reconciliations
from portal.dashboard.base import partner_page
from portal.dashboard.forms import ReconciliationForm
from rheo.errors import ServiceError


@partner_page
def new_reconciliation(request):
    form = ReconciliationForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            reconciliation = reconciliations.preview_reconciliation(
                partner=request.partner,
                livemode=request.livemode,
                external_ids=form.cleaned_data["external_ids"],
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("dashboard:reconciliation", reconciliation.pk)
    context = {"form": form, "max_ids": reconciliations.MAX_IDS}
    return render(request, "dashboard/reconcile.html", context)


def _of_request(request, reconciliation_id):
    try:
        return reconciliations.get_reconciliation(
            partner=request.partner,
            livemode=request.livemode,
            reconciliation_id=reconciliation_id,
        )
    except ServiceError:
        raise Http404("No such reconciliation.") from None


@partner_page
def reconciliation_detail(request, reconciliation_id):
    reconciliation = _of_request(request, reconciliation_id)
    status = reconciliation.display_status(timezone.now())
    total = reconciliation.absent_count
    context = {
        "reconciliation": reconciliation,
        "status": status,
        "percent": round(100 * reconciliation.done_count / total) if total else 100,
        "threshold": settings.RHEO_RECONCILIATION_GUARD_PERCENT,
    }
    return render(request, "dashboard/reconciliation.html", context)


@require_POST
@partner_page
def apply_reconciliation(request, reconciliation_id):
    reconciliation = _of_request(request, reconciliation_id)
    try:
        reconciliations.apply_reconciliation(
            partner=request.partner,
            livemode=request.livemode,
            reconciliation_id=reconciliation.pk,
            force=request.POST.get("force") == "on",
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Applying: the absent items are being de-listed.")
    return redirect("dashboard:reconciliation", reconciliation.pk)
