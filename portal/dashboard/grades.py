"""The partner's grade scale: its own condition codes, each with Rheo's grade, the
buyers' text and the Tradera wording (items.grades), edited as one formset."""

import re

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render

from items import grades
from items.models import CANONICAL_GRADES
from portal.dashboard.base import partner_page
from rheo.errors import ServiceError

EXTRA_ROWS = 3


class GradeCodeForm(forms.Form):
    code = forms.CharField(max_length=20, label="Your code")
    canonical = forms.ChoiceField(
        choices=[(g, f"{g}: {grades.BUILTIN[g][0]}") for g in CANONICAL_GRADES],
        label="Rheo's grade",
        initial="A",  # what an empty row's select posts: the row stays unchanged, so empty
    )
    buyer_text = forms.CharField(max_length=200, label="Text for buyers")
    tradera_wording = forms.CharField(max_length=500, label="Tradera wording")


GradeFormSet = forms.formset_factory(
    GradeCodeForm, extra=EXTRA_ROWS, can_delete=True, max_num=grades.MAX_CODES, validate_max=True
)


def _kept(formset) -> list[tuple[int, grades.GradeSpec]]:
    """The filled rows not marked for removal, in the page's order, with their index."""
    kept = []
    for index, form in enumerate(formset.forms):
        if not form.has_changed() or form.cleaned_data.get("DELETE"):
            continue
        data = form.cleaned_data
        spec = grades.GradeSpec(
            data["code"], data["canonical"], data["buyer_text"], data["tradera_wording"]
        )
        kept.append((index, spec))
    return kept


@partner_page
def grade_scale(request):
    if request.method == "POST":
        formset = GradeFormSet(request.POST)
        if formset.is_valid():
            kept = _kept(formset)
            try:
                change = grades.replace_grade_scale(
                    partner=request.partner, grades=[spec for _, spec in kept]
                )
            except ServiceError as exc:
                if not _show_errors(formset, kept, exc):
                    messages.error(request, exc.message)
            else:
                messages.success(request, _saved(change))
                return redirect("dashboard:grade-scale")
    else:
        initial = [
            {
                "code": row.code,
                "canonical": row.canonical,
                "buyer_text": row.buyer_text,
                "tradera_wording": row.tradera_wording,
            }
            for row in grades.codes_of(request.partner)
        ]
        formset = GradeFormSet(initial=initial)
    return render(request, "dashboard/grade_scale.html", {"formset": formset})


def _saved(change: grades.ScaleChange) -> str:
    count = change.affected_items
    codes = f" ({', '.join(change.changed_codes)})" if count else ""
    return (
        f"Grade scale saved. {count} item{'' if count == 1 else 's'} re-described{codes}; "
        "running Tradera auctions keep their text."
    )


def _show_errors(formset, kept, exc: ServiceError) -> bool:
    """The service's field errors (grades[i].code) on the row the partner typed them in;
    False when it named no row."""
    shown = False
    for name, problems in (exc.fields or {}).items():
        found = re.fullmatch(r"grades\[(\d+)\]\.(\w+)", name)
        if not found:
            continue
        shown = True
        index, _spec = kept[int(found[1])]
        field = {"canonicalGrade": "canonical"}.get(found[2], found[2])
        for problem in problems:
            formset.forms[index].add_error(field, problem)
    return shown
